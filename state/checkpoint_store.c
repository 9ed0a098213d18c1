/* state/checkpoint_store.c -- checkpoints/ and savepoints/ on disk and the
 * durable _metadata file (see checkpoint_store.h for layout, format, state
 * diagram and invariants (1)-(5)).
 *
 * The store keeps only its paths and the highest id it has seen; everything
 * else is read from the directory on each call, so the disk is the single
 * source of truth after a crash. */
#include "state/checkpoint_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "state/state_dir.h"

struct weir_checkpoint_store {
    char *state_dir;        /* owned */
    char *checkpoints_dir;  /* owned: STATE_DIR/checkpoints */
    char *savepoints_dir;   /* owned: STATE_DIR/savepoints */
    uint64_t max_id;        /* highest chk-<N> seen or created (2) */
};

#define CHK_PREFIX "chk-"
#define CHK_DIGITS 20
#define CHK_NAME_LEN (sizeof CHK_PREFIX - 1 + CHK_DIGITS)
#define TMP_FILE WEIR_CHECKPOINT_METADATA_FILE ".tmp"
#define CLEARING_DIR "checkpoints.clearing"

static char *path_join(const char *a, const char *b) {
    size_t len = strlen(a) + strlen(b) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s/%s", a, b);
    return s;
}

/* "chk-<20 digits>" -> id; 0 for any other name. */
static uint64_t parse_chk_name(const char *name) {
    if (strlen(name) != CHK_NAME_LEN || strncmp(name, CHK_PREFIX, sizeof CHK_PREFIX - 1) != 0)
        return 0;
    uint64_t id = 0;
    for (const char *p = name + sizeof CHK_PREFIX - 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        uint64_t d = (uint64_t)(*p - '0');
        if (id > (UINT64_MAX - d) / 10)
            return 0;
        id = id * 10 + d;
    }
    return id;
}

static bool savepoint_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128 || id[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- listing ------------------------------------------------------------- */

typedef struct id_list {
    uint64_t *ids;
    size_t n, cap;
} id_list;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every chk-<N> id in checkpoints/, ascending. */
static int list_ids(const weir_checkpoint_store *s, id_list *out, weir_error *err) {
    *out = (id_list){0};
    DIR *dir = opendir(s->checkpoints_dir);
    if (!dir)
        return weir_error_sys(err, WEIR_EIO, errno, "checkpoints: opendir %s", s->checkpoints_dir);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno)
                rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoints: readdir %s", s->checkpoints_dir);
            break;
        }
        uint64_t id = parse_chk_name(de->d_name);
        if (id == 0)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 16;
            uint64_t *ids = realloc(out->ids, cap * sizeof *ids);
            if (!ids) {
                rc = weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
                break;
            }
            out->ids = ids;
            out->cap = cap;
        }
        out->ids[out->n++] = id;
    }
    closedir(dir);
    if (rc < 0) {
        free(out->ids);
        *out = (id_list){0};
        return rc;
    }
    if (out->n > 1)
        qsort(out->ids, out->n, sizeof *out->ids, cmp_u64);
    return 0;
}

/* ---- the _metadata file -------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* XXH3-64 of header bytes [0, 20) followed by the payload. */
static uint64_t file_hash(const uint8_t *file, size_t payload_len) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, file, 20);
    XXH3_64bits_update(&st, file + WEIR_CHECKPOINT_HEADER_BYTES, payload_len);
    return XXH3_64bits_digest(&st);
}

static int write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Parent directory of dir ("." when it has no '/'); owned. */
static char *parent_of(const char *dir) {
    char *p = strdup(dir);
    if (!p)
        return NULL;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return strdup(".");
    }
    if (slash == p)
        slash[1] = '\0';
    else
        *slash = '\0';
    return p;
}

int weir_checkpoint_store_write(const char *dir, const weir_checkpoint_meta *m, weir_error *err) {
    uint8_t *payload = NULL, *file = NULL;
    size_t payload_len = 0;
    char *tmp = NULL, *final = NULL, *parent = NULL;
    int fd = -1;
    int rc = weir_checkpoint_meta_encode(m, &payload, &payload_len, err);
    if (rc < 0)
        return rc;
    if (payload_len > WEIR_CHECKPOINT_MAX_PAYLOAD_BYTES) {
        rc = weir_error_set(err, WEIR_EINVAL, "checkpoint %" PRIu64 ": metadata of %zu bytes is over the cap",
                            m->checkpoint_id, payload_len);
        goto done;
    }
    size_t file_len = WEIR_CHECKPOINT_HEADER_BYTES + payload_len;
    file = malloc(file_len);
    tmp = path_join(dir, TMP_FILE);
    final = path_join(dir, WEIR_CHECKPOINT_METADATA_FILE);
    parent = parent_of(dir);
    if (!file || !tmp || !final || !parent) {
        rc = weir_error_set(err, WEIR_ENOMEM, "checkpoint: out of memory");
        goto done;
    }
    memcpy(file, WEIR_CHECKPOINT_MAGIC, 8);
    put_u32(file + 8, WEIR_CHECKPOINT_FORMAT_VERSION);
    put_u64(file + 12, payload_len);
    memcpy(file + WEIR_CHECKPOINT_HEADER_BYTES, payload, payload_len);
    put_u64(file + 20, file_hash(file, payload_len));

    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = weir_error_set(err, WEIR_ESTATE, "checkpoint: %s does not exist (not begun)", dir);
        goto done;
    }
    /* Everything the workers wrote first, then the metadata that makes it count. */
    if ((rc = weir_state_dir_fsync_tree(dir, err)) < 0)
        goto done;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoint: create %s", tmp);
        goto done;
    }
    if (write_all(fd, file, file_len) != 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoint: write %s", tmp);
        goto done;
    }
    if (fsync(fd) != 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoint: fsync %s", tmp);
        goto done;
    }
    int crc = close(fd);
    fd = -1;
    if (crc != 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoint: close %s", tmp);
        goto done;
    }
    if (rename(tmp, final) != 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoint: rename %s", final);
        goto done;
    }
    if ((rc = weir_state_dir_fsync_dir(dir, err)) < 0 || (rc = weir_state_dir_fsync_dir(parent, err)) < 0)
        goto done;
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    free(payload);
    free(file);
    free(tmp);
    free(final);
    free(parent);
    return rc;
}

/* Reads and checks dir/_metadata; messages start with label. */
static int read_meta(const char *dir, const char *label, weir_checkpoint_meta *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    char *path = path_join(dir, WEIR_CHECKPOINT_METADATA_FILE);
    if (!path)
        return weir_error_set(err, WEIR_ENOMEM, "%s: out of memory", label);
    uint8_t *file = NULL;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) {
        if (errno == ENOENT)
            return weir_error_set(err, WEIR_ENOTFOUND, "%s: no %s (incomplete)", label,
                                  WEIR_CHECKPOINT_METADATA_FILE);
        return weir_error_sys(err, WEIR_EIO, errno, "%s: open %s", label, WEIR_CHECKPOINT_METADATA_FILE);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = weir_error_sys(err, WEIR_EIO, errno, "%s: stat %s", label, WEIR_CHECKPOINT_METADATA_FILE);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < WEIR_CHECKPOINT_HEADER_BYTES) {
        rc = weir_error_set(err, WEIR_EINVAL, "%s: %s truncated (%" PRIu64 " bytes, the header needs %d)",
                            label, WEIR_CHECKPOINT_METADATA_FILE, size, WEIR_CHECKPOINT_HEADER_BYTES);
        goto done;
    }
    if (size > WEIR_CHECKPOINT_HEADER_BYTES + WEIR_CHECKPOINT_MAX_PAYLOAD_BYTES) {
        rc = weir_error_set(err, WEIR_EINVAL, "%s: %s too large (%" PRIu64 " bytes)", label,
                            WEIR_CHECKPOINT_METADATA_FILE, size);
        goto done;
    }
    file = malloc((size_t)size);
    if (!file) {
        rc = weir_error_set(err, WEIR_ENOMEM, "%s: out of memory", label);
        goto done;
    }
    for (size_t got = 0; got < size;) {
        ssize_t n = pread(fd, file + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = weir_error_sys(err, WEIR_EIO, errno, "%s: read %s", label, WEIR_CHECKPOINT_METADATA_FILE);
            goto done;
        }
        if (n == 0) {
            rc = weir_error_set(err, WEIR_EINVAL, "%s: %s shrank while being read", label,
                                WEIR_CHECKPOINT_METADATA_FILE);
            goto done;
        }
        got += (size_t)n;
    }
    if (memcmp(file, WEIR_CHECKPOINT_MAGIC, 8) != 0) {
        rc = weir_error_set(err, WEIR_EINVAL, "%s: %s has a bad magic (not a weir checkpoint)", label,
                            WEIR_CHECKPOINT_METADATA_FILE);
        goto done;
    }
    uint64_t payload_len = get_u64(file + 12);
    if (payload_len != size - WEIR_CHECKPOINT_HEADER_BYTES) {
        rc = weir_error_set(err, WEIR_EINVAL,
                            "%s: %s truncated or padded (header says %" PRIu64 " payload bytes, file has %" PRIu64
                            ")",
                            label, WEIR_CHECKPOINT_METADATA_FILE, payload_len, size - WEIR_CHECKPOINT_HEADER_BYTES);
        goto done;
    }
    uint64_t stored = get_u64(file + 20), computed = file_hash(file, (size_t)payload_len);
    if (stored != computed) {
        rc = weir_error_set(err, WEIR_EINVAL,
                            "%s: %s hash mismatch (stored 0x%016" PRIx64 ", computed 0x%016" PRIx64 ")", label,
                            WEIR_CHECKPOINT_METADATA_FILE, stored, computed);
        goto done;
    }
    uint32_t version = get_u32(file + 8);
    if (version < WEIR_CHECKPOINT_FORMAT_VERSION_MIN) {
        rc = weir_error_set(err, WEIR_EINVAL, "%s: %s has invalid format version %u", label,
                            WEIR_CHECKPOINT_METADATA_FILE, version);
        goto done;
    }
    if (version > WEIR_CHECKPOINT_FORMAT_VERSION) {
        rc = weir_error_set(err, WEIR_ESTATE,
                            "%s: format version %u was written by a newer weir (this one reads up to %u)",
                            label, version, WEIR_CHECKPOINT_FORMAT_VERSION);
        goto done;
    }
    weir_error derr;
    rc = weir_checkpoint_meta_decode(file + WEIR_CHECKPOINT_HEADER_BYTES, (size_t)payload_len, out, &derr);
    if (rc < 0) {
        rc = weir_error_set(err, rc, "%s: %s", label, derr.msg);
        goto done;
    }
    if (out->format_version != version) {
        weir_checkpoint_meta_fini(out);
        rc = weir_error_set(err, WEIR_EINVAL, "%s: payload format version %u differs from the header's %u",
                            label, out->format_version, version);
        goto done;
    }
done:
    close(fd);
    free(file);
    return rc;
}

int weir_checkpoint_store_read(const char *dir, weir_checkpoint_meta *meta_out, weir_error *err) {
    return read_meta(dir, dir, meta_out, err);
}

/* Reads chk-<id> and checks (1) including id == N. */
static int read_chk(const weir_checkpoint_store *s, uint64_t id, weir_checkpoint_meta *out, weir_error *err) {
    char *dir = weir_checkpoint_store_path(s, id);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
    char label[48];
    snprintf(label, sizeof label, "checkpoint %" PRIu64, id);
    int rc = read_meta(dir, label, out, err);
    free(dir);
    if (rc == 0 && out->checkpoint_id != id) {
        uint64_t got = out->checkpoint_id;
        weir_checkpoint_meta_fini(out);
        rc = weir_error_set(err, WEIR_EINVAL, "%s: its metadata says checkpoint %" PRIu64, label, got);
    }
    return rc;
}

/* ---- store --------------------------------------------------------------- */

/* Deletes a checkpoint or savepoint dir safely (4). */
static int delete_dir(const char *dir, weir_error *err) {
    char *meta = path_join(dir, WEIR_CHECKPOINT_METADATA_FILE);
    if (!meta)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
    int rc = 0;
    if (unlink(meta) == 0)
        rc = weir_state_dir_fsync_dir(dir, err);
    else if (errno != ENOENT && errno != ENOTDIR)
        rc = weir_error_sys(err, WEIR_EIO, errno, "delete %s", meta);
    free(meta);
    if (rc == 0)
        rc = weir_state_dir_remove_tree(dir, err);
    return rc;
}

weir_checkpoint_store *weir_checkpoint_store_open(const char *state_dir, weir_error *err) {
    weir_checkpoint_store *s = calloc(1, sizeof *s);
    char *clearing = NULL;
    if (!s || !(s->state_dir = strdup(state_dir)) ||
        !(s->checkpoints_dir = path_join(state_dir, "checkpoints")) ||
        !(s->savepoints_dir = path_join(state_dir, "savepoints")) ||
        !(clearing = path_join(state_dir, CLEARING_DIR))) {
        weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
        goto fail;
    }
    /* (5): the leftover of an interrupted clear. */
    if (weir_state_dir_remove_tree(clearing, err) < 0 || weir_state_dir_mkdirs(s->checkpoints_dir, err) < 0)
        goto fail;
    free(clearing);
    id_list ids;
    if (list_ids(s, &ids, err) < 0) {
        weir_checkpoint_store_close(s);
        return NULL;
    }
    s->max_id = ids.n ? ids.ids[ids.n - 1] : 0;
    free(ids.ids);
    return s;
fail:
    free(clearing);
    weir_checkpoint_store_close(s);
    return NULL;
}

void weir_checkpoint_store_close(weir_checkpoint_store *s) {
    if (!s)
        return;
    free(s->state_dir);
    free(s->checkpoints_dir);
    free(s->savepoints_dir);
    free(s);
}

uint64_t weir_checkpoint_store_next_id(const weir_checkpoint_store *s) {
    return s->max_id + 1;
}

char *weir_checkpoint_store_path(const weir_checkpoint_store *s, uint64_t id) {
    char name[CHK_NAME_LEN + 1];
    snprintf(name, sizeof name, CHK_PREFIX "%020" PRIu64, id);
    return path_join(s->checkpoints_dir, name);
}

/* mkdir of a pending dir; EEXIST is WEIR_ESTATE. */
static int make_pending(const char *dir, const char *what, char **path_out, weir_error *err) {
    if (mkdir(dir, 0755) != 0) {
        int e = errno;
        if (e == EEXIST)
            return weir_error_set(err, WEIR_ESTATE, "%s: %s already exists", what, dir);
        return weir_error_sys(err, WEIR_EIO, e, "%s: mkdir %s", what, dir);
    }
    if (path_out && !(*path_out = strdup(dir))) {
        rmdir(dir);
        return weir_error_set(err, WEIR_ENOMEM, "%s: out of memory", what);
    }
    return 0;
}

int weir_checkpoint_store_begin(weir_checkpoint_store *s, uint64_t id, char **path_out, weir_error *err) {
    if (path_out)
        *path_out = NULL;
    if (id == 0)
        return weir_error_set(err, WEIR_EINVAL, "checkpoint: id 0 is not valid");
    if (id <= s->max_id) /* (2) */
        return weir_error_set(err, WEIR_ESTATE, "checkpoint %" PRIu64 ": ids must increase (next is %" PRIu64 ")",
                              id, s->max_id + 1);
    char *dir = weir_checkpoint_store_path(s, id);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoint: out of memory");
    char what[48];
    snprintf(what, sizeof what, "checkpoint %" PRIu64, id);
    int rc = make_pending(dir, what, path_out, err);
    free(dir);
    if (rc == 0)
        s->max_id = id;
    return rc;
}

int weir_checkpoint_store_commit(weir_checkpoint_store *s, const weir_checkpoint_meta *m, weir_error *err) {
    char *dir;
    if (m->savepoint) {
        if (!savepoint_id_ok(m->savepoint_id))
            return weir_error_set(err, WEIR_EINVAL, "savepoint: invalid id \"%s\"",
                                  m->savepoint_id ? m->savepoint_id : "");
        dir = weir_checkpoint_store_savepoint_path(s->state_dir, m->savepoint_id);
    } else {
        dir = weir_checkpoint_store_path(s, m->checkpoint_id);
    }
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoint: out of memory");
    int rc = weir_checkpoint_store_write(dir, m, err);
    free(dir);
    return rc;
}

int weir_checkpoint_store_abort(weir_checkpoint_store *s, uint64_t id, weir_error *err) {
    char *dir = weir_checkpoint_store_path(s, id);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoint: out of memory");
    int rc = delete_dir(dir, err);
    free(dir);
    return rc;
}

int weir_checkpoint_store_latest(weir_checkpoint_store *s, weir_checkpoint_meta *meta_out, char **path_out,
                                 weir_checkpoint_skip_fn *on_skip, void *ctx, weir_error *err) {
    memset(meta_out, 0, sizeof *meta_out);
    if (path_out)
        *path_out = NULL;
    id_list ids;
    int rc = list_ids(s, &ids, err);
    if (rc < 0)
        return rc;
    rc = 0;
    for (size_t i = ids.n; i-- > 0;) {
        weir_error why = {0};
        int r = read_chk(s, ids.ids[i], meta_out, &why);
        if (r == 0) {
            if (path_out && !(*path_out = weir_checkpoint_store_path(s, ids.ids[i]))) {
                weir_checkpoint_meta_fini(meta_out);
                rc = weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
                break;
            }
            rc = 1;
            break;
        }
        if (r == WEIR_ENOTFOUND || r == WEIR_EINVAL) { /* (1): pending or corrupt */
            if (on_skip)
                on_skip(ctx, ids.ids[i], &why);
            continue;
        }
        if (err)
            *err = why;
        rc = r;
        break;
    }
    free(ids.ids);
    return rc;
}

int weir_checkpoint_store_retain(weir_checkpoint_store *s, size_t n, weir_error *err) {
    if (n == 0)
        return weir_error_set(err, WEIR_EINVAL, "checkpoints: retain must keep at least 1");
    id_list ids;
    int rc = list_ids(s, &ids, err);
    if (rc < 0)
        return rc;
    /* status per id: 0 intact, 1 pending or corrupt, 2 leave alone */
    uint8_t *status = malloc(ids.n ? ids.n : 1);
    if (!status) {
        free(ids.ids);
        return weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
    }
    for (size_t i = 0; i < ids.n; i++) {
        weir_checkpoint_meta m;
        weir_error why;
        int r = read_chk(s, ids.ids[i], &m, &why);
        if (r == 0)
            weir_checkpoint_meta_fini(&m);
        status[i] = r == 0 ? 0 : (r == WEIR_ENOTFOUND || r == WEIR_EINVAL) ? 1 : 2;
        if (r == WEIR_ENOMEM) {
            rc = weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
            goto done;
        }
    }
    size_t kept = 0;
    bool seen_intact = false; /* walking newest to oldest */
    int deleted = 0;
    for (size_t i = ids.n; i-- > 0;) {
        bool del;
        if (status[i] == 0) {
            seen_intact = true;
            del = ++kept > n;
        } else {
            del = status[i] == 1 && seen_intact; /* (3) nothing newer than the newest intact */
        }
        if (!del)
            continue;
        char *dir = weir_checkpoint_store_path(s, ids.ids[i]);
        if (!dir) {
            rc = weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
            goto done;
        }
        rc = delete_dir(dir, err);
        free(dir);
        if (rc < 0)
            goto done;
        deleted++;
    }
    rc = deleted;
done:
    free(status);
    free(ids.ids);
    return rc;
}

int weir_checkpoint_store_clear(weir_checkpoint_store *s, weir_error *err) {
    char *clearing = path_join(s->state_dir, CLEARING_DIR);
    if (!clearing)
        return weir_error_set(err, WEIR_ENOMEM, "checkpoints: out of memory");
    int rc = weir_state_dir_remove_tree(clearing, err);
    if (rc == 0 && rename(s->checkpoints_dir, clearing) != 0 && errno != ENOENT)
        rc = weir_error_sys(err, WEIR_EIO, errno, "checkpoints: rename %s", s->checkpoints_dir);
    if (rc == 0)
        rc = weir_state_dir_mkdirs(s->checkpoints_dir, err);
    if (rc == 0)
        rc = weir_state_dir_fsync_dir(s->state_dir, err); /* (4): the rename is durable */
    if (rc == 0)
        rc = weir_state_dir_remove_tree(clearing, err);
    free(clearing);
    return rc;
}

/* ---- savepoints ---------------------------------------------------------- */

char *weir_checkpoint_store_savepoint_path(const char *state_dir, const char *savepoint_id) {
    if (!savepoint_id_ok(savepoint_id))
        return NULL;
    size_t len = strlen(state_dir) + strlen("/savepoints/") + strlen(savepoint_id) + 1;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/savepoints/%s", state_dir, savepoint_id);
    return p;
}

int weir_checkpoint_store_savepoint_id(uint64_t checkpoint_id, int64_t created_ms, char *out, size_t cap) {
    int64_t secs = created_ms >= 0 ? created_ms / 1000 : -((-created_ms + 999) / 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    int n = snprintf(out, cap, "savepoint-%04d%02d%02dT%02d%02d%02dZ-%" PRIu64, tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, checkpoint_id);
    if (n < 0 || (size_t)n >= cap)
        return WEIR_EINVAL;
    return n;
}

int weir_checkpoint_store_savepoint_begin(weir_checkpoint_store *s, const char *savepoint_id, char **path_out,
                                          weir_error *err) {
    if (path_out)
        *path_out = NULL;
    if (!savepoint_id_ok(savepoint_id))
        return weir_error_set(err, WEIR_EINVAL, "savepoint: invalid id \"%s\"", savepoint_id ? savepoint_id : "");
    int rc = weir_state_dir_mkdirs(s->savepoints_dir, err);
    if (rc < 0)
        return rc;
    char *dir = weir_checkpoint_store_savepoint_path(s->state_dir, savepoint_id);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "savepoint: out of memory");
    rc = make_pending(dir, "savepoint", path_out, err);
    free(dir);
    return rc;
}

int weir_checkpoint_store_savepoint_abort(weir_checkpoint_store *s, const char *savepoint_id, weir_error *err) {
    if (!savepoint_id_ok(savepoint_id))
        return weir_error_set(err, WEIR_EINVAL, "savepoint: invalid id \"%s\"", savepoint_id ? savepoint_id : "");
    char *dir = weir_checkpoint_store_savepoint_path(s->state_dir, savepoint_id);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "savepoint: out of memory");
    int rc = delete_dir(dir, err);
    free(dir);
    return rc;
}
