/* tests/state_dir_test.c -- the job's state dir: where it is (SPEC §5), its
 * lock (one process per state dir), and the tree helpers. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state_dir.h"

static char tmp_root[64];

static void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/weir-statedir-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void remove_tmp(void) {
    cr_assert_eq(weir_state_dir_remove_tree(tmp_root, NULL), 0);
}

TestSuite(state_dir, .init = make_tmp, .fini = remove_tmp);

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* ---- resolve ------------------------------------------------------------- */

Test(state_dir, state_dir_option_wins_over_weir_home) {
    setenv("WEIR_HOME", "/wh", 1);
    char *p = NULL;
    cr_assert_eq(weir_state_dir_resolve("/explicit/dir", "clicks", &p, NULL), 0);
    cr_assert_str_eq(p, "/explicit/dir");
    free(p);
}

Test(state_dir, weir_home_gives_jobs_name) {
    setenv("WEIR_HOME", "/wh", 1);
    char *p = NULL;
    cr_assert_eq(weir_state_dir_resolve(NULL, "clicks", &p, NULL), 0);
    cr_assert_str_eq(p, "/wh/jobs/clicks");
    free(p);
    cr_assert_eq(weir_state_dir_resolve("", "clicks", &p, NULL), 0, "an empty --state-dir is unset");
    cr_assert_str_eq(p, "/wh/jobs/clicks");
    free(p);
}

Test(state_dir, without_weir_home_it_is_under_local_share) {
    unsetenv("WEIR_HOME");
    setenv("HOME", "/home/ada", 1);
    char *p = NULL;
    cr_assert_eq(weir_state_dir_resolve(NULL, "clicks", &p, NULL), 0);
    cr_assert_str_eq(p, "/home/ada/.local/share/weir/jobs/clicks");
    free(p);
    setenv("WEIR_HOME", "", 1);
    cr_assert_eq(weir_state_dir_resolve(NULL, "x", &p, NULL), 0, "an empty $WEIR_HOME is unset");
    cr_assert_str_eq(p, "/home/ada/.local/share/weir/jobs/x");
    free(p);
}

Test(state_dir, job_name_that_is_not_one_path_component_is_refused) {
    setenv("WEIR_HOME", "/wh", 1);
    const char *bad[] = {"", ".", "..", "a/b", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *p = (char *)1;
        weir_error err = {0};
        cr_assert_eq(weir_state_dir_resolve(NULL, bad[i], &p, &err), WEIR_EINVAL);
        cr_assert_null(p);
        cr_assert(strstr(err.msg, "invalid job name"), "%s", err.msg);
    }
}

/* ---- open and lock ------------------------------------------------------- */

Test(state_dir, open_creates_nested_dirs_and_writes_pid_into_lock) {
    char path[256];
    snprintf(path, sizeof path, "%s/a/b/jobs/clicks", tmp_root);
    weir_error err = {0};
    weir_state_dir *d = weir_state_dir_open(path, "clicks", &err);
    cr_assert_not_null(d, "%s", err.msg);
    cr_assert_str_eq(weir_state_dir_path(d), path);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0700, 0700);

    char lock[300], want[64], got[64] = "";
    snprintf(lock, sizeof lock, "%s/LOCK", path);
    FILE *f = fopen(lock, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(got, sizeof got, f));
    fclose(f);
    snprintf(want, sizeof want, "%ld clicks\n", (long)getpid());
    cr_assert_str_eq(got, want);

    weir_state_dir_close(d);
    cr_assert_eq(stat(lock, &st), 0);
    cr_assert_eq(st.st_size, 0, "close empties LOCK");
}

Test(state_dir, second_open_in_the_same_process_is_refused_with_the_pid) {
    weir_error err = {0};
    weir_state_dir *d = weir_state_dir_open(tmp_root, "clicks", &err);
    cr_assert_not_null(d, "%s", err.msg);
    weir_state_dir *again = weir_state_dir_open(tmp_root, "other", &err);
    cr_assert_null(again);
    cr_assert_eq(err.code, WEIR_ESTATE);
    char want[256];
    snprintf(want, sizeof want, "job clicks is already running on %s (pid %ld)", tmp_root, (long)getpid());
    cr_assert_str_eq(err.msg, want);
    /* the failed open did not disturb the holder's LOCK content */
    weir_state_dir_close(d);
    d = weir_state_dir_open(tmp_root, "other", &err);
    cr_assert_not_null(d, "after close the lock is free: %s", err.msg);
    weir_state_dir_close(d);
}

Test(state_dir, other_process_holding_the_lock_is_named_by_its_pid) {
    int to_parent[2], to_child[2];
    cr_assert_eq(pipe(to_parent), 0);
    cr_assert_eq(pipe(to_child), 0);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        weir_state_dir *d = weir_state_dir_open(tmp_root, "clicks", NULL);
        char c = d ? 'L' : 'F';
        if (write(to_parent[1], &c, 1) != 1)
            _exit(2);
        if (read(to_child[0], &c, 1) != 1) /* wait until told to exit */
            _exit(3);
        weir_state_dir_close(d);
        _exit(0);
    }
    char c = 0;
    cr_assert_eq(read(to_parent[0], &c, 1), 1);
    cr_assert_eq(c, 'L');

    weir_error err = {0};
    cr_assert_null(weir_state_dir_open(tmp_root, "clicks", &err));
    cr_assert_eq(err.code, WEIR_ESTATE);
    char want[256];
    snprintf(want, sizeof want, "job clicks is already running on %s (pid %ld)", tmp_root, (long)child);
    cr_assert_str_eq(err.msg, want);

    cr_assert_eq(write(to_child[1], "x", 1), 1);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    weir_state_dir *d = weir_state_dir_open(tmp_root, "clicks", &err);
    cr_assert_not_null(d, "%s", err.msg);
    weir_state_dir_close(d);
}

Test(state_dir, killed_holder_leaves_no_stale_lock) {
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        weir_state_dir_open(tmp_root, "clicks", NULL);
        pause(); /* killed below, lock still held */
        _exit(0);
    }
    /* wait until the child holds it */
    char lock[128];
    snprintf(lock, sizeof lock, "%s/LOCK", tmp_root);
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (stat(lock, &st) == 0 && st.st_size > 0)
            break;
        usleep(10000);
    }
    weir_error err = {0};
    cr_assert_null(weir_state_dir_open(tmp_root, "clicks", &err));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    weir_state_dir *d = weir_state_dir_open(tmp_root, "clicks", &err);
    cr_assert_not_null(d, "kill -9 releases the lock: %s", err.msg);
    weir_state_dir_close(d);
}

Test(state_dir, open_fails_when_a_path_component_is_a_file) {
    char file[128], path[192];
    snprintf(file, sizeof file, "%s/plain", tmp_root);
    write_file(file, "x");
    snprintf(path, sizeof path, "%s/jobs", file);
    weir_error err = {0};
    cr_assert_null(weir_state_dir_open(path, "j", &err));
    cr_assert_eq(err.code, WEIR_EIO);
    cr_assert(strstr(err.msg, "mkdir"), "%s", err.msg);
}

/* ---- tree helpers -------------------------------------------------------- */

Test(state_dir, remove_tree_removes_nested_dirs_but_not_symlink_targets) {
    char outside[128], tree[128], p[256];
    snprintf(outside, sizeof outside, "%s/outside", tmp_root);
    snprintf(tree, sizeof tree, "%s/tree", tmp_root);
    cr_assert_eq(mkdir(outside, 0755), 0);
    snprintf(p, sizeof p, "%s/precious", outside);
    write_file(p, "keep");
    snprintf(p, sizeof p, "%s/a/b/c", tree);
    cr_assert_eq(weir_state_dir_mkdirs(p, NULL), 0);
    snprintf(p, sizeof p, "%s/a/b/c/f", tree);
    write_file(p, "1");
    snprintf(p, sizeof p, "%s/a/g", tree);
    write_file(p, "2");
    snprintf(p, sizeof p, "%s/a/link", tree);
    cr_assert_eq(symlink(outside, p), 0);

    cr_assert_eq(weir_state_dir_fsync_tree(tree, NULL), 0);
    weir_error err = {0};
    cr_assert_eq(weir_state_dir_remove_tree(tree, &err), 0, "%s", err.msg);
    cr_assert_not(exists(tree));
    snprintf(p, sizeof p, "%s/precious", outside);
    cr_assert(exists(p));
    cr_assert_eq(weir_state_dir_remove_tree(tree, NULL), 0, "missing is success");
}

Test(state_dir, mkdirs_accepts_existing_dirs_and_trailing_slashes) {
    char p[256];
    snprintf(p, sizeof p, "%s/x/y/", tmp_root);
    cr_assert_eq(weir_state_dir_mkdirs(p, NULL), 0);
    cr_assert_eq(weir_state_dir_mkdirs(p, NULL), 0);
    snprintf(p, sizeof p, "%s/x/y", tmp_root);
    cr_assert(exists(p));
}

Test(state_dir, fsync_of_a_missing_dir_fails_with_eio) {
    char p[256];
    snprintf(p, sizeof p, "%s/missing", tmp_root);
    weir_error err = {0};
    cr_assert_eq(weir_state_dir_fsync_dir(p, &err), WEIR_EIO);
    cr_assert_eq(weir_state_dir_fsync_tree(p, &err), WEIR_EIO);
}
