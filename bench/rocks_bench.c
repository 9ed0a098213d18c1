/* bench/rocks_bench.c -- incremental RocksDB checkpoints of keyed window state:
 * 1M keys, 1% of them changed between checkpoints (the state issue's benchmark).
 *
 * Usage: rocks_bench [--keys N] [--rounds N] [--changed-pct P] [--budget-mb MB]
 *                    [--compression lz4|none] [--compaction default|level|universal]
 *                    [--dir PARENT] [--verbose]
 * Loads N keys (default 1,000,000) into one store (one column family, keys
 * spread over 128 key groups, values a ~60-byte accumulator-like encoding) and
 * takes a first full checkpoint. Then, ROUNDS times (default 30), changes P%
 * (default 1) of the keys chosen at random, writes them as one batch (what a
 * worker writes at a barrier: its dirty entries) and checkpoints, keeping the
 * last 3 checkpoints (checkpoint.retain). Prints, over the rounds: checkpoint
 * duration p50/p99 (write + flush + checkpoint), the bytes weir wrote per
 * checkpoint and as a share of the full state, new SST bytes per checkpoint
 * (p50/mean/max), then restore times from the last checkpoint: the link path
 * (same parallelism) and the copy path (into 2 workers). Wall-clock times; numbers
 * only, never pass/fail. Single thread (RocksDB's flush/compaction threads aside).
 *
 * Measured (2-core VM shared with other builds, /tmp on disk, defaults: 64 MB
 * budget, LZ4, leveled with L0 trigger 16; values ~45 bytes, keys 12 bytes):
 *   full state: 44.5 MB written by weir, 38.2 MB of SST
 *   30 rounds:  checkpoint p50 22-39 ms, p99 47-89 ms; weir writes 0.45 MB per
 *               checkpoint (1.00% of full); new SST bytes p50 0.43 MB, mean
 *               1.60 MB, max 35.4 MB when the one L0 compaction (a rewrite of
 *               the last level) falls inside the 30 rounds, else 0.44 / 0.47 MB
 *   150 rounds: new SST bytes p50 0.49 MB, mean 2.4 MB, max 37.7 MB
 *   point reads ~7.7 us CPU per get (half absent); restore, same parallelism
 *   (hard links) 20-26 ms; restore into 2 workers (copy) 0.65 s per 1M entries.
 * Other settings (--compaction level: mean 6.8 MB; universal: 3.3 MB and 35%
 * more disk over 150 rounds) are compared in state/rocks_store.c.
 *
 * Invariants: (1) the random choice is seeded, so runs are comparable;
 * (2) new SST bytes are what the store reports (inode comparison with the
 * previous checkpoint), not an estimate. Thread: main only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/rocks_store.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return rng_state = x;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* An accumulator-like value: tagged varints (count, sum, min, max, first,
 * last with event times, window start/end), as protobuf would encode them. */
static size_t make_value(uint8_t *out, uint64_t key, uint64_t version) {
    size_t n = 0;
    uint64_t fields[] = {version + 1, key * 37 + version * 1000, key % 1000, 1000000 + key,
                         1700000000000ull + key * 60000, 1700000000000ull + key * 60000 + 59999,
                         key % 977, version * 13 + key % 5};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        out[n++] = (uint8_t)((i + 1) << 3);
        n += put_varint(out + n, fields[i]);
    }
    return n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void die(const char *what, const weir_error *err) {
    fprintf(stderr, "rocks_bench: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv) {
    long n_keys = 1000000, rounds = 30;
    double changed_pct = 1.0;
    size_t budget_mb = 64;
    const char *parent = "/tmp";
    weir_rocks_options o = {0};
    const char *compaction_name = "default", *compression_name = "lz4";
    int verbose = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--verbose")) {
            verbose = 1;
            i--;
        } else if (!strcmp(a, "--keys")) n_keys = atol(v);
        else if (!strcmp(a, "--rounds")) rounds = atol(v);
        else if (!strcmp(a, "--changed-pct")) changed_pct = atof(v);
        else if (!strcmp(a, "--budget-mb")) budget_mb = (size_t)atol(v);
        else if (!strcmp(a, "--dir")) parent = v;
        else if (!strcmp(a, "--compression")) {
            compression_name = v;
            o.compression = !strcmp(v, "none") ? WEIR_ROCKS_COMPRESSION_NONE
                                               : WEIR_ROCKS_COMPRESSION_LZ4;
        } else if (!strcmp(a, "--compaction")) {
            compaction_name = v;
            o.compaction = !strcmp(v, "level") ? WEIR_ROCKS_COMPACTION_LEVEL
                         : !strcmp(v, "universal") ? WEIR_ROCKS_COMPACTION_UNIVERSAL
                                                   : WEIR_ROCKS_COMPACTION_DEFAULT;
        } else {
            fprintf(stderr, "rocks_bench: unknown option %s\n", a);
            return 2;
        }
    }
    if (n_keys <= 0 || rounds <= 0) {
        fprintf(stderr, "rocks_bench: --keys and --rounds must be positive\n");
        return 2;
    }
    o.memory_budget_bytes = budget_mb << 20;
    char root[512];
    snprintf(root, sizeof root, "%s/weir-rocks-bench-XXXXXX", parent);
    if (!mkdtemp(root)) {
        perror("rocks_bench: mkdtemp");
        return 1;
    }
    char path[600];
    const char *cfs[] = {"per_user"};
    weir_error err = {0};
    snprintf(path, sizeof path, "%s/live", root);
    weir_rocks_store *s = weir_rocks_store_open(path, cfs, 1, &o, &err);
    if (!s)
        die("open", &err);
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, &err);
    uint64_t *version = calloc((size_t)n_keys, sizeof *version);
    uint8_t val[128];
    char key[32];

    /* Full load and checkpoint 0. */
    double t0 = now_s();
    uint64_t full_bytes = 0;
    for (long i = 0; i < n_keys; i++) {
        int kn = snprintf(key, sizeof key, "user%08ld", i);
        size_t vn = make_value(val, (uint64_t)i, 0);
        weir_rocks_store_batch_put(b, 0, (uint32_t)((uint64_t)i * 2654435761u % 128), key,
                                   (size_t)kn, val, vn);
        if (weir_rocks_store_batch_count(b) == 100000 || i == n_keys - 1) {
            full_bytes += weir_rocks_store_batch_bytes(b);
            if (weir_rocks_store_write(s, b, &err) != 0)
                die("write", &err);
            weir_rocks_store_batch_clear(b);
        }
    }
    weir_rocks_checkpoint_stats cs;
    snprintf(path, sizeof path, "%s/cp-0", root);
    if (weir_rocks_store_checkpoint(s, path, &cs, &err) != 0)
        die("checkpoint", &err);
    printf("rocks_bench: %ld keys, %.1f%% changed per checkpoint, %ld rounds, budget %zu MB, "
           "compression %s, compaction %s\n", n_keys, changed_pct, rounds, budget_mb,
           compression_name, compaction_name);
    printf("  full load: %.2f s, %.1f MB written by weir, first checkpoint %.1f MB of SST "
           "(%u files), %.0f ms\n", now_s() - t0, full_bytes / 1048576.0,
           cs.total_sst_bytes / 1048576.0, cs.n_sst_files, cs.duration_us / 1000.0);

    double *dur_ms = calloc((size_t)rounds, sizeof *dur_ms);
    double *new_sst = calloc((size_t)rounds, sizeof *new_sst);
    double *user = calloc((size_t)rounds, sizeof *user);
    long n_changed = (long)(n_keys * changed_pct / 100.0);
    uint64_t last_total = 0;
    for (long r = 1; r <= rounds; r++) {
        weir_rocks_store_batch_clear(b);
        for (long c = 0; c < n_changed; c++) {
            long i = (long)(rng() % (uint64_t)n_keys);
            int kn = snprintf(key, sizeof key, "user%08ld", i);
            size_t vn = make_value(val, (uint64_t)i, ++version[i]);
            weir_rocks_store_batch_put(b, 0, (uint32_t)((uint64_t)i * 2654435761u % 128), key,
                                       (size_t)kn, val, vn);
        }
        double t = now_s();
        if (weir_rocks_store_write(s, b, &err) != 0)
            die("write", &err);
        snprintf(path, sizeof path, "%s/cp-%ld", root, r);
        if (weir_rocks_store_checkpoint(s, path, &cs, &err) != 0)
            die("checkpoint", &err);
        dur_ms[r - 1] = (now_s() - t) * 1000.0;
        new_sst[r - 1] = (double)cs.new_sst_bytes;
        user[r - 1] = (double)weir_rocks_store_batch_bytes(b);
        last_total = cs.total_sst_bytes;
        if (verbose)
            printf("    round %2ld: %7.1f ms (flush %6.1f ms), new SST %8.2f MB in %u of %u files\n",
                   r, dur_ms[r - 1], cs.flush_us / 1000.0, new_sst[r - 1] / 1048576.0,
                   cs.n_new_sst_files, cs.n_sst_files);
        if (r > 3) { /* retain 3 */
            snprintf(path, sizeof path, "%s/cp-%ld", root, r - 3);
            weir_rocks_store_remove_dir(path, NULL);
        }
    }
    double mean_new = 0, max_new = 0, mean_user = 0;
    for (long r = 0; r < rounds; r++) {
        mean_new += new_sst[r] / (double)rounds;
        mean_user += user[r] / (double)rounds;
        if (new_sst[r] > max_new)
            max_new = new_sst[r];
    }
    printf("  checkpoint duration: p50 %.1f ms, p99 %.1f ms\n", pct(dur_ms, (int)rounds, 0.5),
           pct(dur_ms, (int)rounds, 0.99));
    printf("  weir writes per checkpoint: %.2f MB (%.2f%% of a full checkpoint's %.1f MB)\n",
           mean_user / 1048576.0, 100.0 * mean_user / (double)full_bytes, full_bytes / 1048576.0);
    printf("  new SST bytes per checkpoint: p50 %.2f MB, mean %.2f MB, max %.2f MB "
           "(live SST total %.1f MB)\n", pct(new_sst, (int)rounds, 0.5) / 1048576.0,
           mean_new / 1048576.0, max_new / 1048576.0, last_total / 1048576.0);
    /* Point reads, as when spilled state is read back: present and absent keys. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    double tg = now_s();
    long n_gets = 100000, hits = 0;
    for (long g = 0; g < n_gets; g++) {
        long i = (long)(rng() % (uint64_t)(2 * n_keys)); /* half of them absent */
        int kn = snprintf(key, sizeof key, "user%08ld", i);
        void *v;
        size_t vn;
        int rc = weir_rocks_store_get(s, 0, (uint32_t)((uint64_t)i * 2654435761u % 128), key,
                                      (size_t)kn, &v, &vn, &err);
        if (rc < 0)
            die("get", &err);
        hits += rc;
        weir_rocks_store_value_free(v);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    printf("  point reads: %.1f us per get, %.1f us CPU (%ld of %ld found)\n",
           (now_s() - tg) * 1e6 / (double)n_gets,
           ((double)(c1.tv_sec - c0.tv_sec) * 1e6 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e3) /
               (double)n_gets, hits, n_gets);
    weir_rocks_store_batch_free(b);
    weir_rocks_store_close(s);

    /* Restore from the last checkpoint. */
    snprintf(path, sizeof path, "%s/cp-%ld", root, rounds);
    const char *dirs[] = {path};
    char dst[600];
    weir_rocks_restore_stats rs;
    snprintf(dst, sizeof dst, "%s/restore-link", root);
    weir_rocks_store *r = weir_rocks_store_restore(dst, dirs, 1, 0, 127, cfs, 1, &o, &rs, &err);
    if (!r)
        die("restore", &err);
    printf("  restore, same parallelism (link path: %d): %.1f ms\n", rs.linked,
           rs.duration_us / 1000.0);
    weir_rocks_store_close(r);
    double copy_s = 0;
    uint64_t copied = 0;
    for (int w = 0; w < 2; w++) {
        snprintf(dst, sizeof dst, "%s/restore-copy-%d", root, w);
        r = weir_rocks_store_restore(dst, dirs, 1, w ? 64 : 0, w ? 127 : 63, cfs, 1, &o, &rs, &err);
        if (!r)
            die("restore", &err);
        copy_s += rs.duration_us / 1e6;
        copied += rs.n_entries;
        weir_rocks_store_close(r);
    }
    printf("  restore into 2 workers (copy path): %.2f s for %llu entries (%.0f entries/s)\n",
           copy_s, (unsigned long long)copied, copied / copy_s);
    weir_rocks_store_remove_dir(root, NULL);
    free(version);
    free(dur_ms);
    free(new_sst);
    free(user);
    return 0;
}
