/* engine/buf.h -- a growable byte buffer (output lines, canonical encodings).
 *
 * Invariants: (1) data[len] is always '\0' once anything was appended, so a
 * buffer of text can be printed as a C string; (2) growth doubles, so appends
 * are amortised O(1); (3) out of memory aborts (like the arena).
 * Thread: one owner at a time. */
#ifndef WEIR_ENGINE_BUF_H
#define WEIR_ENGINE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct weir_buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated, excluding the terminating NUL */
} weir_buf;

#define WEIR_BUF_INIT {NULL, 0, 0}

/* Makes room for at least extra_bytes more; never fails (3). */
void weir_buf_reserve_slow(weir_buf *b, size_t extra_bytes);
static inline void weir_buf_reserve(weir_buf *b, size_t extra_bytes) {
    if (b->cap - b->len < extra_bytes || !b->data)
        weir_buf_reserve_slow(b, extra_bytes);
}

static inline void weir_buf_append(weir_buf *b, const void *bytes, size_t n_bytes) {
    weir_buf_reserve(b, n_bytes);
    memcpy(b->data + b->len, bytes, n_bytes);
    b->len += n_bytes;
    b->data[b->len] = '\0';
}

static inline void weir_buf_putc(weir_buf *b, char c) {
    weir_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

static inline void weir_buf_puts(weir_buf *b, const char *s) { weir_buf_append(b, s, strlen(s)); }

/* printf-style append. */
void weir_buf_printf(weir_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its storage. */
static inline void weir_buf_clear(weir_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Frees the storage; the buffer is WEIR_BUF_INIT again. */
void weir_buf_fini(weir_buf *b);

#endif
