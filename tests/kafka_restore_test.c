/* tests/kafka_restore_test.c -- the exactly-once restore decision
 * (weir_kafka_restore_choose) and the protocol of kafka_output.h, checked
 * against an in-process model of a transactional Kafka log that DOES hide
 * aborted and open transactions from read_committed readers (the dev broker
 * does not: DESIGN §5).
 *
 * The model job reads records 1..N_RECORDS; record r yields outputs 10r and,
 * for even r, 10r+1 (so checkpoints carry different numbers of outputs); a
 * checkpoint is taken every CKPT_EVERY records and at the end. One incarnation
 * runs the protocol step by step -- fence (init_transactions), read markers,
 * choose, begin; per checkpoint: flush, local durable, marker, commit, local
 * complete (prune older local checkpoints), begin -- and a crash can happen
 * at every step. After one or two crashes at every pair of steps, a final
 * incarnation runs to the end; every output must then appear exactly once
 * among committed records. Broken variants of the protocol (and a log that
 * shows aborted records, like the dev broker) must be caught. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "connectors/kafka_output.h"

/* --------------------------------------------------- restore_choose table */

typedef struct choose_case {
    uint64_t local[4];
    size_t n_local;
    uint64_t committed;
    int64_t want;
} choose_case;

Test(kafka_restore_choose, picks_the_committed_checkpoint_or_fresh_or_reports_it_missing) {
    static const choose_case cases[] = {
        {{0}, 0, 0, 0},                      /* nothing committed, nothing local: fresh */
        {{1, 2, 3}, 3, 0, 0},                /* local checkpoints but no marker: fresh */
        {{3, 1, 2}, 3, 2, 2},                /* any order; newer local 3 never committed */
        {{5, 7}, 2, 5, 5},
        {{1, 2}, 2, 3, WEIR_ENOTFOUND},      /* committed 3 was lost locally */
        {{0}, 0, 1, WEIR_ENOTFOUND},         /* state dir lost */
        {{4}, 1, 4, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(weir_kafka_restore_choose(cases[i].local, cases[i].n_local, cases[i].committed), cases[i].want,
                     "case %zu", i);
}

/* ------------------------------------------------ the transactional log */

#define MAX_ENTRIES 4096
#define MAX_TXNS 512

enum { TXN_OPEN, TXN_COMMITTED, TXN_ABORTED };

typedef struct entry {
    int txn;
    bool is_marker;
    int value;             /* output value, or checkpoint id */
} entry;

typedef struct fake_log {
    entry e[MAX_ENTRIES];
    int n;
    int txn_state[MAX_TXNS];
    int n_txn;
    bool shows_aborted;    /* the dev broker's behaviour */
} fake_log;

static bool visible(const fake_log *l, const entry *e) {
    return l->shows_aborted || l->txn_state[e->txn] == TXN_COMMITTED;
}

static int log_begin(fake_log *l) {
    cr_assert_lt(l->n_txn, MAX_TXNS);
    l->txn_state[l->n_txn] = TXN_OPEN;
    return l->n_txn++;
}

static void log_produce(fake_log *l, int txn, bool is_marker, int value) {
    cr_assert_lt(l->n, MAX_ENTRIES);
    cr_assert_eq(l->txn_state[txn], TXN_OPEN);
    l->e[l->n++] = (entry){txn, is_marker, value};
}

/* init_transactions with the same transactional.id: the previous
 * incarnation's open transaction is aborted (KIP-98 fencing). */
static void log_fence(fake_log *l) {
    for (int t = 0; t < l->n_txn; t++)
        if (l->txn_state[t] == TXN_OPEN)
            l->txn_state[t] = TXN_ABORTED;
}

/* The newest marker a read_committed reader sees (log order), 0 if none. */
static uint64_t log_committed_marker(const fake_log *l) {
    uint64_t id = 0;
    for (int i = 0; i < l->n; i++)
        if (l->e[i].is_marker && visible(l, &l->e[i]))
            id = (uint64_t)l->e[i].value;
    return id;
}

/* ------------------------------------------------------ the model job */

#define N_RECORDS 10
#define CKPT_EVERY 3
#define MAX_LOCAL 64

typedef struct variant {
    bool commit_before_durable;   /* broken: marker+commit before local N is durable */
    bool restore_newest_local;    /* broken: ignore the markers */
    bool prune_before_commit;     /* broken: drop N-1 before marker N is committed */
} variant;

typedef struct local_store {
    bool has[MAX_LOCAL];
    int pos[MAX_LOCAL];           /* records consumed at checkpoint id */
} local_store;

typedef struct sim {
    fake_log log;
    local_store local;
    variant v;
    int step;                     /* steps taken in this incarnation */
    int crash_at;                 /* crash when step reaches it; 0: never */
    bool not_found;               /* restore_choose said ENOTFOUND */
} sim;

/* Returns true when the process "dies" at this step. */
static bool step(sim *s) { return ++s->step == s->crash_at; }

static void prune_below(local_store *ls, int id) {
    for (int i = 0; i < id && i < MAX_LOCAL; i++)
        ls->has[i] = false;
}

/* Runs one incarnation. Returns true when it ran to the end. */
static bool run(sim *s) {
    s->step = 0;
    log_fence(&s->log);
    if (step(s))
        return false;
    uint64_t committed = log_committed_marker(&s->log);
    uint64_t ids[MAX_LOCAL];
    size_t n_ids = 0;
    int newest_local = 0;
    for (int i = 1; i < MAX_LOCAL; i++)
        if (s->local.has[i]) {
            ids[n_ids++] = (uint64_t)i;
            newest_local = i;
        }
    int64_t chosen = s->v.restore_newest_local ? newest_local : weir_kafka_restore_choose(ids, n_ids, committed);
    if (chosen < 0) {
        s->not_found = true;
        return true; /* the CLI exits 1: the run cannot go on */
    }
    int pos = chosen > 0 ? s->local.pos[chosen] : 0;
    int next_id = (newest_local > (int)committed ? newest_local : (int)committed) + 1;
    if (step(s))
        return false;
    int txn = log_begin(&s->log);
    if (step(s))
        return false;
    while (pos < N_RECORDS) {
        int r = ++pos;
        log_produce(&s->log, txn, false, 10 * r);
        if (r % 2 == 0)
            log_produce(&s->log, txn, false, 10 * r + 1);
        if (step(s))
            return false;
        if (pos % CKPT_EVERY != 0 && pos != N_RECORDS)
            continue;
        int id = next_id++;
        cr_assert_lt(id, MAX_LOCAL);
        /* barrier: flush every sink (all acked, uncommitted) */
        if (step(s))
            return false;
        if (s->v.prune_before_commit)
            prune_below(&s->local, id);
        if (!s->v.commit_before_durable) {
            s->local.has[id] = true; /* local checkpoint N durable */
            s->local.pos[id] = pos;
            if (step(s))
                return false;
        }
        /* commit(N): eos.before_marker */
        log_produce(&s->log, txn, true, id);
        if (step(s)) /* eos.before_commit */
            return false;
        s->log.txn_state[txn] = TXN_COMMITTED;
        if (step(s)) /* eos.after_commit */
            return false;
        if (s->v.commit_before_durable) {
            s->local.has[id] = true;
            s->local.pos[id] = pos;
            if (step(s))
                return false;
        }
        prune_below(&s->local, id); /* N complete: N-1 no longer needed */
        if (step(s))
            return false;
        txn = log_begin(&s->log);
        if (step(s))
            return false;
    }
    return true;
}

/* Problems in the committed output: outputs missing or repeated. */
static int count_problems(const sim *s) {
    int seen[10 * N_RECORDS + 2] = {0};
    for (int i = 0; i < s->log.n; i++) {
        const entry *e = &s->log.e[i];
        if (!e->is_marker && visible(&s->log, e))
            seen[e->value]++;
    }
    int problems = s->not_found ? 1 : 0;
    for (int r = 1; r <= N_RECORDS; r++) {
        problems += seen[10 * r] != 1;
        if (r % 2 == 0)
            problems += seen[10 * r + 1] != 1;
    }
    return problems;
}

static int steps_of_a_clean_run(variant v, bool shows_aborted) {
    static sim s;
    memset(&s, 0, sizeof s);
    s.v = v;
    s.log.shows_aborted = shows_aborted;
    cr_assert(run(&s));
    cr_assert_eq(count_problems(&s), 0, "a run without a crash must be exact");
    return s.step;
}

/* Crash at every step (and, with double_crash, at every step of the
 * recovering incarnation too), then run to the end. Returns the number of
 * crash scenarios whose committed output is not exactly once. */
static int scenarios_with_problems(variant v, bool shows_aborted, bool double_crash) {
    int total = steps_of_a_clean_run(v, shows_aborted) + 2;
    int bad = 0;
    static sim s;
    for (int c1 = 1; c1 <= total; c1++) {
        for (int c2 = 0; c2 <= (double_crash ? total : 0); c2++) {
            memset(&s, 0, sizeof s);
            s.v = v;
            s.log.shows_aborted = shows_aborted;
            s.crash_at = c1;
            bool done = run(&s);
            if (!done && c2) {
                s.crash_at = c2;
                done = run(&s);
            }
            int restarts = 0;
            while (!done) {
                s.crash_at = 0;
                done = run(&s);
                cr_assert_lt(++restarts, 3);
            }
            /* a bounded job run again after it finished writes nothing new */
            s.crash_at = 0;
            if (!s.not_found)
                cr_assert(run(&s));
            bad += count_problems(&s) > 0;
        }
    }
    return bad;
}

Test(kafka_restore_protocol, every_output_is_committed_exactly_once_after_a_crash_at_any_step) {
    variant v = {0};
    cr_assert_eq(scenarios_with_problems(v, false, false), 0);
}

Test(kafka_restore_protocol, two_crashes_including_one_during_restore_still_give_exactly_once) {
    variant v = {0};
    cr_assert_eq(scenarios_with_problems(v, false, true), 0);
}

Test(kafka_restore_protocol, a_log_that_shows_aborted_records_repeats_output_like_the_dev_broker) {
    variant v = {0};
    cr_assert_gt(scenarios_with_problems(v, true, false), 0);
}

Test(kafka_restore_protocol, committing_before_the_local_checkpoint_is_durable_is_caught) {
    variant v = {.commit_before_durable = true};
    cr_assert_gt(scenarios_with_problems(v, false, false), 0);
}

Test(kafka_restore_protocol, restoring_the_newest_local_checkpoint_instead_of_the_committed_one_is_caught) {
    variant v = {.restore_newest_local = true};
    cr_assert_gt(scenarios_with_problems(v, false, false), 0);
}

Test(kafka_restore_protocol, pruning_checkpoint_n_minus_1_before_marker_n_commits_is_caught) {
    variant v = {.prune_before_commit = true};
    cr_assert_gt(scenarios_with_problems(v, false, false), 0);
}
