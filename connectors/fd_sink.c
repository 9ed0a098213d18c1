/* connectors/fd_sink.c -- JSON-lines output to a file or stdout (see fd_sink.h). */
#include "connectors/fd_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct weir_fd_sink {
    int fd;
    bool is_stdout;
    char *path;   /* owned, for messages */
};

int weir_fd_sink_mkdirs(const char *dir, weir_error *err) {
    char *p = strdup(dir);
    if (!p)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                weir_error_sys(err, WEIR_EIO, e, "cannot create directory %s", p);
                free(p);
                return WEIR_EIO;
            }
            p[i] = c;
        }
    }
    free(p);
    return 0;
}

weir_fd_sink *weir_fd_sink_open_file(const char *path, int make_dirs, int64_t keep_bytes, weir_error *err) {
    if (make_dirs) {
        char *dir = strdup(path);
        if (!dir) {
            weir_error_set(err, WEIR_ENOMEM, "out of memory");
            return NULL;
        }
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (weir_fd_sink_mkdirs(dir, err) < 0) {
                free(dir);
                return NULL;
            }
        }
        free(dir);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        weir_error_sys(err, WEIR_EIO, errno, "cannot open output file %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (S_ISREG(st.st_mode) && st.st_size < keep_bytes)) {
        weir_error_set(err, WEIR_ESTATE,
                       "output file %s is shorter (%lld bytes) than its checkpointed length (%lld bytes): it was "
                       "changed outside weir; run with --fresh to start over",
                       path, (long long)st.st_size, (long long)keep_bytes);
        close(fd);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (ftruncate(fd, keep_bytes) < 0 || lseek(fd, keep_bytes, SEEK_SET) < 0)) {
        weir_error_sys(err, WEIR_EIO, errno, "cannot truncate output file %s", path);
        close(fd);
        return NULL;
    }
    weir_fd_sink *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        close(fd);
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    s->fd = fd;
    return s;
}

weir_fd_sink *weir_fd_sink_open_stdout(weir_error *err) {
    weir_fd_sink *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup("stdout"))) {
        free(s);
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    s->fd = 1;
    s->is_stdout = true;
    return s;
}

static int sink_write(void *arg, const char *bytes, size_t n_bytes, weir_error *err) {
    weir_fd_sink *s = arg;
    while (n_bytes > 0) { /* (1) */
        ssize_t w = write(s->fd, bytes, n_bytes);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return weir_error_sys(err, WEIR_EIO, errno, "cannot write %s", s->path);
        bytes += w;
        n_bytes -= (size_t)w;
    }
    return 0;
}

static int sink_flush(void *arg, weir_error *err) {
    weir_fd_sink *s = arg;
    if (s->is_stdout)
        return 0; /* (2) */
    if (fsync(s->fd) < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "cannot fsync %s", s->path);
    return 0;
}

static void sink_free(void *arg) {
    weir_fd_sink *s = arg;
    if (!s)
        return;
    if (!s->is_stdout && s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

const weir_sink_vt weir_fd_sink_vt = {
    .write = sink_write,
    .flush = sink_flush,
    .free = sink_free,
};
