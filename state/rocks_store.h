/* state/rocks_store.h -- one RocksDB instance per worker thread for keyed
 * window state: a column family per windowed operator, keys prefixed by their
 * key group, incremental checkpoints, restore by key-group range.
 *
 * Design. A worker owns one store (DESIGN §4 "one RocksDB per worker"). Each
 * windowed operator is one column family, named by the operator. A stored key is
 *
 *     OFFSET SIZE DESCRIPTION
 *     0      2    key group, unsigned 16-bit big-endian (0 <= key_group < 32768)
 *     2      n    the caller's key bytes (operators: key bytes, window start/end)
 *
 * so all entries of one key group, and of a key-group range, are one contiguous
 * range in key order (DESIGN §4). Values are the caller's bytes (protobuf-encoded
 * accumulators; this module never looks inside). The caller passes the key group
 * and its key bytes separately; the prefix is added here (weir_rocks_store_key_*
 * below show the format for tools and tests).
 *
 * Writes go through a batch (put/delete) applied with weir_rocks_store_write;
 * at a barrier the worker writes its dirty entries (incremental, DESIGN §3) and
 * calls weir_rocks_store_checkpoint, which flushes the memtables and makes a
 * RocksDB checkpoint: hard links to the immutable SST files plus a copy of the
 * small MANIFEST/OPTIONS/CURRENT files. Only SST files written since the last
 * checkpoint cost space (like Flink's incremental RocksDB checkpoints); their
 * size is reported as new_sst_bytes. weir_rocks_store_restore builds a fresh
 * store from old checkpoints for a key-group range, so a job restored with
 * another parallelism reassigns whole key groups (SPEC §9).
 *
 * Invariants:
 *  (1) Every key in a store starts with the 2-byte big-endian key group,
 *      key_group < WEIR_MAX_PARALLELISM_LIMIT (SPEC §2: max_parallelism <= 32768).
 *  (2) The write-ahead log is disabled. The live store is never reopened after
 *      a crash: state is rebuilt from the last complete checkpoint into a fresh
 *      directory (DESIGN §4 "Restore"), so what a WAL would protect -- writes
 *      since the last checkpoint -- is exactly what a restore discards anyway.
 *      A checkpoint flushes every memtable first, so it never depends on a WAL.
 *  (3) A checkpoint contains every write made through this store before the
 *      call and nothing after it (the store is used by one thread, which is
 *      inside the call; RocksDB never modifies an SST file once written, so the
 *      hard links cannot change later).
 *  (4) Restore reads old checkpoint directories read-only and never opens a live
 *      store; the new store holds exactly the entries of the old checkpoints whose
 *      key group is in [key_group_first, key_group_last].
 *  (5) RocksDB memory of one store (memtables + block cache, incl. index and
 *      filter blocks) stays within memory_budget_bytes plus the small uncharged
 *      overhead listed under "Memory budget" below (SPEC §2 state.memory).
 *
 * Memory budget (weir_rocks_options.memory_budget_bytes = B; RocksDB 7.8's C API
 * has no WriteBufferManager that charges memtables to the cache, so B is divided
 * explicitly):
 *   - block cache: B/2, LRU with strict capacity limit; index and filter blocks
 *     are cached in it (cache_index_and_filter_blocks) so they are charged too;
 *   - memtables: B/4 for all column families together (db_write_buffer_size),
 *     write_buffer_size = B/8 per column family, max_write_buffer_number = 2;
 *   - the last B/4 is headroom for an immutable memtable while it is flushed and
 *     for what RocksDB does not charge anywhere: table-reader objects, flush and
 *     compaction buffers, iterators, thread stacks.
 * The strict cache shards its capacity (>= 512 KB per shard) and fails a read
 * whose index block cannot fit; index and filters are therefore partitioned
 * into ~4 KB blocks, whatever the key length or file size.
 * Measured: 1M entries of 100 bytes with a 16 MB budget grow RSS by ~21 MB
 * (tests/rocks_store_test.c, memory_stays_near_the_budget...).
 *
 * Compression: LZ4 on every level by default (WEIR_ROCKS_COMPRESSION_NONE turns
 * it off); 20% less disk than none at the same speed (bench/rocks_bench.c).
 *
 * Compaction (checkpoint-heavy use): see the comment above
 * weir_rocks_build_options() in rocks_store.c for the measured choice and why.
 * Restore is implemented in rocks_restore.c.
 *
 * Ownership: a store owns everything it allocates; a batch belongs to one store
 * and must be freed before it. Values returned by weir_rocks_store_get are owned
 * by the caller and freed with weir_rocks_store_value_free.
 * Thread: a store (and its batches) is used by one thread at a time -- its
 * worker; different stores may be used by different threads at once.
 * Known limits: RocksDB's own LOG goes to a file in the store dir at WARN level
 * (the 7.8 C API cannot route it to weir_log); a get allocates its value inside
 * RocksDB's C API (one malloc per hit). */
#ifndef WEIR_STATE_ROCKS_STORE_H
#define WEIR_STATE_ROCKS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/key_group.h"

/* ---- Stored key format (invariant (1)) ------------------------------------ */

#define WEIR_ROCKS_STORE_KEY_GROUP_BYTES 2

/* Writes the stored form of (key_group, key) into out: 2-byte big-endian key
 * group, then key_len bytes of key. Returns the stored length (key_len + 2);
 * writes nothing if cap is smaller than that (snprintf-style).
 *   key  borrows key_len bytes (may be NULL when key_len == 0).
 *   out  borrows cap bytes of caller storage. */
static inline size_t weir_rocks_store_key_encode(uint32_t key_group, const void *key,
                                                 size_t key_len, uint8_t *out, size_t cap) {
    size_t n = key_len + WEIR_ROCKS_STORE_KEY_GROUP_BYTES;
    if (cap < n)
        return n;
    out[0] = (uint8_t)(key_group >> 8);
    out[1] = (uint8_t)key_group;
    for (size_t i = 0; i < key_len; i++)
        out[2 + i] = ((const uint8_t *)key)[i];
    return n;
}

/* Key group of a stored key (at least 2 bytes).  stored_key borrows. */
static inline uint32_t weir_rocks_store_key_group(const void *stored_key) {
    const uint8_t *p = stored_key;
    return ((uint32_t)p[0] << 8) | p[1];
}

/* ---- Options -------------------------------------------------------------- */

#define WEIR_ROCKS_STORE_DEFAULT_BUDGET_BYTES ((size_t)64 << 20)
#define WEIR_ROCKS_STORE_MIN_BUDGET_BYTES ((size_t)4 << 20)

enum {
    WEIR_ROCKS_COMPRESSION_LZ4 = 0,  /* default */
    WEIR_ROCKS_COMPRESSION_NONE = 1,
};

enum {
    WEIR_ROCKS_COMPACTION_DEFAULT = 0,   /* what rocks_store.c chose (see there) */
    WEIR_ROCKS_COMPACTION_LEVEL = 1,     /* leveled, RocksDB's own defaults for L0 */
    WEIR_ROCKS_COMPACTION_UNIVERSAL = 2, /* tiered; for comparison in the benchmark */
};

/* Restore progress: done_bytes and total_bytes estimate on-disk bytes of the
 * key-group range in the old checkpoints (RocksDB approximate sizes; total may be
 * 0 for tiny data); n_entries counts entries copied so far. Called from the
 * restoring thread about every 4096 entries and once at the end (done == total).
 * Return 0 to go on, anything else to stop the restore (WEIR_EINTR).
 *   ctx  borrowed from weir_rocks_options.restore_progress_ctx. */
typedef int (*weir_rocks_store_progress_fn)(void *ctx, uint64_t done_bytes,
                                            uint64_t total_bytes, uint64_t n_entries);

/* Zero-initialized means every default. */
typedef struct weir_rocks_options {
    size_t memory_budget_bytes; /* this store's share of state.memory (SPEC §2):
                                   memtables + block cache; 0 = 64 MB default;
                                   < WEIR_ROCKS_STORE_MIN_BUDGET_BYTES: WEIR_EINVAL */
    int compression;            /* WEIR_ROCKS_COMPRESSION_* */
    int compaction;             /* WEIR_ROCKS_COMPACTION_* */
    weir_rocks_store_progress_fn restore_progress; /* restore only; may be NULL */
    void *restore_progress_ctx;                    /* borrowed, passed back */
} weir_rocks_options;

/* ---- Store ---------------------------------------------------------------- */

typedef struct weir_rocks_store weir_rocks_store; /* opaque */

/* Opens the store at dir, creating dir (not its parents) if missing, with one column
 * family per name in column_families (operator names, non-empty, distinct).
 * Column families of an existing store that are not named stay on disk but are
 * not reachable. Column family i of the API is column_families[i].
 *   dir, column_families  borrow (names are copied).
 *   opts  borrows; NULL means defaults.
 * Returns owned (weir_rocks_store_close), or NULL: WEIR_EINVAL (bad names or
 * budget), WEIR_EIO (RocksDB's text in err->msg, e.g. the dir is locked by
 * another open store), WEIR_ENOMEM.
 * Thread: any. */
weir_rocks_store *weir_rocks_store_open(const char *dir, const char *const *column_families,
                                        size_t n_cf, const weir_rocks_options *opts,
                                        weir_error *err);

/* Closes the store (flushing nothing: unflushed writes are dropped, see (2)).
 * NULL is a no-op. Every batch of the store must be freed before. */
void weir_rocks_store_close(weir_rocks_store *store);

/* Number of column families given at open, and the index of one by name
 * (WEIR_ENOTFOUND if it is not one of them). name borrows. */
size_t weir_rocks_store_cf_count(const weir_rocks_store *store);
int weir_rocks_store_cf_index(const weir_rocks_store *store, const char *name);

/* ---- Batches and writes --------------------------------------------------- */

typedef struct weir_rocks_batch weir_rocks_batch; /* opaque */

/* A batch of puts and deletes for store (borrowed; must outlive the batch).
 * Returns owned (weir_rocks_store_batch_free), or NULL (WEIR_ENOMEM). */
weir_rocks_batch *weir_rocks_store_batch_new(weir_rocks_store *store, weir_error *err);
void weir_rocks_store_batch_free(weir_rocks_batch *batch); /* NULL is a no-op */

/* Adds a put (or a delete) of (key_group, key) in column family cf. Key and
 * value bytes are copied into the batch. Later operations on the same key win.
 *   key, value  borrow (may be NULL with length 0).
 * Returns 0, or WEIR_EINVAL if cf >= the column family count or key_group >=
 * WEIR_MAX_PARALLELISM_LIMIT (the batch is then unchanged). */
int weir_rocks_store_batch_put(weir_rocks_batch *batch, size_t cf, uint32_t key_group,
                               const void *key, size_t key_len, const void *value,
                               size_t value_len);
int weir_rocks_store_batch_delete(weir_rocks_batch *batch, size_t cf, uint32_t key_group,
                                  const void *key, size_t key_len);

/* Operations in the batch, and the bytes weir asked RocksDB to write: stored
 * key (incl. the 2-byte prefix) + value per put, stored key per delete. */
size_t weir_rocks_store_batch_count(const weir_rocks_batch *batch);
uint64_t weir_rocks_store_batch_bytes(const weir_rocks_batch *batch);

/* Empties the batch for reuse (keeps its buffer). */
void weir_rocks_store_batch_clear(weir_rocks_batch *batch);

/* Applies the batch atomically (no WAL, invariant (2)); the batch is unchanged
 * (clear it to reuse). One batch per checkpoint is the normal use, but a worker
 * may write its dirty entries in several batches (e.g. every few MB) to bound
 * memory: only the state at weir_rocks_store_checkpoint time matters.
 * Returns 0, or WEIR_EIO / WEIR_ENOMEM with RocksDB's text. */
int weir_rocks_store_write(weir_rocks_store *store, weir_rocks_batch *batch, weir_error *err);

/* ---- Reads ---------------------------------------------------------------- */

/* Looks up (key_group, key) in column family cf: used to read state spilled out
 * of memory back on demand (DESIGN §4). On a hit *value is owned by the caller
 * (free with weir_rocks_store_value_free) and *value_len set; on a miss *value
 * is NULL and *value_len 0.
 *   key  borrows. value, value_len  borrow caller storage for the results.
 * Returns 1 (found), 0 (not found), or WEIR_EINVAL / WEIR_EIO / WEIR_ENOMEM
 * (the strict block cache could not make room: too many pinned blocks). */
int weir_rocks_store_get(weir_rocks_store *store, size_t cf, uint32_t key_group,
                         const void *key, size_t key_len, void **value, size_t *value_len,
                         weir_error *err);

/* Frees a value returned by weir_rocks_store_get. NULL is a no-op. */
void weir_rocks_store_value_free(void *value);

/* Called per entry by weir_rocks_store_iter_key_groups with the entry's key
 * group, its key bytes (without the prefix) and value; both are borrowed until
 * the callback returns. Return 0 to go on, > 0 to stop early (not an error),
 * < 0 to stop with that error code. */
typedef int (*weir_rocks_store_entry_fn)(void *ctx, uint32_t key_group, const void *key,
                                         size_t key_len, const void *value,
                                         size_t value_len);

/* Visits every entry of column family cf with key group in [key_group_first,
 * key_group_last] (both inclusive), in stored-key order (key group, then key
 * bytes, memcmp). Reads a consistent snapshot taken at the call; does not fill
 * the block cache (a range scan would evict the hot blocks).
 *   ctx  borrowed, passed back.
 * Returns the number of entries visited (>= 0), the callback's negative code,
 * WEIR_EINVAL (bad cf or range) or WEIR_EIO. */
int64_t weir_rocks_store_iter_key_groups(weir_rocks_store *store, size_t cf,
                                         uint32_t key_group_first, uint32_t key_group_last,
                                         weir_rocks_store_entry_fn fn, void *ctx,
                                         weir_error *err);

/* Visits every entry of column family cf whose stored key starts with
 * (key_group, prefix[0..prefix_len)), in key order: one seek, then a short scan
 * (operators/window_spill.c reads all sessions of one key this way). Reads the
 * live data (no snapshot) and fills the block cache like a get. The callback
 * gets key bytes without the key-group prefix, as iter_key_groups does.
 *   prefix, ctx  borrow.
 * Returns the number of entries visited, the callback's negative code,
 * WEIR_EINVAL (bad cf or key group, prefix longer than 1 KB) or WEIR_EIO. */
int64_t weir_rocks_store_iter_prefix(weir_rocks_store *store, size_t cf, uint32_t key_group,
                                     const void *prefix, size_t prefix_len,
                                     weir_rocks_store_entry_fn fn, void *ctx, weir_error *err);

/* ---- Checkpoints ---------------------------------------------------------- */

typedef struct weir_rocks_checkpoint_stats {
    uint64_t new_sst_bytes;   /* SST files not in this store's previous checkpoint
                                 (same inode, size, mtime = same file; all of them
                                 for the first checkpoint after open; after a
                                 linked restore, the restored files count as old) */
    uint64_t total_sst_bytes; /* all SST files the checkpoint references */
    uint64_t copied_bytes;    /* other files, copied: MANIFEST, OPTIONS, CURRENT */
    uint32_t n_sst_files;
    uint32_t n_new_sst_files;
    int64_t flush_us;         /* time to flush the memtables */
    int64_t duration_us;      /* the whole call */
} weir_rocks_checkpoint_stats;

/* Flushes every memtable and creates a RocksDB checkpoint in dir (which must not
 * exist; its parent must, on the same file system as the store: SST files are
 * hard-linked -- on another file system RocksDB copies them, and every
 * checkpoint costs the full size). The checkpoint is durable when this returns:
 * RocksDB syncs the SST and copied files, builds the dir as DIR.tmp and renames
 * it; the dir and its parent are fsynced here. The checkpoint dir is
 * self-contained: deleting older checkpoints or the live store never affects it;
 * put nothing else in it. A crash during the call can leave DIR.tmp behind:
 * remove it (weir_rocks_store_remove_dir) when cleaning up incomplete
 * checkpoints. stats (may be NULL) borrows caller storage.
 * Returns 0, WEIR_ESTATE (dir exists), WEIR_EIO. Invariant (3). */
int weir_rocks_store_checkpoint(weir_rocks_store *store, const char *dir,
                                weir_rocks_checkpoint_stats *stats, weir_error *err);

typedef struct weir_rocks_restore_stats {
    int linked;            /* 1: one checkpoint was hard-linked whole (it alone
                              held entries in range, and no others); 0: copied */
    uint64_t n_entries;    /* entries copied (0 when linked: not counted) */
    uint64_t entry_bytes;  /* stored key + value bytes copied (0 when linked) */
    uint64_t sst_bytes;    /* SST bytes of the new store after the restore */
    int64_t duration_us;
} weir_rocks_restore_stats;

/* Builds a fresh store at new_dir (which must not exist: remove a leftover of
 * an interrupted restore with weir_rocks_store_remove_dir first) holding exactly
 * the entries of column families column_families[] whose key group is in
 * [key_group_first, key_group_last], read from the checkpoint dirs (opened
 * read-only; several dirs normally hold disjoint key groups -- if two hold the
 * same key, the later dir wins), and opens it. Invariant (4), SPEC §9.
 *   Fast path: when exactly one of the checkpoint dirs has entries in the
 *   range, and no entries outside it (a restart with the same parallelism: pass
 *   all old workers' dirs, the survey finds the one), it is hard-linked instead
 *   of copied: O(files), and the next checkpoint's new_sst_bytes stays
 *   incremental. Dirs with no entries in range are not scanned.
 *   Copy path: entries are scanned in key order into SST files (16 MB each) that
 *   are ingested directly (no memtables, no write stall, no compaction needed).
 * A column family missing from a checkpoint contributes nothing (a new
 * operator); column families of a checkpoint that are not named are ignored
 * (a removed operator). n_checkpoint_dirs == 0 gives an empty store.
 *   new_dir, checkpoint_dirs, column_families  borrow.
 *   opts  borrows (NULL: defaults); its restore_progress is called as it goes.
 *   stats  borrows caller storage, may be NULL.
 * Returns owned (weir_rocks_store_close), or NULL: WEIR_EINVAL, WEIR_ESTATE
 * (new_dir exists), WEIR_ENOTFOUND (a checkpoint dir is missing or not a
 * RocksDB checkpoint), WEIR_EIO, WEIR_EINTR (the progress callback stopped it;
 * new_dir is then removed). */
weir_rocks_store *weir_rocks_store_restore(const char *new_dir,
                                           const char *const *checkpoint_dirs,
                                           size_t n_checkpoint_dirs,
                                           uint32_t key_group_first, uint32_t key_group_last,
                                           const char *const *column_families, size_t n_cf,
                                           const weir_rocks_options *opts,
                                           weir_rocks_restore_stats *stats, weir_error *err);

/* ---- Memory and files ----------------------------------------------------- */

typedef struct weir_rocks_memory {
    uint64_t budget_bytes;             /* memory_budget_bytes in effect */
    uint64_t memtable_bytes;           /* all column families, active + immutable */
    uint64_t block_cache_bytes;        /* usage, incl. index and filter blocks */
    uint64_t block_cache_pinned_bytes; /* part of it pinned by readers */
    uint64_t table_readers_bytes;      /* not charged to the cache */
} weir_rocks_memory;

/* Fills out (borrows caller storage) with the store's current RocksDB memory. */
void weir_rocks_store_memory_usage(weir_rocks_store *store, weir_rocks_memory *out);

/* Removes dir and everything under it (a closed store, a checkpoint, a leftover
 * restore); a missing dir is not an error. Removing a checkpoint never affects
 * other checkpoints or stores (hard links). dir borrows.
 * Returns 0 or WEIR_EIO. Thread: any (not on an open store's dir). */
int weir_rocks_store_remove_dir(const char *dir, weir_error *err);

#endif
