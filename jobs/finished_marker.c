/* jobs/finished_marker.c -- the "bounded job finished" marker (see
 * finished_marker.h). Format, one item per line:
 *     weir-finished 1
 *     plan <16 hex digits>
 *     input <device> <inode> <size_bytes> <mtime_ns>      (one line per input)
 */
#include "jobs/finished_marker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

uint64_t weir_finished_marker_fingerprint(const char *job_path, const char *const *overrides,
                                          size_t n_overrides, weir_error *err) {
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    FILE *f = fopen(job_path, "rb");
    if (f) {
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            XXH3_64bits_update(st, buf, n);
        fclose(f);
    } else {
        weir_error_sys(err, WEIR_EIO, errno, "cannot read %s", job_path);
    }
    for (size_t i = 0; i < n_overrides; i++)
        XXH3_64bits_update(st, overrides[i], strlen(overrides[i]) + 1);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static void marker_path(char *out, size_t cap, const char *state_dir, const char *name) {
    snprintf(out, cap, "%s/%s", state_dir, name);
}

int weir_finished_marker_check(const char *state_dir, const weir_finished_marker *m, char *why, size_t why_len) {
    char path[4096];
    marker_path(path, sizeof path, state_dir, "finished");
    FILE *f = fopen(path, "r");
    if (!f)
        return WEIR_MARKER_NONE;
    weir_finished_marker old = {0};
    char line[256];
    int version = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long a, b, d;
        long long c;
        if (sscanf(line, "weir-finished %d", &version) == 1)
            continue;
        if (sscanf(line, "plan %llx", &a) == 1)
            old.plan_fingerprint = a;
        else if (sscanf(line, "input %llu %llu %lld %llu", &a, &b, &c, &d) == 4 && old.n_inputs < 64) {
            weir_file_identity *id = &old.inputs[old.n_inputs++];
            id->device = a;
            id->inode = b;
            id->size_bytes = c;
            id->mtime_ns = (int64_t)d;
        }
    }
    fclose(f);
    if (version != 1) {
        snprintf(why, why_len, "the state dir holds an unreadable marker %s", path);
        return WEIR_MARKER_DIFFERS;
    }
    if (old.plan_fingerprint != m->plan_fingerprint) {
        snprintf(why, why_len, "the job file or its --set overrides changed since the job finished");
        return WEIR_MARKER_DIFFERS;
    }
    if (old.n_inputs != m->n_inputs) {
        snprintf(why, why_len, "the job's inputs changed since it finished");
        return WEIR_MARKER_DIFFERS;
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        if (memcmp(&old.inputs[i], &m->inputs[i], sizeof old.inputs[i]) != 0) {
            snprintf(why, why_len, "input file %zu changed (device, inode, size or mtime) since the job finished",
                     i + 1);
            return WEIR_MARKER_DIFFERS;
        }
    }
    return WEIR_MARKER_MATCHES;
}

int weir_finished_marker_write(const char *state_dir, const weir_finished_marker *m, weir_error *err) {
    char tmp[4096], path[4096];
    marker_path(tmp, sizeof tmp, state_dir, "finished.tmp");
    marker_path(path, sizeof path, state_dir, "finished");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "cannot write %s", tmp);
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "weir-finished 1\nplan %016" PRIx64 "\n", m->plan_fingerprint);
    for (size_t i = 0; i < m->n_inputs && n < (int)sizeof buf; i++) {
        const weir_file_identity *id = &m->inputs[i];
        n += snprintf(buf + n, sizeof buf - (size_t)n, "input %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 "\n",
                      id->device, id->inode, id->size_bytes, id->mtime_ns);
    }
    if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        return weir_error_sys(err, WEIR_EIO, e, "cannot write %s", tmp);
    }
    close(fd);
    if (rename(tmp, path) < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "cannot rename %s", tmp);
    int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int weir_finished_marker_remove(const char *state_dir, weir_error *err) {
    char path[4096];
    marker_path(path, sizeof path, state_dir, "finished");
    if (unlink(path) < 0 && errno != ENOENT)
        return weir_error_sys(err, WEIR_EIO, errno, "cannot remove %s", path);
    return 0;
}
