/* tests/session_test.c -- session windows through weir_window_vt
 * (operators/session.c; SPEC §4 sessions, retraction, lateness, batching).
 * The harness is window_harness.h. */
#include "window_harness.h"

#define MIN WEIR_TIME_MIN
#define MAX WEIR_TIME_MAX

Test(session, events_within_the_gap_form_one_session_from_first_to_last_plus_gap) {
    harness *h = h_session(10, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_rec(h, "{\"user\":\"a\"}", 5, MIN);
    h_rec(h, "{\"user\":\"a\"}", 14, MIN);
    cr_assert_eq(h_size(h), 1);
    h_wm(h, 23);
    H_EXPECT(h, "");
    h_wm(h, 24);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":24,\"n\":3}");
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(session, an_event_exactly_one_gap_after_the_last_joins_and_one_more_does_not) {
    harness *h = h_session(10, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_rec(h, "{\"user\":\"a\"}", 10, MIN); /* [0,10) and [10,20) touch */
    h_rec(h, "{\"user\":\"b\"}", 0, MIN);
    h_rec(h, "{\"user\":\"b\"}", 11, MIN);
    cr_assert_eq(h_size(h), 3);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"user\":\"b\",\"window_start\":0,\"window_end\":10,\"n\":1}\n"
                "{\"user\":\"a\",\"window_start\":0,\"window_end\":20,\"n\":2}\n"
                "{\"user\":\"b\",\"window_start\":11,\"window_end\":21,\"n\":1}");
    h_free(h);
}

Test(session, a_bridging_event_merges_two_sessions_and_their_aggregates) {
    harness *h = h_session(10, 0, "user",
                           "n=count();s=sum(v);f=first(v);l=last(v);d=count_distinct(v)");
    h_rec(h, "{\"user\":\"a\",\"v\":1}", 0, MIN);
    h_rec(h, "{\"user\":\"a\",\"v\":2}", 15, MIN);
    cr_assert_eq(h_size(h), 2);
    h_rec(h, "{\"user\":\"a\",\"v\":3}", 8, MIN);
    cr_assert_eq(h_size(h), 1);
    H_EXPECT(h, "");
    h_wm(h, MAX);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":25,\"n\":3,\"s\":6,\"f\":1,"
                "\"l\":2,\"d\":3}");
    h_free(h);
}

Test(session, merging_a_fired_session_retracts_it_and_the_merged_one_fires_later) {
    harness *h = h_session(10, 100, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 10);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 12, 10);
    H_EXPECT(h, "");
    h_rec(h, "{\"user\":\"a\"}", 5, 10);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"retracted\":true}");
    cr_assert_eq(h_size(h), 1);
    h_wm(h, 21);
    H_EXPECT(h, "");
    h_wm(h, 22);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":22,\"n\":3}");
    h_free(h);
}

Test(session, a_fired_session_whose_bounds_stay_the_same_just_re_emits) {
    harness *h = h_session(10, 100, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_rec(h, "{\"user\":\"a\"}", 9, MIN);
    h_wm(h, 20);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":19,\"n\":2}");
    h_rec(h, "{\"user\":\"a\"}", 3, 20);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":19,\"n\":3}");
    h_free(h);
}

Test(session, a_fired_session_that_grows_behind_the_watermark_retracts_then_emits_at_once) {
    harness *h = h_session(10, 100, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 30);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 10, 30);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"retracted\":true}\n"
                "{\"user\":\"a\",\"window_start\":0,\"window_end\":20,\"n\":2}");
    h_free(h);
}

Test(session, two_fired_sessions_bridged_are_both_retracted_in_start_order) {
    harness *h = h_session(10, 100, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 15, MIN);
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 30);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}\n"
                "{\"user\":\"a\",\"window_start\":15,\"window_end\":25,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 8, 30);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"retracted\":true}\n"
                "{\"user\":\"a\",\"window_start\":15,\"window_end\":25,\"retracted\":true}\n"
                "{\"user\":\"a\",\"window_start\":0,\"window_end\":25,\"n\":3}");
    cr_assert_eq(h_size(h), 1);
    h_free(h);
}

Test(session, an_event_whose_own_window_is_past_lateness_with_no_session_to_join_is_late) {
    harness *h = h_session(10, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 100);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 50, 100);
    H_EXPECT(h, "late t=50 wm=100 deadline=60 raw={\"user\":\"a\"}");
    h_rec(h, "{\"user\":\"b\"}", 89, 100); /* [89,99): also late */
    H_EXPECT(h, "late t=89 wm=100 deadline=99 raw={\"user\":\"b\"}");
    h_rec(h, "{\"user\":\"b\"}", 91, 100); /* [91,101) is open */
    H_EXPECT(h, "");
    h_free(h);
}

Test(session, lateness_is_judged_on_the_session_the_event_joins) {
    harness *h = h_session(10, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 100, MIN);
    h_wm(h, 105);
    h_rec(h, "{\"user\":\"a\"}", 95, 105); /* [95,105) alone would be late */
    H_EXPECT(h, "");
    h_wm(h, 110);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":95,\"window_end\":110,\"n\":2}");
    h_free(h);
}

Test(session, an_expired_session_is_forgotten_and_a_later_event_opens_a_new_one) {
    harness *h = h_session(10, 5, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 15);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    cr_assert_eq(h_size(h), 0);
    h_rec(h, "{\"user\":\"a\"}", 5, 15);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":5,\"window_end\":15,\"n\":1}");
    h_free(h);
}

Test(session, an_expired_session_not_yet_purged_is_not_merged_into) {
    harness *h = h_session(10, 5, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 0, MIN);
    h_wm(h, 10);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    cr_assert_eq(h_size(h), 1);
    h_rec(h, "{\"user\":\"a\"}", 5, 15); /* judged at 15: [0,10) is past 10 + 5 */
    H_EXPECT(h, "");
    cr_assert_eq(h_size(h), 2);
    h_wm(h, 15);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":5,\"window_end\":15,\"n\":1}");
    cr_assert_eq(h_size(h), 1, "[0,10) forgotten, [5,15) kept until 20");
    h_wm(h, 20);
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(session, a_merged_session_shows_the_key_values_of_the_part_created_first) {
    harness *h = h_session(10, 0, "id", "n=count()");
    h_rec(h, "{\"id\":1.0}", 20, MIN);
    h_rec(h, "{\"id\":1}", 0, MIN);
    h_rec(h, "{\"id\":1}", 10, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"id\":1.0,\"window_start\":0,\"window_end\":30,\"n\":3}");
    h_free(h);
}

Test(session, many_sessions_of_one_key_merge_step_by_step) {
    harness *h = h_session(10, 0, "u", "n=count()");
    for (int t = 0; t <= 80; t += 20) {
        char rec[32];
        snprintf(rec, sizeof rec, "{\"u\":\"a\"}");
        h_rec(h, rec, t, MIN);
    }
    cr_assert_eq(h_size(h), 5);
    h_rec(h, "{\"u\":\"a\"}", 10, MIN);
    cr_assert_eq(h_size(h), 4);
    h_rec(h, "{\"u\":\"a\"}", 30, MIN);
    cr_assert_eq(h_size(h), 3);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"u\":\"a\",\"window_start\":0,\"window_end\":50,\"n\":5}\n"
                "{\"u\":\"a\",\"window_start\":60,\"window_end\":70,\"n\":1}\n"
                "{\"u\":\"a\",\"window_start\":80,\"window_end\":90,\"n\":1}");
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(session, min_and_max_ties_across_merged_sessions_keep_the_first_arrival) {
    harness *h = h_session(10, 0, "u", "lo=min(v);hi=max(v)");
    h_rec(h, "{\"u\":1,\"v\":5.0}", 30, MIN);  /* arrives first */
    h_rec(h, "{\"u\":1,\"v\":5}", 0, MIN);
    h_rec(h, "{\"u\":1,\"v\":5}", 15, MIN);   /* [15,25): touches neither */
    h_rec(h, "{\"u\":1,\"v\":5}", 25, MIN);   /* [25,35) joins [15,25) and [30,40) */
    h_rec(h, "{\"u\":1,\"v\":5}", 8, MIN);    /* [8,18) joins [0,10) and [15,40) */
    h_wm(h, MAX);
    H_EXPECT(h, "{\"u\":1,\"window_start\":0,\"window_end\":40,\"lo\":5.0,\"hi\":5.0}");
    h_free(h);
}

/* ------------------------------------------- reference model + batching */

#define N_KEYS 8
#define N_EVENTS 3000
#define GAP 300
#define LATENESS 400
#define DELAY 1500

typedef struct msession { int64_t start, end; int n; int alive; } msession;

typedef struct model {
    msession s[N_KEYS][N_EVENTS];
    int n[N_KEYS];
    int late[N_EVENTS];
} model;

/* The SPEC §4 rules, brute force: sessions are never dropped, only judged. */
static void model_event(model *m, int ev, int key, int64_t t, int64_t wm) {
    int64_t ms = t, me = t + GAP;
    int idx[N_EVENTS], n_idx = 0;
    int grew = 1;
    while (grew) {
        grew = 0;
        for (int i = 0; i < m->n[key]; i++) {
            msession *s = &m->s[key][i];
            if (!s->alive || s->end + LATENESS <= wm || !(s->start <= me && ms <= s->end))
                continue;
            int seen = 0;
            for (int j = 0; j < n_idx; j++)
                seen |= idx[j] == i;
            if (seen)
                continue;
            idx[n_idx++] = i;
            if (s->start < ms) ms = s->start;
            if (s->end > me) me = s->end;
            grew = 1;
        }
    }
    if (n_idx == 0 && t + GAP + LATENESS <= wm) {
        m->late[ev] = 1;
        return;
    }
    int count = 1;
    for (int j = 0; j < n_idx; j++) {
        count += m->s[key][idx[j]].n;
        m->s[key][idx[j]].alive = 0;
    }
    m->s[key][m->n[key]++] = (msession){ms, me, count, 1};
}

typedef struct final_out {
    char *last[N_KEYS][512];   /* last output line per (key, session), by slot */
    int64_t start[N_KEYS][512], end[N_KEYS][512];
    int n[N_KEYS];
    int late[N_EVENTS];
} final_out;

static void record_line(final_out *f, const char *line, size_t len) {
    int k;
    long long s, e;
    cr_assert_eq(sscanf(line, "{\"u\":%d,\"window_start\":%lld,\"window_end\":%lld", &k, &s, &e),
                 3, "%.*s", (int)len, line);
    for (int i = 0; i < f->n[k]; i++)
        if (f->start[k][i] == s && f->end[k][i] == e) {
            free(f->last[k][i]);
            f->last[k][i] = strndup(line, len);
            return;
        }
    cr_assert(f->n[k] < 512);
    int i = f->n[k]++;
    f->start[k][i] = s;
    f->end[k][i] = e;
    f->last[k][i] = strndup(line, len);
}

static void take_lines(harness *h, final_out *f) {
    const char *out = h_take(h);
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "late", 4) != 0)
            record_line(f, line, len);
        line = nl ? nl + 1 : line + len;
    }
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void run_batched(int every, final_out *f, model *m) {
    harness *h = h_session(GAP, LATENESS, "u", "n=count()");
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int64_t max_t = MIN;
    memset(f, 0, sizeof *f);
    for (int i = 0; i < N_EVENTS; i++) {
        int k = (int)(rng_next(&rng) % N_KEYS);
        int64_t t = (int64_t)i * 20 + (int64_t)(rng_next(&rng) % 4000) - 2000;
        int64_t wm = max_t == MIN ? MIN : max_t - DELAY;
        char rec[32];
        snprintf(rec, sizeof rec, "{\"u\":%d}", k);
        size_t late_before = h->n_late;
        h_rec(h, rec, t, wm);
        f->late[i] = h->n_late != late_before;
        if (m)
            model_event(m, i, k, t, wm);
        if (t > max_t)
            max_t = t;
        if (i % every == every - 1)
            h_wm(h, max_t - DELAY);
        take_lines(h, f);
    }
    h_wm(h, MAX);
    take_lines(h, f);
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

static void final_free(final_out *f) {
    for (int k = 0; k < N_KEYS; k++)
        for (int i = 0; i < f->n[k]; i++)
            free(f->last[k][i]);
}

/* Whether f's last line for (k, s, e) is a result with count n. */
static int has_result(const final_out *f, int k, int64_t s, int64_t e, int n) {
    char want[160];
    snprintf(want, sizeof want, "{\"u\":%d,\"window_start\":%lld,\"window_end\":%lld,\"n\":%d}", k,
             (long long)s, (long long)e, n);
    for (int i = 0; i < f->n[k]; i++)
        if (f->start[k][i] == s && f->end[k][i] == e)
            return strcmp(f->last[k][i], want) == 0;
    return 0;
}

static int n_live_windows(const final_out *f, int k) {
    int n = 0;
    for (int i = 0; i < f->n[k]; i++)
        n += strstr(f->last[k][i], "\"retracted\":true") == NULL;
    return n;
}

Test(session, final_sessions_match_a_brute_force_model_under_any_batching) {
    static model m;
    static final_out ref, other;
    memset(&m, 0, sizeof m);
    run_batched(1, &ref, &m);
    int n_late = 0, n_retracted = 0;
    for (int i = 0; i < N_EVENTS; i++) {
        cr_assert_eq(ref.late[i], m.late[i], "event %d: late %d, model %d", i, ref.late[i],
                     m.late[i]);
        n_late += m.late[i];
    }
    for (int k = 0; k < N_KEYS; k++) {
        int alive = 0;
        for (int i = 0; i < m.n[k]; i++) {
            const msession *s = &m.s[k][i];
            if (!s->alive)
                continue;
            alive++;
            cr_assert(has_result(&ref, k, s->start, s->end, s->n),
                      "key %d session [%lld,%lld) n=%d missing", k, (long long)s->start,
                      (long long)s->end, s->n);
        }
        cr_assert_eq(n_live_windows(&ref, k), alive, "key %d: windows that are not retracted",
                     k);
        n_retracted += ref.n[k] - alive;
    }
    cr_assert(n_late > 20, "the input should have late events: %d", n_late);
    cr_assert(n_retracted > 5, "the input should retract some sessions: %d", n_retracted);
    const int batchings[] = {3, 50, 1000, 1000000};
    for (size_t b = 0; b < sizeof batchings / sizeof batchings[0]; b++) {
        run_batched(batchings[b], &other, NULL);
        cr_assert(memcmp(ref.late, other.late, sizeof ref.late) == 0, "late set differs at %d",
                  batchings[b]);
        for (int k = 0; k < N_KEYS; k++) {
            cr_assert_eq(n_live_windows(&other, k), n_live_windows(&ref, k));
            for (int i = 0; i < m.n[k]; i++) {
                const msession *s = &m.s[k][i];
                if (s->alive)
                    cr_assert(has_result(&other, k, s->start, s->end, s->n),
                              "batching %d key %d [%lld,%lld)", batchings[b], k,
                              (long long)s->start, (long long)s->end);
            }
        }
        final_free(&other);
    }
    final_free(&ref);
}
