/* state/state_dir.c -- a job's state directory: path, lock, durable file-system
 * helpers (see state_dir.h for the contract and invariants).
 *
 * Tree walks (remove, fsync) use openat/fdopendir/unlinkat relative to a
 * directory fd, never following symbolic links, one fd per level of depth
 * (checkpoint trees are two or three levels deep). */
#include "state/state_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct weir_state_dir {
    char *path;     /* owned */
    int lock_fd;    /* LOCK, flock'ed exclusively (1) */
};

/* ---- resolve ------------------------------------------------------------- */

static bool job_name_ok(const char *name) {
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static char *join3(const char *a, const char *b, const char *c) {
    size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s%s", a, b, c);
    return s;
}

int weir_state_dir_resolve(const char *state_dir_opt, const char *job_name, char **path_out,
                           weir_error *err) {
    *path_out = NULL;
    if (state_dir_opt && *state_dir_opt) {
        *path_out = strdup(state_dir_opt);
        return *path_out ? 0 : weir_error_set(err, WEIR_ENOMEM, "state dir: out of memory");
    }
    if (!job_name_ok(job_name))
        return weir_error_set(err, WEIR_EINVAL, "state dir: invalid job name \"%s\"",
                              job_name ? job_name : "");
    char *path;
    const char *weir_home = getenv("WEIR_HOME");
    if (weir_home && *weir_home) {
        path = join3(weir_home, "/jobs/", job_name);
    } else {
        const char *home = getenv("HOME");
        struct passwd pw, *found = NULL;
        char pwbuf[4096];
        if ((!home || !*home) && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &found) == 0 && found)
            home = found->pw_dir;
        if (!home || !*home)
            return weir_error_set(err, WEIR_EINVAL,
                                  "state dir: no --state-dir, $WEIR_HOME or home directory");
        char *base = join3(home, "/.local/share/weir", "");
        path = base ? join3(base, "/jobs/", job_name) : NULL;
        free(base);
    }
    if (!path)
        return weir_error_set(err, WEIR_ENOMEM, "state dir: out of memory");
    *path_out = path;
    return 0;
}

/* ---- mkdirs ------------------------------------------------------------- */

/* fsyncs the directory holding path's last component (path has no trailing '/'). */
static int fsync_parent(const char *path, weir_error *err) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return weir_state_dir_fsync_dir(".", err);
    if (slash == path)
        return weir_state_dir_fsync_dir("/", err);
    char *parent = strndup(path, (size_t)(slash - path));
    if (!parent)
        return weir_error_set(err, WEIR_ENOMEM, "mkdir %s: out of memory", path);
    int rc = weir_state_dir_fsync_dir(parent, err);
    free(parent);
    return rc;
}

int weir_state_dir_mkdirs(const char *path, weir_error *err) {
    char *p = strdup(path);
    if (!p)
        return weir_error_set(err, WEIR_ENOMEM, "mkdir %s: out of memory", path);
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    int rc = 0;
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0) { /* (3) */
            int e = errno;
            struct stat st;
            if (e != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                rc = weir_error_sys(err, WEIR_EIO, e == EEXIST ? ENOTDIR : e, "mkdir %s", p);
                break;
            }
        } else if ((rc = fsync_parent(p, err)) < 0) { /* (4) */
            break;
        }
        *s = saved;
        if (end)
            break;
    }
    free(p);
    return rc;
}

/* ---- lock --------------------------------------------------------------- */

/* Reads "<pid> <job>\n" from the holder's LOCK into pid/job (pid 0: unknown). */
static void read_holder(int fd, long *pid, char *job, size_t job_cap) {
    char buf[256];
    *pid = 0;
    job[0] = '\0';
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *end;
    long p = strtol(buf, &end, 10);
    if (end == buf || p <= 0)
        return;
    *pid = p;
    if (*end == ' ') {
        end++;
        size_t l = strcspn(end, "\n");
        if (l >= job_cap)
            l = job_cap - 1;
        memcpy(job, end, l);
        job[l] = '\0';
    }
}

weir_state_dir *weir_state_dir_open(const char *path, const char *job_name, weir_error *err) {
    if (weir_state_dir_mkdirs(path, err) < 0)
        return NULL;
    weir_state_dir *d = calloc(1, sizeof *d);
    if (d)
        d->lock_fd = -1;
    char *lock_path = join3(path, "/", WEIR_STATE_DIR_LOCK_FILE);
    if (!d || !lock_path || !(d->path = strdup(path))) {
        weir_error_set(err, WEIR_ENOMEM, "state dir %s: out of memory", path);
        goto fail;
    }
    d->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644); /* (2) */
    if (d->lock_fd < 0) {
        weir_error_sys(err, WEIR_EIO, errno, "state dir: open %s", lock_path);
        goto fail;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            long pid;
            char holder[128];
            read_holder(d->lock_fd, &pid, holder, sizeof holder);
            const char *name = holder[0] ? holder : job_name && *job_name ? job_name : "?";
            if (pid > 0)
                weir_error_set(err, WEIR_ESTATE, "job %s is already running on %s (pid %ld)", name, path,
                               pid);
            else
                weir_error_set(err, WEIR_ESTATE, "job %s is already running on %s (pid unknown)", name,
                               path);
        } else {
            weir_error_sys(err, WEIR_EIO, e, "state dir: flock %s", lock_path);
        }
        goto fail;
    }
    char line[160];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), job_name ? job_name : "");
    if (n < 0 || (size_t)n >= sizeof line)
        n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(d->lock_fd, 0) != 0 || pwrite(d->lock_fd, line, (size_t)n, 0) != n) {
        weir_error_sys(err, WEIR_EIO, errno, "state dir: write %s", lock_path);
        goto fail;
    }
    free(lock_path);
    return d;

fail:
    if (d && d->lock_fd >= 0)
        close(d->lock_fd); /* drops the lock if it was taken */
    if (d)
        free(d->path);
    free(d);
    free(lock_path);
    return NULL;
}

const char *weir_state_dir_path(const weir_state_dir *d) {
    return d->path;
}

void weir_state_dir_close(weir_state_dir *d) {
    if (!d)
        return;
    if (ftruncate(d->lock_fd, 0) != 0) {
        /* A stale pid in LOCK is harmless: the flock is what counts. */
    }
    close(d->lock_fd);
    free(d->path);
    free(d);
}

/* ---- tree walks ---------------------------------------------------------- */

/* Removes every entry of the open directory dfd (which it closes). */
static int remove_contents(int dfd, const char *path, weir_error *err) {
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int e = errno;
        close(dfd);
        return weir_error_sys(err, WEIR_EIO, e, "remove %s", path);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0) {
        errno = 0;
        if (!(de = readdir(dir))) {
            if (errno)
                rc = weir_error_sys(err, WEIR_EIO, errno, "remove %s: readdir", path);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                is_dir = S_ISDIR(st.st_mode);
        }
        if (is_dir) {
            int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = weir_error_sys(err, WEIR_EIO, errno, "remove %s/%s", path, de->d_name);
                break;
            }
            rc = remove_contents(sub, de->d_name, err);
            if (rc == 0 && unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR) != 0)
                rc = weir_error_sys(err, WEIR_EIO, errno, "remove %s/%s", path, de->d_name);
        } else if (unlinkat(dirfd(dir), de->d_name, 0) != 0 && errno != ENOENT) {
            rc = weir_error_sys(err, WEIR_EIO, errno, "remove %s/%s", path, de->d_name);
        }
    }
    closedir(dir);
    return rc;
}

int weir_state_dir_remove_tree(const char *path, weir_error *err) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : weir_error_sys(err, WEIR_EIO, errno, "remove %s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return weir_error_sys(err, WEIR_EIO, errno, "remove %s", path);
        return 0;
    }
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "remove %s", path);
    int rc = remove_contents(dfd, path, err);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = weir_error_sys(err, WEIR_EIO, errno, "remove %s", path);
    return rc;
}

int weir_state_dir_fsync_dir(const char *path, weir_error *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "fsync %s", path);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s", path);
    close(fd);
    return rc;
}

/* fsyncs every file and directory below the open directory dfd, then dfd
 * itself; closes dfd. */
static int fsync_contents(int dfd, const char *path, weir_error *err) {
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int e = errno;
        close(dfd);
        return weir_error_sys(err, WEIR_EIO, e, "fsync %s", path);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0) {
        errno = 0;
        if (!(de = readdir(dir))) {
            if (errno)
                rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s: readdir", path);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || de->d_type == DT_LNK)
            continue;
        if (de->d_type != DT_DIR && de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
            continue;
        int fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ELOOP)
                continue; /* a symbolic link seen as DT_UNKNOWN */
            rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s/%s", path, de->d_name);
            break;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s/%s", path, de->d_name);
            close(fd);
        } else if (S_ISDIR(st.st_mode)) {
            rc = fsync_contents(fd, de->d_name, err);
        } else {
            if (S_ISREG(st.st_mode) && fsync(fd) != 0)
                rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s/%s", path, de->d_name);
            close(fd);
        }
    }
    if (rc == 0 && fsync(dirfd(dir)) != 0)
        rc = weir_error_sys(err, WEIR_EIO, errno, "fsync %s", path);
    closedir(dir);
    return rc;
}

int weir_state_dir_fsync_tree(const char *path, weir_error *err) {
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return weir_error_sys(err, WEIR_EIO, errno, "fsync %s", path);
    return fsync_contents(dfd, path, err);
}
