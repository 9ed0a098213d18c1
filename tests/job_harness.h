/* tests/job_harness.h -- loads job-file text for job_load_test.c,
 * job_validate_test.c and job_set_test.c.
 *
 * jh_load() writes the text into a fresh temp file, loads it with the given
 * overrides and keeps the diagnostics; jh_out() returns exactly what
 * weir_diag_print writes (sorted, one "job.yaml:LINE:COL: message" per line),
 * so a test asserts the full output: every error, in one run, and nothing more.
 * The diag is initialised with the name "job.yaml" whatever the temp path. */
#ifndef WEIR_TESTS_JOB_HARNESS_H
#define WEIR_TESTS_JOB_HARNESS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/diag.h"
#include "jobs/job.h"

typedef struct jh {
    weir_job *job;
    weir_diag diag;
    char path[64];
    char *out;   /* weir_diag_print output */
} jh;

static inline void jh_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static inline jh *jh_load_set(const char *text, const weir_job_override *ov, size_t n) {
    jh *h = calloc(1, sizeof *h);
    cr_assert(h);
    snprintf(h->path, sizeof h->path, "/tmp/weir-jobtest-XXXXXX");
    int fd = mkstemp(h->path);
    cr_assert(fd >= 0);
    close(fd);
    jh_write(h->path, text);
    weir_diag_init(&h->diag, "job.yaml");
    h->job = weir_job_load(h->path, ov, n, &h->diag);
    size_t len = 0;
    FILE *m = open_memstream(&h->out, &len);
    weir_diag_print(&h->diag, m);
    fclose(m);
    return h;
}

static inline jh *jh_load(const char *text) { return jh_load_set(text, NULL, 0); }

static inline void jh_free(jh *h) {
    if (!h) return;
    weir_job_free(h->job);
    weir_diag_fini(&h->diag);
    unlink(h->path);
    free(h->out);
    free(h);
}

/* Asserts the job loaded (no error) and returns it. */
static inline weir_job *jh_ok(jh *h) {
    cr_assert(h->job != NULL, "expected the job to load; diagnostics:\n%s", h->out);
    cr_assert_eq(h->diag.n_errors, 0);
    return h->job;
}

/* Asserts the load failed with exactly this diagnostic output. */
static inline void jh_expect(jh *h, const char *expected) {
    cr_assert_str_eq(h->out, expected, "diagnostics differ.\n--- got:\n%s--- expected:\n%s",
                     h->out, expected);
    cr_assert_null(h->job, "a job with errors must not load");
}

/* A minimal valid job, for tests that change one piece. */
#define JH_SOURCE "sources:\n  clicks:\n    file: { path: in.jsonl }\n    event_time: { field: ts }\n"
#define JH_SINK "sinks:\n  out:\n    from: clicks\n    stdout: {}\n"

#endif
