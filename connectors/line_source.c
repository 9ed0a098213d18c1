/* connectors/line_source.c -- line-delimited input from a file or stdin (see
 * line_source.h for the rules and invariants). */
#include "connectors/line_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BYTES (256u * 1024u)

struct weir_line_source {
    int fd;
    bool is_stdin;
    bool eof;
    bool at_start;          /* nothing consumed yet: a BOM may follow */
    char *buf;              /* owned */
    size_t cap;             /* bytes allocated */
    size_t start, end;      /* unread bytes: [start, end) (1) */
    int64_t base_offset;    /* input offset of buf[0] */
    weir_line *lines;       /* owned */
    size_t lines_cap;
    weir_file_identity identity;
    char *path;             /* owned, for messages */
};

static weir_line_source *alloc_source(int fd, bool is_stdin, const char *path) {
    weir_line_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->is_stdin = is_stdin;
    s->at_start = true;
    s->cap = READ_BYTES * 2;
    s->buf = malloc(s->cap);
    s->lines_cap = 4096;
    s->lines = malloc(s->lines_cap * sizeof *s->lines);
    s->path = strdup(path);
    if (!s->buf || !s->lines || !s->path) {
        free(s->buf);
        free(s->lines);
        free(s->path);
        free(s);
        return NULL;
    }
    return s;
}

weir_line_source *weir_line_source_open_file(const char *path, weir_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        weir_error_sys(err, WEIR_EIO, errno, "cannot open input file %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        weir_error_set(err, WEIR_EIO, "input %s is a directory, not a file", path);
        return NULL;
    }
    weir_line_source *s = alloc_source(fd, false, path);
    if (!s) {
        close(fd);
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    s->identity.device = (uint64_t)st.st_dev;
    s->identity.inode = (uint64_t)st.st_ino;
    s->identity.size_bytes = (int64_t)st.st_size;
    s->identity.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return s;
}

weir_line_source *weir_line_source_open_stdin(weir_error *err) {
    weir_line_source *s = alloc_source(0, true, "stdin");
    if (!s)
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
    return s;
}

weir_file_identity weir_line_source_identity(const weir_line_source *s) { return s->identity; }

/* Reads once into the free space after end. Returns bytes read (0 at EOF), or
 * WEIR_EAGAIN (stdin without data), or WEIR_EIO. */
static ssize_t fill(weir_line_source *s, weir_error *err) {
    if (s->start > 0) { /* (1): move the partial line to the front */
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->base_offset += (int64_t)s->start;
        s->end -= s->start;
        s->start = 0;
    }
    if (s->cap - s->end < READ_BYTES / 2) {
        if (s->cap >= WEIR_LINE_MAX_BYTES) {
            weir_error_set(err, WEIR_EIO, "%s: a line at offset %lld is longer than %u bytes", s->path,
                           (long long)s->base_offset, WEIR_LINE_MAX_BYTES);
            return WEIR_EIO;
        }
        char *nb = realloc(s->buf, s->cap * 2); /* (2) */
        if (!nb) {
            weir_error_set(err, WEIR_ENOMEM, "out of memory reading %s", s->path);
            return WEIR_ENOMEM;
        }
        s->buf = nb;
        s->cap *= 2;
    }
    if (s->is_stdin) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, 0);
        if (r == 0)
            return WEIR_EAGAIN; /* (3) */
    }
    for (;;) {
        size_t want = s->cap - s->end;
        ssize_t n = read(s->fd, s->buf + s->end, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return WEIR_EAGAIN;
        if (n < 0) {
            weir_error_sys(err, WEIR_EIO, errno, "cannot read %s", s->path);
            return WEIR_EIO;
        }
        s->end += (size_t)n;
        return n;
    }
}

static int add_line(weir_line_source *s, size_t n, const char *data, size_t len) {
    if (n == s->lines_cap) {
        weir_line *nl = realloc(s->lines, s->lines_cap * 2 * sizeof *nl);
        if (!nl)
            return WEIR_ENOMEM;
        s->lines = nl;
        s->lines_cap *= 2;
    }
    if (len > 0 && data[len - 1] == '\r')
        len--; /* CRLF: the '\r' is part of the terminator */
    s->lines[n] = (weir_line){
        .data = data,
        .len = (uint32_t)len,
        .partition = 0,
        .offset = s->base_offset + (int64_t)(data - s->buf),
    }; /* no key, no timestamp */
    return 0;
}

static int next_chunk(void *arg, weir_chunk *out, weir_error *err) {
    weir_line_source *s = arg;
    for (;;) {
        if (s->at_start && s->end - s->start >= 3) {
            if (memcmp(s->buf + s->start, "\xEF\xBB\xBF", 3) == 0)
                s->start += 3;
            s->at_start = false;
        }
        /* Hand out every complete line in [start, end). */
        const char *p = s->buf + s->start, *end = s->buf + s->end;
        size_t n = 0;
        const char *block = p;
        if (!s->at_start || s->eof) {
            for (;;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl)
                    break;
                if (add_line(s, n++, p, (size_t)(nl - p)) < 0)
                    return weir_error_set(err, WEIR_ENOMEM, "out of memory");
                p = nl + 1;
            }
            if (s->eof && p < end) { /* a last line without '\n' */
                if (add_line(s, n++, p, (size_t)(end - p)) < 0)
                    return weir_error_set(err, WEIR_ENOMEM, "out of memory");
                p = end;
            }
        }
        if (n > 0) {
            out->lines = s->lines;
            out->n_lines = n;
            out->block = block;
            out->block_len = (size_t)(p - block);
            s->start = (size_t)(p - s->buf);
            return 1;
        }
        if (s->eof) {
            s->at_start = false;
            return 0;
        }
        ssize_t r = fill(s, err);
        if (r == WEIR_EAGAIN)
            return WEIR_EAGAIN;
        if (r < 0)
            return (int)r;
        if (r == 0) {
            s->eof = true;
            if (s->at_start && s->end - s->start < 3)
                s->at_start = false; /* too short for a BOM */
        }
    }
}

static void wait_input(void *arg, int timeout_ms) {
    weir_line_source *s = arg;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    poll(&p, 1, timeout_ms);
}

static uint32_t n_partitions(const void *arg) {
    (void)arg;
    return 1;
}

static void source_free(void *arg) {
    weir_line_source *s = arg;
    if (!s)
        return;
    if (!s->is_stdin && s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->lines);
    free(s->path);
    free(s);
}

static int64_t position(const void *arg, uint32_t partition) {
    const weir_line_source *s = arg;
    (void)partition;
    return s->base_offset + (int64_t)s->start;
}

static int seek_to(void *arg, uint32_t partition, int64_t next_offset, weir_error *err) {
    weir_line_source *s = arg;
    (void)partition;
    if (s->is_stdin)
        return weir_error_set(err, WEIR_EINVAL, "stdin cannot resume from a checkpoint");
    if (next_offset < 0 || lseek(s->fd, next_offset, SEEK_SET) < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "cannot seek %s to offset %lld", s->path,
                              (long long)next_offset);
    s->base_offset = next_offset;
    s->start = s->end = 0;
    s->eof = false;
    s->at_start = next_offset == 0; /* a BOM only at the very start */
    return 0;
}

const weir_source_vt weir_line_source_vt = {
    .next_chunk = next_chunk,
    .wait = wait_input,
    .n_partitions = n_partitions,
    .free = source_free,
    .position = position,
    .seek = seek_to,
};
