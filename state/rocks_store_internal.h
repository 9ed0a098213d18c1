/* state/rocks_store_internal.h -- what rocks_store.c and rocks_restore.c share
 * (private; callers use rocks_store.h).
 *
 * The store struct, the column-family naming rule and the helpers the restore
 * path reuses: option building, opening with column families, RocksDB error
 * text, range iterators, checkpoint-dir scanning.
 * Invariants: (1)-(5) of rocks_store.h; in addition
 *   (6) cf[i] == handles[1 + i] is RocksDB column family CF_PREFIX + cf_names[i];
 *       handles[0] is "default" (always empty);
 *   (7) prev_ssts is sorted by weir_rocks_file_id_cmp (bsearch in scan).
 * Thread: as rocks_store.h (one thread per store). */
#ifndef WEIR_STATE_ROCKS_STORE_INTERNAL_H
#define WEIR_STATE_ROCKS_STORE_INTERNAL_H

#include <rocksdb/c.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "state/rocks_store.h"

#define WEIR_ROCKS_CF_PREFIX "w:"
/* Target SST size: compaction output and restore files. Small, so that one
 * compaction output file, or one restore file, is quick to write and link. */
#define WEIR_ROCKS_TARGET_FILE_BYTES ((uint64_t)16 << 20)

/* Identity of an SST file: hard links share all four fields. Size and mtime
 * guard against an inode number reused after a checkpoint dir was deleted. */
typedef struct weir_rocks_file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} weir_rocks_file_id;

/* The identity of the file sb describes. */
static inline weir_rocks_file_id weir_rocks_file_id_of(const struct stat *sb) {
    return (weir_rocks_file_id){sb->st_dev, sb->st_ino, sb->st_size,
                                (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec};
}

struct weir_rocks_store {
    rocksdb_t *db;                            /* owned */
    rocksdb_options_t *opts;                  /* owned; DB and every column family */
    rocksdb_cache_t *cache;                   /* owned (a reference) */
    rocksdb_writeoptions_t *wopts;            /* owned; WAL disabled, invariant (2) */
    rocksdb_readoptions_t *ropts;             /* owned; point reads */
    rocksdb_flushoptions_t *fopts;            /* owned; wait = 1 */
    rocksdb_checkpoint_t *checkpointer;       /* owned */
    size_t n_cf;                              /* column families of the API */
    char **cf_names;                          /* owned copies, [n_cf] */
    rocksdb_column_family_handle_t **cf;      /* borrowed: handles + 1, (6) */
    rocksdb_column_family_handle_t **handles; /* owned, [n_handles] */
    size_t n_handles;
    weir_rocks_file_id *prev_ssts;            /* owned, sorted (7) */
    size_t n_prev_ssts;
    size_t budget_bytes;
};

struct weir_rocks_batch {
    weir_rocks_store *store;                  /* borrowed */
    rocksdb_writebatch_t *wb;                 /* owned */
    uint64_t bytes;                           /* see weir_rocks_store_batch_bytes */
};

int64_t weir_rocks_now_us(void);

/* Fills err from a RocksDB errptr (freed here) as "what: RocksDB's text" and
 * returns the code: WEIR_EINVAL, WEIR_ENOTFOUND, WEIR_ENOMEM (strict cache
 * full) or WEIR_EIO. */
int weir_rocks_fail(weir_error *err, char *errptr, const char *what);

/* Returns the memory budget in effect for o (NULL: default) in *budget, or
 * WEIR_EINVAL. */
int weir_rocks_budget(const weir_rocks_options *o, size_t *budget, weir_error *err);

/* Returns owned options (rocksdb_options_destroy) for a store with budget
 * bytes; *cache_out, if not NULL, takes a reference to the block cache. With
 * for_read_only: a small shared non-strict cache and fewer open files (restore
 * sources). */
rocksdb_options_t *weir_rocks_build_options(const weir_rocks_options *o, size_t budget,
                                            rocksdb_cache_t **cache_out, int for_read_only);

/* weir_rocks_store_open, plus: drop_unnamed drops column families with the
 * prefix that are not named (operators no longer in the job). */
weir_rocks_store *weir_rocks_open_store(const char *dir, const char *const *names, size_t n_cf,
                                        const weir_rocks_options *o, int drop_unnamed,
                                        weir_error *err);

/* A forward iterator over the stored keys in [lo, hi) of cf, not filling the
 * cache, positioned at lo. lo, hi (2 bytes each) must outlive it; *ro_out is
 * owned by the caller (destroy after the iterator). */
rocksdb_iterator_t *weir_rocks_range_iter(rocksdb_t *db, rocksdb_column_family_handle_t *cf,
                                          const uint8_t lo[2], const uint8_t hi[2],
                                          size_t readahead_bytes, rocksdb_readoptions_t **ro_out);

int weir_rocks_fsync_dir(const char *path, weir_error *err);

/* Sorting order of weir_rocks_file_id (qsort/bsearch). */
int weir_rocks_file_id_cmp(const void *a, const void *b);

#endif
