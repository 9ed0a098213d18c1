/* jobs/cmd_validate.c -- `weir validate JOB.yaml`: print the plan, or every
 * error as FILE:LINE:COL: message and exit 2 (SPEC §1, §2). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/cli.h"
#include "jobs/job.h"
#include "jobs/plan_print.h"

int weir_cmd_validate(int argc, char **argv) {
    static const struct option options[] = {
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    weir_job_override *ov = NULL;
    size_t n_ov = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 's') {
            if (weir_cli_add_override("validate", &ov, &n_ov, optarg) < 0) {
                free(ov);
                return WEIR_EXIT_USAGE;
            }
        } else if (opt == 'h') {
            weir_cli_usage("validate", stdout);
            free(ov);
            return WEIR_EXIT_OK;
        } else {
            free(ov);
            return weir_cli_usage_error("validate", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        free(ov);
        return weir_cli_usage_error("validate", "expected exactly one JOB.yaml");
    }
    const char *path = argv[optind];
    weir_diag diag;
    weir_diag_init(&diag, path);
    weir_job *job = weir_job_load(path, ov, n_ov, &diag);
    free(ov);
    weir_diag_print(&diag, stderr);
    weir_diag_fini(&diag);
    if (!job)
        return WEIR_EXIT_USAGE;
    weir_plan_print(job, stdout);
    weir_job_free(job);
    return WEIR_EXIT_OK;
}
