/* engine/buf.c -- growable byte buffer (see buf.h). */
#include "engine/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void weir_buf_reserve_slow(weir_buf *b, size_t extra_bytes) {
    size_t need = b->len + extra_bytes;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2; /* (2) */
    if (b->data && cap == b->cap)
        return;
    char *p = realloc(b->data, cap + 1);
    if (!p) {
        fprintf(stderr, "weir: out of memory (%zu bytes)\n", cap + 1);
        abort(); /* (3) */
    }
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
}

void weir_buf_printf(weir_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        weir_buf_append(b, small, (size_t)n);
        return;
    }
    weir_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void weir_buf_fini(weir_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
