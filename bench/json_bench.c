/* bench/json_bench.c -- JSON decode (and encode) throughput on a JSON-lines file.
 *
 * Usage: json_bench FILE [MAX_LINES [PASSES]] [--encode]
 * Reads FILE into memory, then decodes its first MAX_LINES lines (default:
 * all) PASSES times (default 5) as the source does: one weir_json_decode_object
 * per line into a batch arena that is reset every 1024 records. Prints the best
 * pass as records/s and MB/s (input bytes, line terminators excluded) of
 * thread CPU time, so other load on the machine skews it less. With
 * --encode each decoded record is also encoded back to JSON, timed separately.
 * Numbers only; never fails on time (bench/meson.build). Single thread.
 *
 * Invariants: (1) the timed loop does no I/O and no malloc in steady state;
 * (2) a line that does not decode is counted and reported, not skipped silently.
 * Thread: main only. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/json.h"

typedef struct line {
    const char *p;
    size_t len;
} line;

/* CPU time of this thread: on a shared machine the wall clock also counts
 * time spent descheduled, which says nothing about the decoder. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    size_t max_lines = (size_t)-1;
    int passes = 5, npos = 0;
    bool encode = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--encode") == 0)
            encode = true;
        else if (npos == 0 && ++npos)
            path = argv[i];
        else if (npos == 1 && ++npos)
            max_lines = strtoull(argv[i], NULL, 10);
        else if (npos == 2 && ++npos)
            passes = atoi(argv[i]);
    }
    if (!path || passes < 1) {
        fprintf(stderr, "usage: %s FILE [MAX_LINES [PASSES]] [--encode]\n", argv[0]);
        return 2;
    }
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf)
        return 1;
    size_t nl = 0, cap = 1024, bytes = 0;
    line *lines = malloc(cap * sizeof *lines);
    for (size_t off = 0; off < len && nl < max_lines;) {
        const char *e = memchr(buf + off, '\n', len - off);
        size_t l = e ? (size_t)(e - (buf + off)) : len - off;
        if (nl == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[nl++] = (line){buf + off, l};
        bytes += l;
        off += l + 1;
    }

    weir_arena arena;
    weir_arena_init(&arena, 1 << 20);
    weir_buf out = WEIR_BUF_INIT;
    double best_dec = 1e300, best_enc = 1e300;
    size_t errors = 0, out_bytes = 0;
    for (int pass = 0; pass < passes; pass++) {
        errors = 0;
        double t0 = now_s();
        for (size_t i = 0; i < nl; i++) {
            weir_value v;
            if (weir_json_decode_object(lines[i].p, lines[i].len, &arena, &v, NULL) != 0)
                errors++;
            if ((i & 1023) == 1023)
                weir_arena_reset(&arena);
        }
        double t1 = now_s();
        weir_arena_reset(&arena);
        if (t1 - t0 < best_dec)
            best_dec = t1 - t0;
        if (!encode)
            continue;
        /* Encode: decode a batch of 1024, then time encoding it. */
        double enc = 0;
        weir_value batch[1024];
        out_bytes = 0;
        for (size_t i = 0; i < nl; i += 1024) {
            size_t n = nl - i < 1024 ? nl - i : 1024, k = 0;
            for (size_t j = 0; j < n; j++)
                if (weir_json_decode_object(lines[i + j].p, lines[i + j].len, &arena, &batch[k], NULL) == 0)
                    k++;
            double e0 = now_s();
            for (size_t j = 0; j < k; j++) {
                weir_buf_clear(&out);
                weir_json_encode(&out, &batch[j]);
                out_bytes += out.len;
            }
            enc += now_s() - e0;
            weir_arena_reset(&arena);
        }
        if (enc < best_enc)
            best_enc = enc;
    }
    printf("lines: %zu, bytes: %zu (%.1f per line), decode errors: %zu\n", nl, bytes,
           nl ? (double)bytes / (double)nl : 0.0, errors);
    printf("decode: %.2f M records/s, %.0f MB/s (best of %d passes, %.3f s)\n", (double)nl / best_dec / 1e6,
           (double)bytes / best_dec / 1e6, passes, best_dec);
    if (encode)
        printf("encode: %.2f M records/s, %.0f MB/s of output (best of %d passes, %.3f s)\n",
               (double)nl / best_enc / 1e6, (double)out_bytes / best_enc / 1e6, passes, best_enc);
    weir_buf_fini(&out);
    weir_arena_fini(&arena);
    free(lines);
    free(buf);
    return 0;
}
