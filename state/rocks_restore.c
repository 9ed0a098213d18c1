/* state/rocks_restore.c -- build a fresh RocksDB store for a key-group range
 * from old checkpoints (weir_rocks_store_restore, declared in rocks_store.h).
 *
 * Design. A restore after a crash, a restart or a change of parallelism gives
 * each new worker the key groups [first, last] it now owns (SPEC §9). The old
 * workers' checkpoint dirs are opened read-only -- never a live store
 * (DESIGN §4 "Restore") -- and one of two paths runs:
 *   link: exactly one of the checkpoint dirs has keys in range, and only keys
 *         in range (a restart with the same parallelism: a survey of three
 *         seeks per column family and dir finds it). Its SST files are
 *         hard-linked into new_dir and the small files copied; RocksDB then opens
 *         it as a normal store. O(files), nothing rewritten, and the next
 *         checkpoint's new_sst_bytes stays incremental (prev_ssts seeded).
 *   copy: for each checkpoint dir and each named column family, a forward scan
 *         of [first, last] writes SST files (SstFileWriter, ~16 MB each, same
 *         table options as the store) that are ingested with move_files. Keys
 *         arrive sorted, so nothing goes through memtables, no write stalls and no
 *         compaction follow (ingested files that overlap nothing go straight to
 *         the last level). This is why auto compaction need not be paused.
 * Scratch files live in NEW_DIR.restore-tmp (a sibling, on the same file system
 * so ingestion can link): the SST files being built and the LOG files RocksDB
 * writes when it opens a source (db_log_dir points there, so nothing is ever
 * written into a checkpoint dir, and concurrent restores from the same dirs do
 * not collide).
 *
 * Invariants:
 *   (1) new_dir did not exist before the call; on failure it is removed again,
 *       so a failed restore leaves nothing that could be mistaken for a store;
 *   (2) the new store holds exactly the entries with key group in [first, last]
 *       (rocks_store.h (4)): the copy path bounds every scan to the stored-key
 *       range [BE16(first), BE16(last + 1)); the link path is taken only after
 *       checking the first and last key of every named column family of the
 *       linked dir, and that no other dir has a key in range.
 * Sources: SPEC §9, DESIGN §4; Flink's rescaling of RocksDB state by key-group
 * range. Known limits: n_entries is not counted on the link path; progress
 * totals are RocksDB's approximate on-disk sizes. */
#include "state/rocks_store.h"
#include "state/rocks_store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRESS_EVERY 4096
#define SIZE_CHECK_EVERY 64
#define SCAN_READAHEAD_BYTES ((size_t)2 << 20)

/* An old checkpoint opened read-only. */
typedef struct source {
    rocksdb_t *db;                            /* owned */
    rocksdb_column_family_handle_t **handles; /* owned, [n_handles] */
    size_t n_handles;
    rocksdb_column_family_handle_t **by_cf;   /* owned array, [n_cf]; NULL: absent */
} source;

typedef struct progress {
    weir_rocks_store_progress_fn fn; /* may be NULL */
    void *ctx;                       /* borrowed */
    uint64_t total_bytes, base_bytes, n_entries;
} progress;

static void source_close(source *src) {
    for (size_t i = 0; i < src->n_handles; i++)
        rocksdb_column_family_handle_destroy(src->handles[i]);
    if (src->db)
        rocksdb_close(src->db);
    free(src->handles);
    free(src->by_cf);
    memset(src, 0, sizeof *src);
}

static int source_open(source *src, const char *dir, const char *const *cfs, size_t n_cf,
                       rocksdb_options_t *ro_opts, weir_error *err) {
    memset(src, 0, sizeof *src);
    char current[4096];
    struct stat sb;
    snprintf(current, sizeof current, "%s/CURRENT", dir);
    if (stat(current, &sb) != 0)
        return weir_error_sys(err, WEIR_ENOTFOUND, errno, "restore: %s is not a RocksDB "
                              "checkpoint (no CURRENT)", dir);
    char *e = NULL;
    size_t n = 0;
    char **names = rocksdb_list_column_families(ro_opts, dir, &n, &e);
    if (e) {
        if (names) /* allocated even on failure */
            rocksdb_list_column_families_destroy(names, n);
        return weir_rocks_fail(err, e, dir);
    }
    int rc = 0;
    const rocksdb_options_t **opts = calloc(n, sizeof *opts);
    src->handles = calloc(n, sizeof *src->handles);
    src->by_cf = calloc(n_cf + 1, sizeof *src->by_cf);
    if (!opts || !src->handles || !src->by_cf) {
        rc = weir_error_set(err, WEIR_ENOMEM, "restore %s: out of memory", dir);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        opts[i] = ro_opts;
    src->db = rocksdb_open_for_read_only_column_families(ro_opts, dir, (int)n,
                                                         (const char *const *)names, opts,
                                                         src->handles, 0, &e);
    if (!src->db) {
        rc = weir_rocks_fail(err, e, dir);
        goto done;
    }
    src->n_handles = n;
    size_t plen = strlen(WEIR_ROCKS_CF_PREFIX);
    for (size_t c = 0; c < n_cf; c++)
        for (size_t i = 0; i < n; i++)
            if (strncmp(names[i], WEIR_ROCKS_CF_PREFIX, plen) == 0 &&
                strcmp(names[i] + plen, cfs[c]) == 0)
                src->by_cf[c] = src->handles[i];
done:
    free(opts);
    rocksdb_list_column_families_destroy(names, n);
    if (rc != 0)
        source_close(src);
    return rc;
}

static uint64_t approx_bytes(rocksdb_t *db, rocksdb_column_family_handle_t *cf,
                             const void *lo, size_t lo_len, const void *hi, size_t hi_len) {
    const char *start = lo, *limit = hi;
    uint64_t size = 0;
    char *e = NULL;
    rocksdb_approximate_sizes_cf(db, cf, 1, &start, &lo_len, &limit, &hi_len, &size, &e);
    if (e) { /* an estimate only: progress goes on without it */
        rocksdb_free(e);
        return 0;
    }
    return size;
}

static int progress_report(progress *p, uint64_t done_bytes) {
    if (!p->fn)
        return 0;
    if (done_bytes > p->total_bytes)
        done_bytes = p->total_bytes;
    return p->fn(p->ctx, done_bytes, p->total_bytes, p->n_entries) ? WEIR_EINTR : 0;
}

/* ---- Copy path ------------------------------------------------------------- */

static int finish_file(rocksdb_sstfilewriter_t **w, weir_error *err) {
    char *e = NULL;
    rocksdb_sstfilewriter_finish(*w, &e);
    rocksdb_sstfilewriter_destroy(*w);
    *w = NULL;
    return e ? weir_rocks_fail(err, e, "restore: finish SST file") : 0;
}

/* Copies [lo, hi) of one source column family into store column family c. */
static int copy_cf(weir_rocks_store *store, size_t c, rocksdb_t *src_db,
                   rocksdb_column_family_handle_t *src_cf, const char *tmp_dir,
                   unsigned *file_seq, const uint8_t lo[2], const uint8_t hi[2], progress *p,
                   weir_rocks_restore_stats *st, weir_error *err) {
    uint64_t part_bytes = approx_bytes(src_db, src_cf, lo, 2, hi, 2);
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it = weir_rocks_range_iter(src_db, src_cf, lo, hi, SCAN_READAHEAD_BYTES, &ro);
    rocksdb_envoptions_t *env = rocksdb_envoptions_create();
    rocksdb_sstfilewriter_t *w = NULL;
    char **files = NULL;
    size_t n_files = 0, cap_files = 0;
    uint64_t n_here = 0;
    char *e = NULL;
    int rc = 0;
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (!w) {
            if (n_files == cap_files) {
                cap_files = cap_files ? 2 * cap_files : 8;
                char **grown = realloc(files, cap_files * sizeof *files);
                if (!grown) {
                    rc = weir_error_set(err, WEIR_ENOMEM, "restore: out of memory");
                    break;
                }
                files = grown;
            }
            if (asprintf(&files[n_files], "%s/%06u.sst", tmp_dir, (*file_seq)++) < 0) {
                rc = weir_error_set(err, WEIR_ENOMEM, "restore: out of memory");
                break;
            }
            n_files++;
            w = rocksdb_sstfilewriter_create(env, store->opts);
            rocksdb_sstfilewriter_open(w, files[n_files - 1], &e);
            if (e) {
                rc = weir_rocks_fail(err, e, files[n_files - 1]);
                break;
            }
        }
        rocksdb_sstfilewriter_put(w, k, klen, v, vlen, &e);
        if (e) {
            rc = weir_rocks_fail(err, e, "restore: write SST file");
            break;
        }
        st->n_entries++;
        st->entry_bytes += klen + vlen;
        p->n_entries++;
        n_here++;
        if (n_here % SIZE_CHECK_EVERY == 0) {
            uint64_t size = 0;
            rocksdb_sstfilewriter_file_size(w, &size);
            if (size >= WEIR_ROCKS_TARGET_FILE_BYTES && (rc = finish_file(&w, err)) != 0)
                break;
        }
        if (n_here % PROGRESS_EVERY == 0) {
            uint64_t done = approx_bytes(src_db, src_cf, lo, 2, k, klen);
            if ((rc = progress_report(p, p->base_bytes + (done < part_bytes ? done : part_bytes))) != 0) {
                weir_error_set(err, rc, "restore: stopped by the caller");
                break;
            }
        }
    }
    if (rc == 0) {
        rocksdb_iter_get_error(it, &e);
        if (e)
            rc = weir_rocks_fail(err, e, "restore: scan");
    }
    if (w) {
        int frc = finish_file(&w, err);
        if (rc == 0)
            rc = frc;
    }
    if (rc == 0 && n_files > 0) {
        rocksdb_ingestexternalfileoptions_t *io = rocksdb_ingestexternalfileoptions_create();
        rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
        rocksdb_ingest_external_file_cf(store->db, store->cf[c], (const char *const *)files,
                                        n_files, io, &e);
        rocksdb_ingestexternalfileoptions_destroy(io);
        if (e)
            rc = weir_rocks_fail(err, e, "restore: ingest");
    }
    for (size_t i = 0; i < n_files; i++) {
        unlink(files[i]); /* moved already on success; scratch on failure */
        free(files[i]);
    }
    free(files);
    rocksdb_envoptions_destroy(env);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    p->base_bytes += part_bytes;
    return rc;
}

/* ---- Link path ------------------------------------------------------------- */

static int copy_file(const char *from, const char *to, weir_error *err) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "restore: open %s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return weir_error_sys(err, WEIR_EIO, e, "restore: create %s", to);
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t m = write(out, buf + off, (size_t)(n - off));
            if (m < 0) {
                rc = weir_error_sys(err, WEIR_EIO, errno, "restore: write %s", to);
                goto done;
            }
            off += m;
        }
    }
    if (n < 0)
        rc = weir_error_sys(err, WEIR_EIO, errno, "restore: read %s", from);
    else if (fsync(out) != 0)
        rc = weir_error_sys(err, WEIR_EIO, errno, "restore: fsync %s", to);
done:
    close(in);
    close(out);
    return rc;
}

/* Surveys the named column families of src: *any = some key is in [first,
 * last]; *all = every key is (an empty source gives *any = 0, *all = 1). Three
 * seeks per column family. A read error gives *any = 1, *all = 0, so the copy
 * path scans it and reports the error. */
static void survey(source *src, size_t n_cf, uint32_t first, uint32_t last, const uint8_t lo[2],
                   const uint8_t hi[2], int *any, int *all) {
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0);
    *any = 0;
    *all = 1;
    for (size_t c = 0; c < n_cf; c++) {
        if (!src->by_cf[c])
            continue;
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(src->db, ro, src->by_cf[c]);
        int inside = 1;
        for (int end = 0; end < 2 && inside; end++) {
            if (end == 0)
                rocksdb_iter_seek_to_first(it);
            else
                rocksdb_iter_seek_to_last(it);
            if (!rocksdb_iter_valid(it))
                continue;
            size_t klen;
            const char *k = rocksdb_iter_key(it, &klen);
            inside = klen >= 2 && weir_rocks_store_key_group(k) >= first &&
                     weir_rocks_store_key_group(k) <= last;
        }
        char *e = NULL;
        rocksdb_iter_get_error(it, &e);
        rocksdb_iter_destroy(it);
        rocksdb_readoptions_t *bounded;
        it = weir_rocks_range_iter(src->db, src->by_cf[c], lo, hi, 0, &bounded);
        int some = rocksdb_iter_valid(it);
        if (!e)
            rocksdb_iter_get_error(it, &e);
        rocksdb_iter_destroy(it);
        rocksdb_readoptions_destroy(bounded);
        if (e) {
            rocksdb_free(e);
            some = 1;
            inside = 0;
        }
        *any |= some;
        *all &= inside;
    }
    rocksdb_readoptions_destroy(ro);
}

/* Links (SST) and copies (the rest) the files of src_dir into new_dir (created
 * here), collecting the SST inodes. Returns 0, 1 if a link is impossible
 * (another file system: use the copy path), or an error. */
static int link_files(const char *src_dir, const char *new_dir, weir_rocks_file_id **ids,
                      size_t *n_ids, weir_error *err) {
    DIR *d = opendir(src_dir);
    if (!d)
        return weir_error_sys(err, WEIR_EIO, errno, "restore: opendir %s", src_dir);
    if (mkdir(new_dir, 0755) != 0) {
        int e = errno;
        closedir(d);
        return weir_error_sys(err, WEIR_EIO, e, "restore: mkdir %s", new_dir);
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        struct stat sb;
        if (de->d_name[0] == '.' || strcmp(de->d_name, "LOCK") == 0 ||
            strncmp(de->d_name, "LOG", 3) == 0 ||
            fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", src_dir, de->d_name);
        snprintf(to, sizeof to, "%s/%s", new_dir, de->d_name);
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 4, ".sst") != 0) {
            rc = copy_file(from, to, err);
            continue;
        }
        if (link(from, to) != 0) {
            int e = errno;
            rc = e == EXDEV || e == EPERM || e == EMLINK
                     ? 1 : weir_error_sys(err, WEIR_EIO, e, "restore: link %s", to);
            continue;
        }
        if (*n_ids == cap) {
            cap = cap ? 2 * cap : 64;
            weir_rocks_file_id *grown = realloc(*ids, cap * sizeof **ids);
            if (!grown) {
                rc = weir_error_set(err, WEIR_ENOMEM, "restore: out of memory");
                continue;
            }
            *ids = grown;
        }
        (*ids)[(*n_ids)++] = weir_rocks_file_id_of(&sb);
    }
    closedir(d);
    if (rc == 0)
        rc = weir_rocks_fsync_dir(new_dir, err);
    if (rc == 0 && *n_ids > 0)
        qsort(*ids, *n_ids, sizeof **ids, weir_rocks_file_id_cmp);
    return rc;
}

/* ---- Restore -------------------------------------------------------------- */

static uint64_t store_sst_bytes(weir_rocks_store *s) {
    uint64_t total = 0, v;
    for (size_t i = 0; i < s->n_handles; i++)
        if (rocksdb_property_int_cf(s->db, s->handles[i], "rocksdb.total-sst-files-size", &v) == 0)
            total += v;
    return total;
}

weir_rocks_store *weir_rocks_store_restore(const char *new_dir,
                                           const char *const *checkpoint_dirs,
                                           size_t n_dirs, uint32_t first, uint32_t last,
                                           const char *const *cfs, size_t n_cf,
                                           const weir_rocks_options *opts,
                                           weir_rocks_restore_stats *stats, weir_error *err) {
    int64_t t0 = weir_rocks_now_us();
    weir_rocks_restore_stats st = {0};
    size_t budget;
    struct stat sb;
    if (!new_dir || (n_dirs > 0 && !checkpoint_dirs) || first > last ||
        last >= WEIR_MAX_PARALLELISM_LIMIT) {
        weir_error_set(err, WEIR_EINVAL, "restore: bad arguments (key-group range [%u, %u])",
                       first, last);
        return NULL;
    }
    if (weir_rocks_budget(opts, &budget, err) != 0)
        return NULL;
    if (lstat(new_dir, &sb) == 0) {
        weir_error_set(err, WEIR_ESTATE, "restore: %s already exists", new_dir);
        return NULL;
    }
    char *tmp_dir = NULL;
    if (asprintf(&tmp_dir, "%s.restore-tmp", new_dir) < 0) {
        weir_error_set(err, WEIR_ENOMEM, "restore: out of memory");
        return NULL;
    }
    weir_rocks_store *store = NULL;
    source src = {0};
    weir_rocks_file_id *ids = NULL;
    size_t n_ids = 0;
    rocksdb_options_t *ro_opts = NULL;
    unsigned char *relevant = NULL; /* [n_dirs]: has keys in range */
    int rc = weir_rocks_store_remove_dir(tmp_dir, err);
    if (rc == 0 && mkdir(tmp_dir, 0755) != 0)
        rc = weir_error_sys(err, WEIR_EIO, errno, "restore: mkdir %s", tmp_dir);
    if (rc != 0)
        goto fail;
    ro_opts = weir_rocks_build_options(NULL, WEIR_ROCKS_STORE_MIN_BUDGET_BYTES, NULL, 1);
    rocksdb_options_set_create_if_missing(ro_opts, 0);
    rocksdb_options_set_db_log_dir(ro_opts, tmp_dir);

    progress p = {opts ? opts->restore_progress : NULL, opts ? opts->restore_progress_ctx : NULL,
                  0, 0, 0};
    uint8_t lo[2], hi[2];
    weir_rocks_store_key_encode(first, NULL, 0, lo, 2);
    weir_rocks_store_key_encode(last + 1, NULL, 0, hi, 2);

    /* Survey every source: its share of the range (for progress) and whether
     * it has keys in range at all. With one source holding keys in range,
     * and only such keys (a restart with the same parallelism), link it. */
    relevant = calloc(n_dirs + 1, sizeof *relevant);
    if (!relevant) {
        weir_error_set(err, WEIR_ENOMEM, "restore: out of memory");
        goto fail;
    }
    size_t n_relevant = 0, only = 0;
    int only_inside = 0;
    for (size_t d = 0; d < n_dirs; d++) {
        if ((rc = source_open(&src, checkpoint_dirs[d], cfs, n_cf, ro_opts, err)) != 0)
            goto fail;
        int any, all;
        survey(&src, n_cf, first, last, lo, hi, &any, &all);
        for (size_t c = 0; c < n_cf; c++)
            if (src.by_cf[c])
                p.total_bytes += approx_bytes(src.db, src.by_cf[c], lo, 2, hi, 2);
        source_close(&src);
        if (any) {
            relevant[d] = 1;
            n_relevant++;
            only = d;
            only_inside = all;
        }
    }
    if (n_relevant == 1 && only_inside) {
        rc = link_files(checkpoint_dirs[only], new_dir, &ids, &n_ids, err);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            if (!(store = weir_rocks_open_store(new_dir, cfs, n_cf, opts, 1, err)))
                goto fail;
            store->prev_ssts = ids;
            store->n_prev_ssts = n_ids;
            ids = NULL;
            st.linked = 1;
            goto done;
        }
        free(ids); /* another file system: copy instead */
        ids = NULL;
        n_ids = 0;
        if ((rc = weir_rocks_store_remove_dir(new_dir, err)) != 0)
            goto fail;
    }

    if (!(store = weir_rocks_open_store(new_dir, cfs, n_cf, opts, 0, err)))
        goto fail;
    unsigned file_seq = 0;
    for (size_t d = 0; d < n_dirs; d++) {
        if (!relevant[d])
            continue;
        if ((rc = source_open(&src, checkpoint_dirs[d], cfs, n_cf, ro_opts, err)) != 0)
            goto fail;
        for (size_t c = 0; c < n_cf && rc == 0; c++)
            if (src.by_cf[c])
                rc = copy_cf(store, c, src.db, src.by_cf[c], tmp_dir, &file_seq, lo, hi, &p,
                             &st, err);
        source_close(&src);
        if (rc != 0)
            goto fail;
    }
done:
    st.sst_bytes = store_sst_bytes(store);
    p.base_bytes = p.total_bytes;
    (void)progress_report(&p, p.total_bytes); /* the last report cannot stop it */
    weir_rocks_store_remove_dir(tmp_dir, NULL);
    free(tmp_dir);
    free(relevant);
    rocksdb_options_destroy(ro_opts);
    st.duration_us = weir_rocks_now_us() - t0;
    if (stats)
        *stats = st;
    return store;
fail:
    source_close(&src);
    weir_rocks_store_close(store);
    weir_rocks_store_remove_dir(new_dir, NULL); /* (1): it did not exist before */
    weir_rocks_store_remove_dir(tmp_dir, NULL);
    free(tmp_dir);
    free(ids);
    free(relevant);
    if (ro_opts)
        rocksdb_options_destroy(ro_opts);
    return NULL;
}
