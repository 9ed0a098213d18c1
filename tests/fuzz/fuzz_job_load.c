/* tests/fuzz/fuzz_job_load.c -- libFuzzer target: any bytes as a job file.
 *
 * The input is loaded from memory (weir_job_load_buffer) and, when it starts
 * with lines "--set KEY=VALUE", those lines become overrides, so the --set
 * path walker is fuzzed too. A job that loads is printed as a plan; every
 * diagnostic is formatted. Everything is freed: under ASan/LSan the target
 * must never crash or leak (jobs/job_load.c, job_validate.c, yaml_tree.c).
 * Seed corpus: the job files in examples/ and tests/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/diag.h"
#include "jobs/job.h"
#include "jobs/plan_print.h"

#define MAX_OVERRIDES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    weir_job_override ov[MAX_OVERRIDES];
    size_t n_ov = 0, off = 0;
    while (n_ov < MAX_OVERRIDES && size - off > 6 && memcmp(text + off, "--set ", 6) == 0) {
        char *line = text + off + 6;
        char *nl = memchr(line, '\n', size - (off + 6));
        if (!nl) break;
        *nl = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            ov[n_ov].key = line;
            ov[n_ov].value = eq + 1;
            n_ov++;
        }
        off = (size_t)(nl + 1 - text);
    }

    weir_diag diag;
    weir_diag_init(&diag, "fuzz.yaml");
    weir_job *job = weir_job_load_buffer("fuzz.yaml", text + off, size - off, ov, n_ov, &diag);
    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        if (job) weir_plan_print(job, sink);
        weir_diag_print(&diag, sink);
        fclose(sink);
    }
    weir_job_free(job);
    weir_diag_fini(&diag);
    free(text);
    return 0;
}
