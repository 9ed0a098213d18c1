/* tests/mem_sink_harness.h -- a sink that keeps what it is given in memory
 * and counts its flushes (engine/connector.h weir_sink_vt), for the runtime
 * tests. Include in one test file. */
#ifndef WEIR_TESTS_MEM_SINK_HARNESS_H
#define WEIR_TESTS_MEM_SINK_HARNESS_H

#include "engine/buf.h"
#include "engine/connector.h"

typedef struct mem_sink {
    weir_buf bytes;
    int flushed;
} mem_sink;

static int mem_write(void *s, const char *b, size_t n, weir_error *err) {
    (void)err;
    weir_buf_append(&((mem_sink *)s)->bytes, b, n);
    return 0;
}
static int mem_flush(void *s, weir_error *err) {
    (void)err;
    ((mem_sink *)s)->flushed++;
    return 0;
}
static void mem_free(void *s) { (void)s; }
static const weir_sink_vt mem_vt = {mem_write, mem_flush, mem_free, NULL};

#endif
