/* jobs/cmd_run.c -- `weir run JOB.yaml`: load, plan and run one job in the
 * foreground (SPEC §1, §5).
 *
 * Steps: parse options -> load and validate the job (errors: exit 2) ->
 * resolve the state dir ($WEIR_HOME/jobs/NAME unless --state-dir) -> build the
 * plan (an input that cannot be opened: exit 1) -> run until the input ends or
 * SIGINT/SIGTERM (sources stop reading, nothing fires early, sinks are
 * flushed: exit 0) -> log a summary.
 * A second SIGINT/SIGTERM while stopping exits at once (status 1).
 * A job writing to Kafka opens its one producer before its checkpoints: with
 * exactly-once output the restore point is the newest checkpoint whose marker
 * Kafka shows committed (DESIGN §5, connectors/kafka_output.h). */
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
#include "connectors/kafka_output.h"
#include "jobs/kafka_plan.h"
#include "engine/dead_letter.h"
#include "engine/log.h"
#include "engine/runtime.h"
#include "jobs/cli.h"
#include "jobs/checkpointing.h"
#include "state/state_dir.h"
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
    int fresh = 0, savepoint_on_exit = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': fresh = 1; break;
        case 'x': savepoint_on_exit = 1; break;
        case 'p': savepoint = optarg; break;
        case 'd': state_dir_opt = optarg; break;
        case 's':
            if (weir_cli_add_override("run", &ov, &n_ov, optarg) < 0) {
                free(ov);
                return WEIR_EXIT_USAGE;
            }
            break;
        case 'h':
            weir_cli_usage("run", stdout);
            free(ov);
            return WEIR_EXIT_OK;
        default:
            free(ov);
            return weir_cli_usage_error("run", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        free(ov);
        return weir_cli_usage_error("run", "expected exactly one JOB.yaml");
    }
    if (savepoint && fresh) {
        fprintf(stderr, "weir run: --fresh and --from-savepoint exclude each other\n");
        free(ov);
        return WEIR_EXIT_USAGE;
    }
    const char *path = argv[optind];
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
    weir_job_checkpoints *ckpts = NULL;
    weir_kafka_output *kafka_out = NULL;
    weir_state_dir *lock = NULL;
    weir_error err = {0};
    char *state_dir = NULL;
    if (weir_state_dir_resolve(state_dir_opt, job->name, &state_dir, &err) < 0 ||
        !(lock = weir_state_dir_open(state_dir, job->name, &err))) {
        weir_log(WEIR_LOG_ERROR, job->name, "state dir: %s", err.msg);
        goto done;
    }
    bool exactly_once = weir_kafka_plan_exactly_once(job);
    uint64_t committed_id = 0;
    if (weir_kafka_plan_has_output(job)) {
        kafka_out = weir_kafka_plan_open_output(job, &err);
        if (!kafka_out) {
            weir_log(WEIR_LOG_ERROR, job->name, "kafka output: %s", err.msg);
            exit_code = err.code == WEIR_EINVAL ? WEIR_EXIT_USAGE : WEIR_EXIT_FAILURE;
            goto done;
        }
        if (exactly_once && (fresh || savepoint)) {
            /* Markers of the previous run name checkpoints --fresh deleted or a
             * savepoint replaces: a crash before this run's first commit must
             * not restore them (kafka_output.h). */
            if (weir_kafka_output_forget_checkpoints(kafka_out, &err) < 0) {
                weir_log(WEIR_LOG_ERROR, job->name, "resetting the checkpoint markers: %s", err.msg);
                goto done;
            }
        } else if (exactly_once) {
            if (weir_kafka_output_committed_checkpoint(kafka_out, &committed_id, &err) < 0) {
                weir_log(WEIR_LOG_ERROR, job->name, "reading the checkpoint markers: %s", err.msg);
                goto done;
            }
            weir_log(WEIR_LOG_INFO, job->name, "exactly-once: newest checkpoint committed in Kafka: %llu%s",
                     (unsigned long long)committed_id, committed_id ? "" : " (none: starting from scratch)");
        }
    }
    weir_job_checkpoint_options copts = {
        .exactly_once = exactly_once,
        .committed_id = committed_id,
        .state_dir = state_dir,
        .fresh = fresh,
        .from_savepoint = savepoint,
        .savepoint_on_exit = savepoint_on_exit,
        .show_progress = isatty(2),
    };
    bool already_finished = false;
    ckpts = weir_job_checkpoints_open(job, &copts, &already_finished, &err);
    if (!ckpts) {
        weir_log(WEIR_LOG_ERROR, job->name, "%s", err.msg);
        exit_code = err.code == WEIR_EINVAL ? WEIR_EXIT_USAGE : WEIR_EXIT_FAILURE;
        goto done;
    }
    if (already_finished) {
        /* SPEC §5: a bounded job run again after it finished writes nothing new. */
        weir_log(WEIR_LOG_INFO, job->name,
                 "already finished (checkpoint %llu): every input was read to its end; nothing new to write "
                 "(run with --fresh to start over)",
                 (unsigned long long)weir_job_checkpoints_restored_id(ckpts));
        exit_code = WEIR_EXIT_OK;
        goto done;
    }
    weir_plan_options popts = {.state_dir = state_dir,
                               .sink_lengths = weir_job_checkpoints_sink_lengths(ckpts),
                               .kafka_output = kafka_out,
                               .exactly_once = exactly_once};
    plan = weir_plan_build(job, &popts, &err);
    if (!plan) {
        weir_log(WEIR_LOG_ERROR, job->name, "%s", err.msg);
        exit_code = err.code == WEIR_EINVAL ? WEIR_EXIT_USAGE : WEIR_EXIT_FAILURE;
        goto done;
    }
    const weir_checkpoint_hooks *hooks = weir_job_checkpoints_hooks(ckpts, weir_plan_graph(plan));
    weir_plan_set_checkpoints(plan, hooks);
    if (kafka_out && weir_kafka_output_start(kafka_out, hooks ? hooks->first_id : 1, &err) < 0) {
        weir_log(WEIR_LOG_ERROR, job->name, "kafka output: %s", err.msg);
        goto done;
    }
    if (weir_job_checkpoints_restored_id(ckpts))
        weir_log(WEIR_LOG_INFO, job->name, "resuming from %s %llu", savepoint ? "savepoint" : "checkpoint",
                 (unsigned long long)weir_job_checkpoints_restored_id(ckpts));
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
    if (weir_job_checkpoints_savepoint_path(ckpts))
        printf("savepoint: %s\n", weir_job_checkpoints_savepoint_path(ckpts));
    exit_code = WEIR_EXIT_OK;
done:
    weir_plan_free(plan);
    if (kafka_out)
        weir_kafka_output_free(kafka_out);
    weir_job_checkpoints_close(ckpts);
    weir_state_dir_close(lock);
    weir_job_free(job);
    free(state_dir);
    return exit_code;
}
