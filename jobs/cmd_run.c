/* jobs/cmd_run.c -- `weir run JOB.yaml`: load, plan and run one job in the
 * foreground (SPEC §1, §5).
 *
 * Steps: parse options -> load and validate the job (errors: exit 2) ->
 * resolve the state dir ($WEIR_HOME/jobs/NAME unless --state-dir) -> build the
 * plan (an input that cannot be opened: exit 1) -> run until the input ends or
 * SIGINT/SIGTERM (sources stop reading, nothing fires early, sinks are
 * flushed: exit 0) -> log a summary.
 * A second SIGINT/SIGTERM while stopping exits at once (status 1).
 * Known limits: checkpoints, --fresh, savepoints arrive with the state issue;
 * --fresh is accepted (every run is fresh until then). */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connectors/fd_sink.h"
#include "engine/dead_letter.h"
#include "engine/log.h"
#include "engine/runtime.h"
#include "jobs/cli.h"
#include "jobs/finished_marker.h"
#include "jobs/job.h"
#include "jobs/plan.h"

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig) {
    (void)sig;
    if (signals_seen++ > 0) {
        static const char msg[] = "weir: second signal, exiting without flushing\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(WEIR_EXIT_FAILURE);
    }
    weir_runtime_request_stop();
}

/* Parses the options common to run and validate: --set into overrides. */
static int add_override(weir_job_override **ov, size_t *n, char *arg) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "weir: --set %s: expected KEY=VALUE\n", arg);
        return -1;
    }
    *eq = '\0';
    weir_job_override *next = realloc(*ov, (*n + 1) * sizeof *next);
    if (!next)
        return -1;
    next[*n].key = arg;
    next[*n].value = eq + 1;
    *ov = next;
    (*n)++;
    return 0;
}

static char *default_state_dir(const char *job_name) {
    const char *home = getenv("WEIR_HOME");
    char base[4096];
    if (home && *home) {
        snprintf(base, sizeof base, "%s", home);
    } else {
        const char *h = getenv("HOME");
        snprintf(base, sizeof base, "%s/.local/share/weir", h && *h ? h : ".");
    }
    size_t len = strlen(base) + strlen(job_name) + 8;
    char *dir = malloc(len);
    if (dir)
        snprintf(dir, len, "%s/jobs/%s", base, job_name);
    return dir;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int weir_cmd_run(int argc, char **argv) {
    static const struct option options[] = {
        {"fresh", no_argument, NULL, 'f'},
        {"from-savepoint", required_argument, NULL, 'p'},
        {"savepoint-on-exit", no_argument, NULL, 'x'},
        {"state-dir", required_argument, NULL, 'd'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    weir_job_override *ov = NULL;
    size_t n_ov = 0;
    const char *state_dir_opt = NULL, *savepoint = NULL;
    int fresh = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': fresh = 1; break;
        case 'x': break;
        case 'p': savepoint = optarg; break;
        case 'd': state_dir_opt = optarg; break;
        case 's':
            if (add_override(&ov, &n_ov, optarg) < 0) {
                free(ov);
                return WEIR_EXIT_USAGE;
            }
            break;
        case 'h':
            weir_cli_usage("run", stdout);
            free(ov);
            return WEIR_EXIT_OK;
        default:
            fprintf(stderr, "weir run: unknown or incomplete option '%s'\n\n", argv[optind - 1]);
            weir_cli_usage("run", stderr);
            free(ov);
            return WEIR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "weir run: expected exactly one JOB.yaml\n\n");
        weir_cli_usage("run", stderr);
        free(ov);
        return WEIR_EXIT_USAGE;
    }
    if (savepoint) {
        fprintf(stderr, "weir run: --from-savepoint is not supported by this version yet\n");
        free(ov);
        return WEIR_EXIT_USAGE;
    }
    const char *path = argv[optind];
    /* The plan fingerprint covers the job file and every override (SPEC §5). */
    char **ov_text = calloc(n_ov + 1, sizeof *ov_text);
    for (size_t i = 0; ov_text && i < n_ov; i++) {
        size_t len = strlen(ov[i].key) + strlen(ov[i].value) + 2;
        if ((ov_text[i] = malloc(len)))
            snprintf(ov_text[i], len, "%s=%s", ov[i].key, ov[i].value);
    }
    weir_finished_marker marker = {0};
    marker.plan_fingerprint = weir_finished_marker_fingerprint(path, (const char *const *)ov_text, n_ov, NULL);
    for (size_t i = 0; ov_text && i < n_ov; i++)
        free(ov_text[i]);
    free(ov_text);
    weir_diag diag;
    weir_diag_init(&diag, path);
    weir_job *job = weir_job_load(path, ov, n_ov, &diag);
    free(ov);
    if (!job) {
        weir_diag_print(&diag, stderr);
        weir_diag_fini(&diag);
        return WEIR_EXIT_USAGE;
    }
    weir_diag_print(&diag, stderr); /* warnings */
    weir_diag_fini(&diag);

    int exit_code = WEIR_EXIT_FAILURE;
    weir_plan *plan = NULL;
    weir_error err = {0};
    char *state_dir = state_dir_opt ? strdup(state_dir_opt) : default_state_dir(job->name);
    if (!state_dir || weir_fd_sink_mkdirs(state_dir, &err) < 0) {
        weir_log(WEIR_LOG_ERROR, job->name, "state dir: %s", err.msg);
        goto done;
    }
    /* A bounded job that already finished writes nothing new (SPEC §5); a job
     * reading stdin never resumes. */
    bool resumable = true;
    for (size_t i = 0; i < job->n_sources; i++) {
        if (job->sources[i].kind != WEIR_CONN_FILE) {
            resumable = false;
            continue;
        }
        struct stat st;
        if (stat(job->sources[i].path, &st) == 0 && marker.n_inputs < 64) {
            weir_file_identity *id = &marker.inputs[marker.n_inputs++];
            id->device = (uint64_t)st.st_dev;
            id->inode = (uint64_t)st.st_ino;
            id->size_bytes = (int64_t)st.st_size;
            id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
    }
    if (fresh && weir_finished_marker_remove(state_dir, &err) < 0) {
        weir_log(WEIR_LOG_ERROR, job->name, "%s", err.msg);
        goto done;
    }
    if (resumable) {
        char why[256] = "";
        int m = weir_finished_marker_check(state_dir, &marker, why, sizeof why);
        if (m == WEIR_MARKER_MATCHES) {
            weir_log(WEIR_LOG_INFO, job->name,
                     "already finished: every input was read to its end; nothing new to write "
                     "(run with --fresh to start over)");
            exit_code = WEIR_EXIT_OK;
            goto done;
        }
        if (m == WEIR_MARKER_DIFFERS) {
            weir_log(WEIR_LOG_ERROR, job->name,
                     "cannot resume from %s: %s; run with --fresh to discard the job's state and output",
                     state_dir, why);
            exit_code = WEIR_EXIT_USAGE;
            goto done;
        }
    }
    weir_plan_options popts = {.state_dir = state_dir};
    plan = weir_plan_build(job, &popts, &err);
    if (!plan) {
        weir_log(WEIR_LOG_ERROR, job->name, "%s", err.msg);
        exit_code = err.code == WEIR_EINVAL ? WEIR_EXIT_USAGE : WEIR_EXIT_FAILURE;
        goto done;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    weir_log(WEIR_LOG_INFO, job->name, "running with parallelism %u (max_parallelism %u), state dir %s",
             job->parallelism, job->max_parallelism, state_dir);
    double t0 = now_s();
    weir_run_stats stats = {0};
    int rc = weir_runtime_run(weir_plan_graph(plan), &stats, &err);
    double secs = now_s() - t0;
    if (rc < 0) {
        weir_log(WEIR_LOG_ERROR, job->name, "job failed: %s", err.msg);
        goto done;
    }
    uint64_t n_dead = 0;
    char dl_text[256] = "";
    size_t off = 0;
    for (int r = 0; r < WEIR_DL_N_REASONS; r++) {
        n_dead += stats.dead_letters[r];
        if (stats.dead_letters[r] && off < sizeof dl_text)
            off += (size_t)snprintf(dl_text + off, sizeof dl_text - off, "%s%s=%llu", off ? ", " : "",
                                    weir_dead_letter_reason_name(r), (unsigned long long)stats.dead_letters[r]);
    }
    weir_log(WEIR_LOG_INFO, job->name, "%s: %llu records in (%.1f MB) in %.2f s (%.0f records/s), %llu out",
             stats.stopped ? "stopped" : "finished", (unsigned long long)stats.records_in, stats.bytes_in / 1e6, secs,
             secs > 0 ? stats.records_in / secs : 0.0, (unsigned long long)stats.records_out);
    if (n_dead)
        weir_log(WEIR_LOG_WARN, job->name, "%llu dead letters (%s) in %s", (unsigned long long)n_dead, dl_text,
                 weir_plan_dead_letter_target(plan));
    if (resumable && !stats.stopped && weir_finished_marker_write(state_dir, &marker, &err) < 0) {
        weir_log(WEIR_LOG_ERROR, job->name, "%s", err.msg);
        goto done;
    }
    exit_code = WEIR_EXIT_OK;
done:
    weir_plan_free(plan);
    weir_job_free(job);
    free(state_dir);
    return exit_code;
}
