/* state/rocks_store.c -- keyed window state in one RocksDB per worker:
 * options and memory budget, writes, reads, checkpoints.
 *
 * Design: see rocks_store.h (key format, budget split, invariants (1)-(5)).
 * Column family "NAME" of the API is stored as RocksDB column family "w:NAME";
 * RocksDB's "default" column family exists but stays empty, so an operator
 * may be called "default" too.
 *
 * State of a store (function behind each transition):
 *   (none) -> OPEN                [weir_rocks_store_open, weir_rocks_store_restore]
 *   OPEN   -> OPEN, prev_ssts = the checkpoint's SST inodes
 *                                 [weir_rocks_store_checkpoint]
 *   OPEN   -> (none)              [weir_rocks_store_close]
 * prev_ssts is what makes new_sst_bytes incremental: an SST file of a new
 * checkpoint is new iff its inode was not in the previous one (hard links share
 * the inode). A linked restore seeds it with the restored files.
 *
 * Restore lives in rocks_restore.c; the shared struct and helpers in
 * rocks_store_internal.h.
 *
 * Sources: SPEC §2 (state.memory), §5, §9; DESIGN §3-§4; Flink incremental
 * RocksDB checkpoints and KeyGroupRangeAssignment.
 * Known limits: RocksDB's LOG stays a file (no C logger hook in 7.8). */
#include "state/rocks_store.h"
#include "state/rocks_store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Small helpers -------------------------------------------------------- */

int64_t weir_rocks_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Turns a RocksDB errptr into err (and frees it); returns the code. */
int weir_rocks_fail(weir_error *err, char *errptr, const char *what) {
    const char *why = errptr ? errptr : "unknown error";
    int code = WEIR_EIO;
    if (strncmp(why, "Invalid argument", 16) == 0)
        code = WEIR_EINVAL;
    else if (strncmp(why, "NotFound", 8) == 0)
        code = WEIR_ENOTFOUND;
    else if (strncmp(why, "Incomplete", 10) == 0 && strstr(why, "cache"))
        code = WEIR_ENOMEM;
    weir_error_set(err, code, "%s: %s", what, why);
    rocksdb_free(errptr);
    return code;
}

int weir_rocks_fsync_dir(const char *path, weir_error *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return weir_error_sys(err, WEIR_EIO, e, "fsync %s", path);
    }
    close(fd);
    return 0;
}

static int fsync_parent(const char *path, weir_error *err) {
    char *copy = strdup(path);
    if (!copy)
        return weir_error_set(err, WEIR_ENOMEM, "fsync parent: out of memory");
    char *slash = strrchr(copy, '/');
    const char *parent = ".";
    if (slash == copy)
        parent = "/";
    else if (slash) {
        *slash = '\0';
        parent = copy;
    }
    int rc = weir_rocks_fsync_dir(parent, err);
    free(copy);
    return rc;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int weir_rocks_file_id_cmp(const void *a, const void *b) {
    const weir_rocks_file_id *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

static int cf_name_ok(const char *const *names, size_t n, weir_error *err) {
    if (n > 0 && !names)
        return weir_error_set(err, WEIR_EINVAL, "rocks store: column family list is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return weir_error_set(err, WEIR_EINVAL, "rocks store: column family %zu has no name", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return weir_error_set(err, WEIR_EINVAL,
                                      "rocks store: column family '%s' named twice", names[i]);
    }
    return 0;
}

/* ---- Options -------------------------------------------------------------- */

/* Builds the options of a store (DB and every column family share them).
 *
 * Budget B (rocks_store.h): strict LRU block cache B/2 holding index and filter
 * blocks; memtables B/4 in all (db_write_buffer_size), B/8 per column family,
 * two per column family at most.
 *
 * Compaction, chosen for checkpoint-heavy use and measured with
 * bench/rocks_bench.c (1M keys, 1% changed per checkpoint, 150 checkpoints;
 * mean new SST bytes per checkpoint, full state 38 MB): RocksDB's leveled
 * defaults (L0 trigger 4) 6.8 MB; trigger 8 3.4 MB; trigger 16 2.2 MB; trigger
 * 32 1.5 MB; universal 3.3 MB with 35% more disk. Why: a checkpoint flushes one
 * small L0 file holding keys spread over the whole key space, so every L0
 * compaction rewrites every file of the level below (the last level: 90% of the
 * data with level_compaction_dynamic_level_bytes). The only lever is how many L0
 * files one such rewrite absorbs. Chosen: leveled, dynamic level bytes, L0
 * trigger 16 (slowdown 48, stop 80): 2.2 MB mean, the p50 stays the flushed file
 * (0.45 MB = what weir wrote), and point reads did not slow down (~7-12 us per
 * get with 16 or 32 L0 files: bloom filters). The max stays one rewrite of the
 * last level (~full size) every ~16 checkpoints. 16 MB target files, 64 MB
 * level base. WEIR_ROCKS_COMPACTION_LEVEL (trigger 4) and _UNIVERSAL exist
 * for the benchmark. Auto compaction stays on during a restore: it ingests
 * sorted, non-overlapping files that need none.
 *
 * Compression: LZ4 (38 MB of SST for the 44.5 MB weir wrote) against none
 * (47 MB); checkpoint and restore times were the same within noise. */
rocksdb_options_t *weir_rocks_build_options(const weir_rocks_options *o, size_t budget,
                                        rocksdb_cache_t **cache_out, int for_read_only) {
    rocksdb_options_t *opts = rocksdb_options_create();
    rocksdb_block_based_table_options_t *table = rocksdb_block_based_options_create();
    rocksdb_cache_t *cache = for_read_only
                                 ? rocksdb_cache_create_lru((size_t)4 << 20)
                                 : rocksdb_cache_create_lru_with_strict_capacity_limit(budget / 2);
    rocksdb_block_based_options_set_block_cache(table, cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(table, 1);
    /* Takes ownership of the policy. Point lookups of keys that were never
     * spilled are the common miss: a full bloom filter answers them. */
    rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom_full(10));
    /* Partitioned index and filters: every cached block is ~4 KB, so no single
     * index or filter block can outgrow a strict cache shard (>= 512 KB) --
     * an index block that cannot be inserted fails the read (Incomplete), a
     * filter block that cannot be is skipped (every read then hits disk). Long
     * keys that share long prefixes (a URL key with many windows) would make
     * a flat 16 MB file's index exceed 512 KB. Cost, measured with
     * bench/rocks_bench.c: +1 to 4 us CPU per point read (~7 -> ~10 us). */
    rocksdb_block_based_options_set_index_type(
        table, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(table, 1);
    rocksdb_block_based_options_set_metadata_block_size(table, 4096);
    rocksdb_block_based_options_set_format_version(table, 5);
    rocksdb_options_set_block_based_table_factory(opts, table); /* copies */
    rocksdb_block_based_options_destroy(table);

    rocksdb_options_set_create_if_missing(opts, 1);
    rocksdb_options_set_create_missing_column_families(opts, 1);
    rocksdb_options_set_info_log_level(opts, 2 /* WARN */);
    rocksdb_options_set_keep_log_file_num(opts, 2);
    rocksdb_options_set_max_log_file_size(opts, (size_t)1 << 20);
    rocksdb_options_set_max_open_files(opts, for_read_only ? 64 : 256);

    size_t memtables = budget / 4;
    rocksdb_options_set_db_write_buffer_size(opts, memtables);
    rocksdb_options_set_write_buffer_size(opts, memtables / 2);
    rocksdb_options_set_max_write_buffer_number(opts, 2);
    rocksdb_options_set_min_write_buffer_number_to_merge(opts, 1);

    int compression = o && o->compression == WEIR_ROCKS_COMPRESSION_NONE
                          ? rocksdb_no_compression : rocksdb_lz4_compression;
    rocksdb_options_set_compression(opts, compression);
    rocksdb_options_set_bottommost_compression(opts, compression);

    int compaction = o ? o->compaction : WEIR_ROCKS_COMPACTION_DEFAULT;
    rocksdb_options_set_target_file_size_base(opts, WEIR_ROCKS_TARGET_FILE_BYTES);
    if (compaction == WEIR_ROCKS_COMPACTION_UNIVERSAL) {
        rocksdb_options_set_compaction_style(opts, rocksdb_universal_compaction);
        rocksdb_universal_compaction_options_t *u = rocksdb_universal_compaction_options_create();
        rocksdb_options_set_universal_compaction_options(opts, u); /* copies */
        rocksdb_universal_compaction_options_destroy(u);
    } else {
        rocksdb_options_set_compaction_style(opts, rocksdb_level_compaction);
        rocksdb_options_set_level_compaction_dynamic_level_bytes(opts, 1);
        rocksdb_options_set_max_bytes_for_level_base(opts, 4 * WEIR_ROCKS_TARGET_FILE_BYTES);
        if (compaction == WEIR_ROCKS_COMPACTION_DEFAULT) {
            rocksdb_options_set_level0_file_num_compaction_trigger(opts, 16);
            rocksdb_options_set_level0_slowdown_writes_trigger(opts, 48);
            rocksdb_options_set_level0_stop_writes_trigger(opts, 80);
        }
    }
    if (cache_out)
        *cache_out = cache;
    else
        rocksdb_cache_destroy(cache); /* the table factory keeps its reference */
    return opts;
}

int weir_rocks_budget(const weir_rocks_options *o, size_t *budget, weir_error *err) {
    size_t b = o && o->memory_budget_bytes ? o->memory_budget_bytes
                                           : WEIR_ROCKS_STORE_DEFAULT_BUDGET_BYTES;
    if (b < WEIR_ROCKS_STORE_MIN_BUDGET_BYTES)
        return weir_error_set(err, WEIR_EINVAL, "rocks store: memory budget %zu bytes is below %zu",
                              b, WEIR_ROCKS_STORE_MIN_BUDGET_BYTES);
    *budget = b;
    return 0;
}

/* ---- Open and close ------------------------------------------------------- */

/* Opens dir with "default", the named column families, and any other column
 * family already in dir (RocksDB requires all); drop_unnamed drops the others
 * that carry WEIR_ROCKS_CF_PREFIX (operators no longer in the job). */
weir_rocks_store *weir_rocks_open_store(const char *dir, const char *const *names, size_t n_cf,
                                    const weir_rocks_options *o, int drop_unnamed,
                                    weir_error *err) {
    size_t budget;
    if (!dir || weir_rocks_budget(o, &budget, err) != 0 || cf_name_ok(names, n_cf, err) != 0) {
        if (!dir)
            weir_error_set(err, WEIR_EINVAL, "rocks store: no directory");
        return NULL;
    }
    weir_rocks_store *s = calloc(1, sizeof *s);
    char **existing = NULL;
    size_t n_existing = 0, cap = 0;
    char **all = NULL;
    const rocksdb_options_t **all_opts = NULL;
    char *e = NULL;
    if (!s)
        goto nomem;
    s->budget_bytes = budget;
    s->opts = weir_rocks_build_options(o, budget, &s->cache, 0);
    existing = rocksdb_list_column_families(s->opts, dir, &n_existing, &e);
    if (e) { /* a new store: nothing to list (the list is allocated anyway) */
        rocksdb_free(e);
        e = NULL;
        if (existing)
            rocksdb_list_column_families_destroy(existing, n_existing);
        existing = NULL;
        n_existing = 0;
    }
    s->n_cf = n_cf;
    cap = 1 + n_cf + n_existing;
    s->cf_names = calloc(n_cf + 1, sizeof *s->cf_names);
    all = calloc(cap, sizeof *all);
    all_opts = calloc(cap, sizeof *all_opts);
    s->handles = calloc(cap, sizeof *s->handles);
    if (!s->cf_names || !all || !all_opts || !s->handles)
        goto nomem;
    size_t n_all = 0;
    if (!(all[n_all++] = strdup("default")))
        goto nomem;
    for (size_t i = 0; i < n_cf; i++) {
        if (!(s->cf_names[i] = strdup(names[i])) ||
            asprintf(&all[n_all++], WEIR_ROCKS_CF_PREFIX "%s", names[i]) < 0) {
            all[n_all - 1] = NULL;
            goto nomem;
        }
    }
    for (size_t i = 0; i < n_existing; i++) {
        int known = 0;
        for (size_t j = 0; j < n_all && !known; j++)
            known = strcmp(existing[i], all[j]) == 0;
        if (!known && !(all[n_all++] = strdup(existing[i])))
            goto nomem;
    }
    for (size_t i = 0; i < n_all; i++)
        all_opts[i] = s->opts;
    s->db = rocksdb_open_column_families(s->opts, dir, (int)n_all, (const char *const *)all,
                                         all_opts, s->handles, &e);
    if (!s->db) {
        weir_rocks_fail(err, e, dir);
        goto fail;
    }
    s->n_handles = n_all;
    s->cf = s->handles + 1;
    for (size_t i = 1 + n_cf; drop_unnamed && i < n_all; i++) {
        if (strncmp(all[i], WEIR_ROCKS_CF_PREFIX, strlen(WEIR_ROCKS_CF_PREFIX)) != 0)
            continue;
        rocksdb_drop_column_family(s->db, s->handles[i], &e);
        rocksdb_column_family_handle_destroy(s->handles[i]);
        s->handles[i] = NULL; /* close skips it */
        if (e) {
            weir_rocks_fail(err, e, "rocks store: dropping an unnamed column family");
            goto fail;
        }
    }
    size_t kept = 0; /* (6): handles[0, n_handles) are all live */
    for (size_t i = 0; i < n_all; i++)
        if (s->handles[i])
            s->handles[kept++] = s->handles[i];
    s->n_handles = kept;
    s->checkpointer = rocksdb_checkpoint_object_create(s->db, &e);
    if (!s->checkpointer) {
        weir_rocks_fail(err, e, "rocks store: checkpoint object");
        goto fail;
    }
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(s->wopts, 1); /* (2) */
    s->ropts = rocksdb_readoptions_create();
    s->fopts = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(s->fopts, 1);
    goto done;
nomem:
    weir_error_set(err, WEIR_ENOMEM, "rocks store %s: out of memory", dir);
fail:
    weir_rocks_store_close(s);
    s = NULL;
done:
    if (existing)
        rocksdb_list_column_families_destroy(existing, n_existing);
    for (size_t i = 0; all && i < cap; i++)
        free(all[i]);
    free(all);
    free(all_opts);
    return s;
}

weir_rocks_store *weir_rocks_store_open(const char *dir, const char *const *column_families,
                                        size_t n_cf, const weir_rocks_options *opts,
                                        weir_error *err) {
    return weir_rocks_open_store(dir, column_families, n_cf, opts, 0, err);
}

void weir_rocks_store_close(weir_rocks_store *s) {
    if (!s)
        return;
    if (s->checkpointer)
        rocksdb_checkpoint_object_destroy(s->checkpointer);
    for (size_t i = 0; i < s->n_handles; i++)
        if (s->handles[i])
            rocksdb_column_family_handle_destroy(s->handles[i]);
    if (s->db)
        rocksdb_close(s->db);
    if (s->wopts)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->fopts)
        rocksdb_flushoptions_destroy(s->fopts);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    for (size_t i = 0; s->cf_names && i < s->n_cf; i++)
        free(s->cf_names[i]);
    free(s->cf_names);
    free(s->handles);
    free(s->prev_ssts);
    free(s);
}

size_t weir_rocks_store_cf_count(const weir_rocks_store *s) { return s->n_cf; }

int weir_rocks_store_cf_index(const weir_rocks_store *s, const char *name) {
    for (size_t i = 0; name && i < s->n_cf; i++)
        if (strcmp(s->cf_names[i], name) == 0)
            return (int)i;
    return WEIR_ENOTFOUND;
}

/* ---- Batches, writes, reads ----------------------------------------------- */

weir_rocks_batch *weir_rocks_store_batch_new(weir_rocks_store *store, weir_error *err) {
    weir_rocks_batch *b = calloc(1, sizeof *b);
    if (!b) {
        weir_error_set(err, WEIR_ENOMEM, "rocks batch: out of memory");
        return NULL;
    }
    b->store = store;
    b->wb = rocksdb_writebatch_create();
    return b;
}

void weir_rocks_store_batch_free(weir_rocks_batch *b) {
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

static int key_ok(const weir_rocks_store *s, size_t cf, uint32_t key_group) {
    return cf < s->n_cf && key_group < WEIR_MAX_PARALLELISM_LIMIT;
}

int weir_rocks_store_batch_put(weir_rocks_batch *b, size_t cf, uint32_t key_group,
                               const void *key, size_t key_len, const void *value,
                               size_t value_len) {
    if (!key_ok(b->store, cf, key_group))
        return WEIR_EINVAL;
    uint8_t prefix[WEIR_ROCKS_STORE_KEY_GROUP_BYTES];
    weir_rocks_store_key_encode(key_group, NULL, 0, prefix, sizeof prefix);
    const char *parts[2] = {(const char *)prefix, key_len ? key : ""};
    size_t sizes[2] = {sizeof prefix, key_len};
    const char *val = value_len ? value : "";
    rocksdb_writebatch_putv_cf(b->wb, b->store->cf[cf], 2, parts, sizes, 1, &val, &value_len);
    b->bytes += sizeof prefix + key_len + value_len;
    return 0;
}

int weir_rocks_store_batch_delete(weir_rocks_batch *b, size_t cf, uint32_t key_group,
                                  const void *key, size_t key_len) {
    if (!key_ok(b->store, cf, key_group))
        return WEIR_EINVAL;
    uint8_t prefix[WEIR_ROCKS_STORE_KEY_GROUP_BYTES];
    weir_rocks_store_key_encode(key_group, NULL, 0, prefix, sizeof prefix);
    const char *parts[2] = {(const char *)prefix, key_len ? key : ""};
    size_t sizes[2] = {sizeof prefix, key_len};
    rocksdb_writebatch_deletev_cf(b->wb, b->store->cf[cf], 2, parts, sizes);
    b->bytes += sizeof prefix + key_len;
    return 0;
}

size_t weir_rocks_store_batch_count(const weir_rocks_batch *b) {
    return (size_t)rocksdb_writebatch_count(b->wb);
}

uint64_t weir_rocks_store_batch_bytes(const weir_rocks_batch *b) { return b->bytes; }

void weir_rocks_store_batch_clear(weir_rocks_batch *b) {
    rocksdb_writebatch_clear(b->wb);
    b->bytes = 0;
}

int weir_rocks_store_write(weir_rocks_store *s, weir_rocks_batch *b, weir_error *err) {
    char *e = NULL;
    rocksdb_write(s->db, s->wopts, b->wb, &e);
    return e ? weir_rocks_fail(err, e, "rocks store: write") : 0;
}

int weir_rocks_store_get(weir_rocks_store *s, size_t cf, uint32_t key_group, const void *key,
                         size_t key_len, void **value, size_t *value_len, weir_error *err) {
    *value = NULL;
    *value_len = 0;
    if (!key_ok(s, cf, key_group))
        return weir_error_set(err, WEIR_EINVAL, "rocks store: get: bad column family %zu or "
                              "key group %u", cf, key_group);
    uint8_t stack[256], *k = stack;
    size_t n = key_len + WEIR_ROCKS_STORE_KEY_GROUP_BYTES;
    if (n > sizeof stack && !(k = malloc(n)))
        return weir_error_set(err, WEIR_ENOMEM, "rocks store: get: out of memory");
    weir_rocks_store_key_encode(key_group, key, key_len, k, n);
    char *e = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get_cf(s->db, s->ropts, s->cf[cf], (const char *)k, n, &vlen, &e);
    if (k != stack)
        free(k);
    if (e)
        return weir_rocks_fail(err, e, "rocks store: get");
    if (!v)
        return 0;
    *value = v;
    *value_len = vlen;
    return 1;
}

void weir_rocks_store_value_free(void *value) {
    if (value)
        rocksdb_free(value);
}

/* A read-only iterator over [lo, hi) of one column family, not filling the
 * cache. lo and hi must outlive the iterator. */
rocksdb_iterator_t *weir_rocks_range_iter(rocksdb_t *db, rocksdb_column_family_handle_t *cf,
                                      const uint8_t lo[2], const uint8_t hi[2],
                                      size_t readahead_bytes, rocksdb_readoptions_t **ro_out) {
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lo, 2);
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, 2);
    if (readahead_bytes)
        rocksdb_readoptions_set_readahead_size(ro, readahead_bytes);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db, ro, cf);
    rocksdb_iter_seek(it, (const char *)lo, 2);
    *ro_out = ro;
    return it;
}

static int range_ok(uint32_t first, uint32_t last) {
    return first <= last && last < WEIR_MAX_PARALLELISM_LIMIT;
}

int64_t weir_rocks_store_iter_key_groups(weir_rocks_store *s, size_t cf, uint32_t first,
                                         uint32_t last, weir_rocks_store_entry_fn fn, void *ctx,
                                         weir_error *err) {
    if (cf >= s->n_cf || !range_ok(first, last) || !fn)
        return weir_error_set(err, WEIR_EINVAL, "rocks store: iter: bad column family %zu or "
                              "key-group range [%u, %u]", cf, first, last);
    uint8_t lo[2], hi[2];
    weir_rocks_store_key_encode(first, NULL, 0, lo, 2);
    weir_rocks_store_key_encode(last + 1, NULL, 0, hi, 2); /* last + 1 <= 32768 fits */
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it = weir_rocks_range_iter(s->db, s->cf[cf], lo, hi, 0, &ro);
    int64_t n = 0;
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen < WEIR_ROCKS_STORE_KEY_GROUP_BYTES) { /* (1) broken: not our store */
            n = weir_error_set(err, WEIR_EIO, "rocks store: iter: stored key of %zu bytes "
                               "has no key-group prefix", klen);
            break;
        }
        int rc = fn(ctx, weir_rocks_store_key_group(k), k + 2, klen - 2, v, vlen);
        if (rc < 0) {
            n = rc;
            break;
        }
        n++;
        if (rc > 0)
            break;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    if (e)
        n = weir_rocks_fail(err, e, "rocks store: iter");
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return n;
}

int64_t weir_rocks_store_iter_prefix(weir_rocks_store *s, size_t cf, uint32_t key_group,
                                     const void *prefix, size_t prefix_len,
                                     weir_rocks_store_entry_fn fn, void *ctx, weir_error *err) {
    uint8_t lo[1024 + 2], hi[1024 + 2];
    if (!key_ok(s, cf, key_group) || !fn || prefix_len > 1024)
        return weir_error_set(err, WEIR_EINVAL, "rocks store: iter prefix: bad column family "
                              "%zu, key group %u or prefix of %zu bytes", cf, key_group,
                              prefix_len);
    size_t n = weir_rocks_store_key_encode(key_group, prefix, prefix_len, lo, sizeof lo);
    /* Upper bound: the prefix's successor (drop trailing 0xff bytes, add one). */
    memcpy(hi, lo, n);
    size_t hn = n;
    while (hn > 0 && hi[hn - 1] == 0xff)
        hn--;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (hn > 0) {
        hi[hn - 1]++;
        rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hn);
    }
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lo, n);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
    int64_t count = 0;
    for (rocksdb_iter_seek(it, (const char *)lo, n); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen < n || memcmp(k, lo, n) != 0)
            break;
        int rc = fn(ctx, key_group, k + 2, klen - 2, v, vlen);
        if (rc < 0) {
            count = rc;
            break;
        }
        count++;
        if (rc > 0)
            break;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    if (e)
        count = weir_rocks_fail(err, e, "rocks store: iter prefix");
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return count;
}

/* ---- Checkpoints ---------------------------------------------------------- */

/* Sizes the files of checkpoint dir into st; with ids, returns the SST inodes
 * (sorted, owned) in *ids. prev (sorted) tells which SSTs are not new. */
static int scan_checkpoint(const char *dir, const weir_rocks_file_id *prev, size_t n_prev,
                           weir_rocks_checkpoint_stats *st, weir_rocks_file_id **ids, size_t *n_ids,
                           weir_error *err) {
    DIR *d = opendir(dir);
    if (!d)
        return weir_error_sys(err, WEIR_EIO, errno, "checkpoint %s: opendir", dir);
    size_t cap = 0, n = 0;
    weir_rocks_file_id *out = NULL;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        struct stat sb;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        if (!ends_with(de->d_name, ".sst")) {
            st->copied_bytes += (uint64_t)sb.st_size;
            continue;
        }
        weir_rocks_file_id id = weir_rocks_file_id_of(&sb);
        st->n_sst_files++;
        st->total_sst_bytes += (uint64_t)sb.st_size;
        if (!prev || !bsearch(&id, prev, n_prev, sizeof id, weir_rocks_file_id_cmp)) {
            st->n_new_sst_files++;
            st->new_sst_bytes += (uint64_t)sb.st_size;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            weir_rocks_file_id *grown = realloc(out, cap * sizeof *out);
            if (!grown) {
                rc = weir_error_set(err, WEIR_ENOMEM, "checkpoint %s: out of memory", dir);
                break;
            }
            out = grown;
        }
        out[n++] = id;
    }
    closedir(d);
    if (rc != 0) {
        free(out);
        return rc;
    }
    if (n > 0)
        qsort(out, n, sizeof *out, weir_rocks_file_id_cmp);
    *ids = out;
    *n_ids = n;
    return 0;
}

int weir_rocks_store_checkpoint(weir_rocks_store *s, const char *dir,
                                weir_rocks_checkpoint_stats *stats, weir_error *err) {
    weir_rocks_checkpoint_stats st = {0};
    int64_t t0 = weir_rocks_now_us();
    struct stat sb;
    if (!dir)
        return weir_error_set(err, WEIR_EINVAL, "rocks checkpoint: no directory");
    if (lstat(dir, &sb) == 0)
        return weir_error_set(err, WEIR_ESTATE, "rocks checkpoint %s: already exists", dir);
    char *e = NULL;
    for (size_t i = 0; i < s->n_handles; i++) {
        rocksdb_flush_cf(s->db, s->fopts, s->handles[i], &e);
        if (e)
            return weir_rocks_fail(err, e, "rocks checkpoint: flush");
    }
    st.flush_us = weir_rocks_now_us() - t0;
    rocksdb_checkpoint_create(s->checkpointer, dir, 0, &e); /* 0: flush first, (2) */
    if (e)
        return weir_rocks_fail(err, e, "rocks checkpoint");
    int rc = weir_rocks_fsync_dir(dir, err); /* RocksDB synced it too; cheap */
    if (rc == 0)
        rc = fsync_parent(dir, err);          /* makes RocksDB's rename durable */
    weir_rocks_file_id *ids = NULL;
    size_t n_ids = 0;
    if (rc == 0)
        rc = scan_checkpoint(dir, s->prev_ssts, s->n_prev_ssts, &st, &ids, &n_ids, err);
    if (rc != 0)
        return rc;
    free(s->prev_ssts);
    s->prev_ssts = ids;
    s->n_prev_ssts = n_ids;
    st.duration_us = weir_rocks_now_us() - t0;
    if (stats)
        *stats = st;
    return 0;
}

/* ---- Memory and files ----------------------------------------------------- */

void weir_rocks_store_memory_usage(weir_rocks_store *s, weir_rocks_memory *out) {
    memset(out, 0, sizeof *out);
    out->budget_bytes = s->budget_bytes;
    for (size_t i = 0; i < s->n_handles; i++) {
        uint64_t v = 0;
        if (rocksdb_property_int_cf(s->db, s->handles[i], "rocksdb.size-all-mem-tables", &v) == 0)
            out->memtable_bytes += v;
        if (rocksdb_property_int_cf(s->db, s->handles[i], "rocksdb.estimate-table-readers-mem",
                                    &v) == 0)
            out->table_readers_bytes += v;
    }
    out->block_cache_bytes = rocksdb_cache_get_usage(s->cache);
    out->block_cache_pinned_bytes = rocksdb_cache_get_pinned_usage(s->cache);
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int weir_rocks_store_remove_dir(const char *dir, weir_error *err) {
    struct stat sb;
    if (lstat(dir, &sb) != 0 && errno == ENOENT)
        return 0;
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return weir_error_sys(err, WEIR_EIO, errno, "remove %s", dir);
    return 0;
}
