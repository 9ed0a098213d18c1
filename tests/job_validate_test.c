/* tests/job_validate_test.c -- the rules of a job file (SPEC §2, §3, §4): every
 * error with its exact FILE:LINE:COL: message, all errors of a file in one run,
 * warnings, known fields of expressions, and the graph rules. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/path.h"
#include "job_harness.h"

typedef struct bad_case {
    const char *what;
    const char *yaml;
    const char *expected;   /* the whole diagnostic output */
} bad_case;

#define SRC_FILE "sources:\n  clicks:\n    file: { path: in.jsonl }\n    event_time: { field: ts }\n"
#define SRC_KAFKA "kafka:\n  bootstrap.servers: h:9092\nsources:\n  ev:\n    kafka:\n      topic: ev\n    event_time: { field: ts }\n"
#define SINK_OUT(from) "sinks:\n  out:\n    from: " from "\n    stdout: {}\n"

static const bad_case cases[] = {
    { "job is required",
      "parallelism: 2\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:1:1: job: required: the job's name ([a-z0-9][a-z0-9_-]{0,62})\n" },
    { "job name pattern",
      "job: Clicks\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:1:6: job: expected a name matching [a-z0-9][a-z0-9_-]{0,62}, got 'Clicks'\n" },
    { "unknown top-level key lists the keys",
      "job: a\nparalelism: 2\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:2:1: unknown key 'paralelism' at the top level (expected one of: job, parallelism, "
      "max_parallelism, state, checkpoint, kafka, sources, operators, sinks, dead_letter)\n" },
    { "parallelism above max_parallelism",
      "job: a\nmax_parallelism: 4\nparallelism: 8\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:3:14: parallelism: 8 is above max_parallelism 4 (1 <= parallelism <= "
      "max_parallelism <= 32768)\n" },
    { "max_parallelism above 32768",
      "job: a\nmax_parallelism: 32769\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:2:18: max_parallelism: expected an integer from 1 to 32768, got '32769'\n" },
    { "state.memory and checkpoint values",
      "job: a\nstate: { memory: lots }\ncheckpoint:\n  interval: 10 parsecs\n  retain: 0\n"
      "  timeout: 0s\n" SRC_FILE SINK_OUT("clicks"),
      "job.yaml:2:18: state.memory: expected a size like 256MB (B, KB, MB or GB), got 'lots'\n"
      "job.yaml:4:13: checkpoint.interval: expected a duration like 10s, got '10 parsecs'\n"
      "job.yaml:5:11: checkpoint.retain: expected an integer from 1 to 1000000, got '0'\n"
      "job.yaml:6:12: checkpoint.timeout: expected a duration above 0 like 10s, got '0s'\n" },
    { "sources and sinks are required",
      "job: a\n",
      "job.yaml:1:1: sources: required: at least one source\n"
      "job.yaml:1:1: sinks: required: at least one sink\n" },
    { "unknown key in a source",
      "job: a\n" SRC_FILE "    colour: blue\n" SINK_OUT("clicks"),
      "job.yaml:6:5: unknown key 'colour' in sources.clicks (expected one of: kafka, file, stdin, "
      "format, event_time, watermark)\n" },
    { "a source needs exactly one connector",
      "job: a\nsources:\n  a:\n    format: json\n  b:\n    file: { path: x }\n    stdin: {}\n"
      SINK_OUT("[a, b]"),
      "job.yaml:3:3: sources.a: expected one of kafka, file or stdin\n"
      "job.yaml:7:5: sources.b: give only one of kafka, file or stdin\n" },
    { "file source without a path, stdin with settings",
      "job: a\nsources:\n  a:\n    file: {}\n  b:\n    stdin: { x: 1 }\n" SINK_OUT("[a, b]"),
      "job.yaml:4:5: sources.a.file.path: required (the file's path)\n"
      "job.yaml:6:14: unknown key 'x' in sources.b.stdin (it takes no settings)\n" },
    { "format must be json or text",
      "job: a\n" SRC_FILE "    format: csv\n" SINK_OUT("clicks"),
      "job.yaml:6:13: sources.clicks.format: expected one of json | text, got 'csv'\n" },
    { "kafka source: topic and topics, start, stop",
      "job: a\nsources:\n  a:\n    kafka:\n      topic: x\n      topics: [y]\n      start: soon\n"
      "      stop: 2026-13-01T00:00:00Z\n  b:\n    kafka: { topics: [] }\n  c:\n    kafka: { client.id: z }\n"
      SINK_OUT("[a, b, c]"),
      "job.yaml:6:7: sources.a.kafka: give topic or topics, not both\n"
      "job.yaml:7:14: sources.a.kafka.start: expected earliest, latest, committed or a TIME "
      "(RFC 3339 or epoch ms), got 'soon'\n"
      "job.yaml:8:13: sources.a.kafka.stop: expected never, latest or a TIME (RFC 3339 or epoch "
      "ms), got '2026-13-01T00:00:00Z'\n"
      "job.yaml:10:22: sources.b.kafka.topics: expected a non-empty list of topics, got an empty list\n"
      "job.yaml:12:12: sources.c.kafka: expected topic or topics\n" },
    { "owned librdkafka properties, anywhere",
      "job: a\nkafka:\n  enable.idempotence: true\nsources:\n  ev:\n    kafka:\n      topic: ev\n"
      "      enable.auto.commit: false\n      enable.auto.offset.store: false\n"
      "sinks:\n  out:\n    from: ev\n    kafka: { topic: o, transactional.id: t }\n"
      "dead_letter:\n  kafka: { topic: d, enable.idempotence: false }\n",
      "job.yaml:3:3: kafka.enable.idempotence: weir sets the librdkafka property "
      "'enable.idempotence' itself; remove it\n"
      "job.yaml:8:7: sources.ev.kafka.enable.auto.commit: weir sets the librdkafka property "
      "'enable.auto.commit' itself; remove it\n"
      "job.yaml:9:7: sources.ev.kafka.enable.auto.offset.store: weir sets the librdkafka property "
      "'enable.auto.offset.store' itself; remove it\n"
      "job.yaml:13:24: sinks.out.kafka.transactional.id: weir sets the librdkafka property "
      "'transactional.id' itself; remove it\n"
      "job.yaml:15:22: dead_letter.kafka.enable.idempotence: weir sets the librdkafka property "
      "'enable.idempotence' itself; remove it\n" },
    { "kafka property values are scalars; sink-only keys on a source",
      "job: a\nkafka:\n  bootstrap.servers: [a, b]\nsources:\n  ev:\n    kafka: { topic: ev, delivery: exactly-once }\n"
      SINK_OUT("ev"),
      "job.yaml:3:22: kafka.bootstrap.servers: expected a value for the librdkafka property, got a list\n"
      "job.yaml:6:25: sources.ev.kafka.delivery: is a setting of kafka sinks, not of sources\n" },
    { "event_time: field or kafka_timestamp",
      "job: a\nsources:\n  a:\n    file: { path: x }\n    event_time: { kafka_timestamp: true }\n"
      "  b:\n    file: { path: y }\n    event_time: { unit: ms }\n"
      "  c:\n    file: { path: z }\n    event_time: { field: 'a..b', unit: days }\n"
      SINK_OUT("[a, b, c]"),
      "job.yaml:5:36: sources.a.event_time.kafka_timestamp: only a kafka source has a Kafka "
      "timestamp; use field\n"
      "job.yaml:8:17: sources.b.event_time: expected field (a path like ts) or kafka_timestamp: true\n"
      "job.yaml:11:26: sources.c.event_time.field: bad field path 'a..b': invalid field path: "
      "expected a field name after '.' at offset 2\n"
      "job.yaml:11:40: sources.c.event_time.unit: expected one of s | ms | us | ns, got 'days'\n" },
    { "unknown time zone is an error at the timezone",
      "job: a\nsources:\n  a:\n    file: { path: x }\n    event_time:\n      field: ts\n"
      "      format: \"%Y-%m-%d %H:%M\"\n      timezone: Mars/Olympus\n" SINK_OUT("a"),
      "job.yaml:8:17: sources.a.event_time.timezone: expected an IANA time zone like "
      "America/Chicago: time zone Mars/Olympus: unknown (no file /usr/share/zoneinfo/Mars/Olympus)\n" },
    { "watermark durations",
      "job: a\n" SRC_FILE "    watermark: { delay: -1s, idle: forever }\n" SINK_OUT("clicks"),
      "job.yaml:6:25: sources.clicks.watermark.delay: expected a duration like 10s, got '-1s'\n"
      "job.yaml:6:36: sources.clicks.watermark.idle: expected a duration like 10s, got 'forever'\n" },
    { "operators must be a list of maps with a name",
      "job: a\n" SRC_FILE "operators:\n  - filter: x > 1\n  - just text\n" SINK_OUT("clicks"),
      "job.yaml:7:5: operators[0]: name is required\n"
      "job.yaml:8:5: operators[1]: expected a map with name and one of filter, map or window, got "
      "'just text'\n" },
    { "an operator needs exactly one of filter, map, window",
      "job: a\n" SRC_FILE "operators:\n  - name: f\n  - name: g\n    filter: x\n    map: { y: x }\n"
      SINK_OUT("[f, g]"),
      "job.yaml:7:5: operators.f: expected one of filter, map or window\n"
      "job.yaml:10:5: operators.g: give only one of filter, map or window (one operator each)\n" },
    { "first operator's from is required with several sources",
      "job: a\nsources:\n  a: { stdin: {} }\n  b: { file: { path: x } }\noperators:\n"
      "  - name: f\n    filter: x > 1\n" SINK_OUT("[f, b]"),
      "job.yaml:6:5: operators.f: from is required (the first operator reads the only source by "
      "default, and this job has 2 sources)\n" },
    { "from naming nothing, a sink, itself, a later operator",
      "job: a\n" SRC_FILE "operators:\n  - name: f\n    from: nowhere\n    filter: x\n"
      "  - name: g\n    from: out\n    filter: x\n  - name: h\n    from: h\n    filter: x\n"
      "  - name: i\n    from: j\n    filter: x\n  - name: j\n    from: clicks\n    filter: x\n"
      SINK_OUT("[f, g, h, i, j]"),
      "job.yaml:8:11: operators.f.from: 'nowhere' names no source or operator\n"
      "job.yaml:11:11: operators.g.from: 'out' is a sink; from names a source or an operator\n"
      "job.yaml:14:11: operators.h.from: operator 'h' reads from itself (a cycle)\n"
      "job.yaml:17:11: operators.i.from: operator 'j' is defined later; from names a source or "
      "an earlier operator\n" },
    { "a cycle through three operators is named",
      "job: a\n" SRC_FILE "operators:\n  - name: p\n    from: [clicks, r]\n    filter: x\n"
      "  - name: q\n    from: p\n    filter: x\n  - name: r\n    from: q\n    filter: x\n"
      SINK_OUT("r"),
      "job.yaml:8:20: operators.p.from: cycle: p <- r <- q <- p (each reads from the next)\n" },
    { "duplicate names across sources, operators and sinks",
      "job: a\n" SRC_FILE "operators:\n  - name: clicks\n    filter: x\n  - name: f\n    filter: x\n"
      "  - name: f\n    from: clicks\n    filter: x\nsinks:\n  f:\n    from: clicks\n    stdout: {}\n",
      "job.yaml:7:11: operators[0].name: 'clicks' is already the name of a source; names of "
      "sources, operators and sinks must be unique\n"
      "job.yaml:11:11: operators[2].name: 'f' is already the name of an earlier operator; names "
      "of sources, operators and sinks must be unique\n"
      "job.yaml:15:3: sinks: 'f' is already the name of a source or operator; names of sources, "
      "operators and sinks must be unique\n" },
    { "a window feeds only sinks, also by default",
      "job: a\n" SRC_FILE "operators:\n  - name: w\n    window: { tumbling: 1m }\n"
      "  - name: f\n    filter: x\n  - name: g\n    from: [clicks, w]\n    filter: x\n"
      SINK_OUT("[f, g]"),
      "job.yaml:9:5: operators.f: from defaults to the previous operator 'w', a window; a "
      "window's output may only feed sinks: give from\n"
      "job.yaml:12:20: operators.g.from: 'w' is a window; a window's output may only feed sinks "
      "(its updates and retractions would be counted again)\n" },
    { "a sink fed by nothing",
      "job: a\n" SRC_FILE "sinks:\n  a:\n    stdout: {}\n  b:\n    from: []\n    stdout: {}\n"
      "  c:\n    from: [clicks, clicks]\n    stdout: {}\n",
      "job.yaml:7:3: sinks.a: from is required: a sink fed by nothing writes nothing (name a "
      "source or operator, or a list)\n"
      "job.yaml:10:11: sinks.b.from: expected a name or a non-empty list of names, got an empty list\n"
      "job.yaml:13:20: sinks.c.from: 'clicks' is listed twice\n" },
    { "sink connectors",
      "job: a\n" SRC_FILE "sinks:\n  a:\n    from: clicks\n  b:\n    from: clicks\n    kafka: { topics: [x] }\n"
      "  c:\n    from: clicks\n    file: {}\n    format: text\n  d:\n    from: clicks\n    kafka: { topic: t, delivery: twice }\n",
      "job.yaml:7:3: sinks.a: expected one of kafka, file or stdout\n"
      "job.yaml:11:5: sinks.b.kafka.topic: required (the topic to write)\n"
      "job.yaml:11:14: sinks.b.kafka.topics: a kafka sink writes one topic (topic) from where it "
      "is: topics, start and stop are settings of sources\n"
      "job.yaml:14:5: sinks.c.file.path: required (the file's path)\n"
      "job.yaml:15:13: sinks.c.format: expected one of json, got 'text'\n"
      "job.yaml:18:34: sinks.d.kafka.delivery: expected one of at-least-once | exactly-once, got 'twice'\n" },
    { "exactly-once needs checkpoints",
      "job: a\ncheckpoint: { interval: 0 }\n" SRC_KAFKA
      "sinks:\n  out:\n    from: ev\n    kafka: { topic: o, delivery: exactly-once }\n",
      "job.yaml:13:34: sinks.out.kafka.delivery: exactly-once needs checkpoints, but "
      "checkpoint.interval is 0\n" },
    { "exactly-once needs the interval below transaction.timeout.ms (job-level property)",
      "job: a\ncheckpoint: { interval: 30s }\nkafka:\n  transaction.timeout.ms: 30000\n"
      "sources:\n  ev:\n    kafka: { topic: ev }\n    event_time: { kafka_timestamp: true }\n"
      "sinks:\n  out:\n    from: ev\n    kafka: { topic: o, delivery: exactly-once }\n",
      "job.yaml:12:34: sinks.out.kafka.delivery: exactly-once needs checkpoint.interval (30s) "
      "below the producer's transaction.timeout.ms (30000)\n" },
    { "transaction.timeout.ms must be a number",
      "job: a\n" SRC_KAFKA "sinks:\n  out:\n    from: ev\n"
      "    kafka: { topic: o, delivery: exactly-once, transaction.timeout.ms: soon }\n",
      "job.yaml:12:48: transaction.timeout.ms: expected milliseconds (an integer above 0), got 'soon'\n" },
    { "exactly-once with the default transaction timeout",
      "job: a\ncheckpoint: { interval: 2m }\n" SRC_KAFKA
      "sinks:\n  out:\n    from: ev\n    kafka: { topic: o, delivery: exactly-once }\n",
      "job.yaml:13:34: sinks.out.kafka.delivery: exactly-once needs checkpoint.interval (2m) below "
      "the producer's transaction.timeout.ms (60000, librdkafka's default)\n" },
    { "a malformed window key does not cascade into the sink's key expression",
      "job: a\n" SRC_KAFKA "operators:\n  - name: w\n    window:\n      key: {a: 1}\n"
      "      tumbling: 1m\n"
      "sinks:\n  out:\n    from: w\n    kafka: { topic: t, key: a }\n",
      "job.yaml:12:12: operators.w.window.key: expected a field or a list of fields, got a map\n" },
    { "a failed map expression keeps its field for later operators",
      "job: a\n" SRC_FILE "operators:\n  - name: m\n    map: { a: \"x +\" }\n"
      "  - name: f\n    filter: a > 1\n" SINK_OUT("f"),
      "job.yaml:8:19: operators.m.map.a: syntax error: expected an operand, found the end of the "
      "expression\n" },
    { "a bare file path gets a hint; sources of the wrong type are one error (no `from` errors)",
      "job: a\nsources: [x]\nsinks:\n  out:\n    from: x\n    file: out.jsonl\n",
      "job.yaml:2:10: sources: expected a map (key: value), got a list\n"
      "job.yaml:6:11: sinks.out.file: expected a map like { path: out.jsonl }, got 'out.jsonl'\n" },
    { "dead_letter: file or kafka",
      "job: a\n" SRC_FILE SINK_OUT("clicks") "dead_letter:\n  file: { path: a }\n  kafka: { topic: b }\n",
      "job.yaml:12:3: dead_letter: give file or kafka, not both\n" },
    { "dead_letter kafka needs a topic",
      "job: a\n" SRC_FILE SINK_OUT("clicks") "dead_letter:\n  kafka: { acks: all }\n",
      "job.yaml:11:3: dead_letter.kafka.topic: required (the topic to write)\n" },
};

Test(job_validate, each_mistake_is_reported_exactly) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        jh *h = jh_load(c->yaml);
        cr_expect_str_eq(h->out, c->expected, "%s: diagnostics differ.\n--- got:\n%s--- expected:\n%s",
                         c->what, h->out, c->expected);
        cr_expect_null(h->job, "%s: a job with errors must not load", c->what);
        jh_free(h);
    }
}

/* ---- several mistakes: all of them in one run --------------------------- */

Test(job_validate, every_error_of_a_file_is_reported_in_one_run) {
    jh *h = jh_load(
        "job: multi-errors\n"                              /* 1 */
        "paralelism: 2\n"                                  /* 2 */
        "max_parallelism: lots\n"                          /* 3 */
        "checkpoint:\n"                                    /* 4 */
        "  interval: 10 parsecs\n"                         /* 5 */
        "sources:\n"                                       /* 6 */
        "  clicks:\n"                                      /* 7 */
        "    file: { path: in.jsonl }\n"                   /* 8 */
        "    event_time: { field: ts }\n"                  /* 9 */
        "operators:\n"                                     /* 10 */
        "  - name: shaped\n"                               /* 11 */
        "    from: clicks\n"                               /* 12 */
        "    map:\n"                                       /* 13 */
        "      user: user_id\n"                            /* 14 */
        "      amount: \"price * qty\"\n"                  /* 15 */
        "      ts: ts\n"                                   /* 16 */
        "  - name: pricey\n"                               /* 17 */
        "    filter: \"price > 3\"\n"                      /* 18 */
        "  - name: weird\n"                                /* 19 */
        "    from: shaped\n"                               /* 20 */
        "    filter: \"frobnicate(amount) > 1\"\n"         /* 21 */
        "  - name: per_user\n"                             /* 22 */
        "    from: shaped\n"                               /* 23 */
        "    window:\n"                                    /* 24 */
        "      key: [user, country]\n"                     /* 25 */
        "      tumbling: 1x\n"                             /* 26 */
        "      aggregates:\n"                              /* 27 */
        "        window_end: count()\n"                    /* 28 */
        "        total: median(amount)\n"                  /* 29 */
        "sinks:\n"                                         /* 30 */
        "  out:\n"                                         /* 31 */
        "    from: [pricey, weird, lost]\n"                /* 32 */
        "    file: { path: out.jsonl }\n"                  /* 33 */
        "  starved:\n"                                     /* 34 */
        "    from: []\n"                                   /* 35 */
        "    file: { path: starved.jsonl }\n");            /* 36 */
    jh_expect(h,
        "job.yaml:2:1: unknown key 'paralelism' at the top level (expected one of: job, "
        "parallelism, max_parallelism, state, checkpoint, kafka, sources, operators, sinks, "
        "dead_letter)\n"
        "job.yaml:3:18: max_parallelism: expected an integer from 1 to 32768, got 'lots'\n"
        "job.yaml:5:13: checkpoint.interval: expected a duration like 10s, got '10 parsecs'\n"
        "job.yaml:18:14: operators.pricey.filter: unknown field 'price' (the input has user, "
        "amount, ts)\n"
        "job.yaml:21:14: operators.weird.filter: unknown function 'frobnicate'\n"
        "job.yaml:25:19: operators.per_user.window.key: unknown field 'country' (the input has "
        "user, amount, ts)\n"
        "job.yaml:26:17: operators.per_user.window.tumbling: expected a duration above 0 like "
        "10s, got '1x'\n"
        "job.yaml:28:9: operators.per_user.window.aggregates.window_end: 'window_end' is a field "
        "of every window result; name the aggregate otherwise\n"
        "job.yaml:29:16: operators.per_user.window.aggregates.total: unknown aggregate function "
        "'median' (expected one of: count, sum, min, max, avg, first, last, count_distinct)\n"
        "job.yaml:32:27: sinks.out.from: 'lost' names no source or operator\n"
        "job.yaml:35:11: sinks.starved.from: expected a name or a non-empty list of names, got "
        "an empty list\n");
    jh_free(h);
}

/* ---- windows and aggregates --------------------------------------------- */

static void window_errors(const char *window_yaml, const char *expected) {
    char text[2048];
    snprintf(text, sizeof text, "job: a\n" SRC_FILE "operators:\n  - name: w\n    window:\n%s"
             SINK_OUT("w"), window_yaml);
    jh *h = jh_load(text);
    cr_assert_str_eq(h->out, expected, "window:\n%s--- got:\n%s--- expected:\n%s", window_yaml,
                     h->out, expected);
    cr_assert_null(h->job);
    jh_free(h);
}

Test(job_validate, window_kind_is_exactly_one_of_tumbling_sliding_session) {
    window_errors("      key: user\n",
                  "job.yaml:8:5: operators.w.window: expected one of tumbling, sliding or session\n");
    window_errors("      tumbling: 1m\n      session: { gap: 1s }\n",
                  "job.yaml:10:7: operators.w.window: give only one of tumbling, sliding or session\n");
    window_errors("      sliding: { size: 1m }\n",
                  "job.yaml:9:16: operators.w.window.sliding.slide: required (a duration above 0 like "
                  "10s)\n");
    window_errors("      sliding: { size: 0s, slide: 1s, hop: 2s }\n",
                  "job.yaml:9:24: operators.w.window.sliding.size: expected a duration above 0 "
                  "like 10s, got '0s'\n"
                  "job.yaml:9:39: unknown key 'hop' in operators.w.window.sliding (expected one "
                  "of: size, slide)\n");
    window_errors("      session: 30s\n",
                  "job.yaml:9:16: operators.w.window.session: expected a map (key: value), got '30s'\n");
    window_errors("      session: { gap: 0s }\n      allowed_lateness: -1s\n",
                  "job.yaml:9:23: operators.w.window.session.gap: expected a duration above 0 "
                  "like 10s, got '0s'\n"
                  "job.yaml:10:25: operators.w.window.allowed_lateness: expected a duration like "
                  "10s, got '-1s'\n");
}

Test(job_validate, aggregates_are_one_call_of_a_known_function) {
    window_errors("      tumbling: 1m\n      aggregates:\n"
                  "        a: count(x)\n        b: sum()\n        c: sum(x, y)\n"
                  "        d: total\n        e: sum(x) + sum(y)\n        f: [1]\n"
                  "        g: min(nosuch(x))\n",
                  "job.yaml:11:18: operators.w.window.aggregates.a: count() takes no argument (it "
                  "counts records); use count_distinct(x) or sum(x)\n"
                  "job.yaml:12:15: operators.w.window.aggregates.b: sum() needs one argument, e.g. "
                  "sum(amount)\n"
                  "job.yaml:13:16: operators.w.window.aggregates.c: sum() takes one argument\n"
                  "job.yaml:14:12: operators.w.window.aggregates.d: expected function(expression) "
                  "like sum(amount), got 'total'\n"
                  "job.yaml:15:12: operators.w.window.aggregates.e: expected function(expression) "
                  "like sum(amount), got 'sum(x) + sum(y)'\n"
                  "job.yaml:16:12: operators.w.window.aggregates.f: expected function(expression) "
                  "like sum(amount), got a list\n"
                  "job.yaml:17:16: operators.w.window.aggregates.g: unknown function 'nosuch'\n");
}

Test(job_validate, aggregate_may_not_be_named_like_a_key_or_a_window_field) {
    window_errors("      key: [user, user.id]\n      tumbling: 1m\n      aggregates:\n"
                  "        user: count()\n        user.id: count()\n        retracted: count()\n"
                  "        window_start: count()\n",
                  "job.yaml:12:9: operators.w.window.aggregates.user: an aggregate may not be "
                  "named like the key field 'user'\n"
                  "job.yaml:13:9: operators.w.window.aggregates.user.id: an aggregate may not be "
                  "named like the key field 'user.id'\n"
                  "job.yaml:14:9: operators.w.window.aggregates.retracted: 'retracted' is a field "
                  "of every window result; name the aggregate otherwise\n"
                  "job.yaml:15:9: operators.w.window.aggregates.window_start: 'window_start' is a "
                  "field of every window result; name the aggregate otherwise\n");
}

Test(job_validate, window_keys_are_paths_listed_once) {
    window_errors("      key: [a, 'b..c', a, {x: 1}]\n      tumbling: 1m\n",
                  "job.yaml:9:16: operators.w.window.key: bad field path 'b..c': invalid field "
                  "path: expected a field name after '.' at offset 2\n"
                  "job.yaml:9:24: operators.w.window.key: key field 'a' is listed twice\n"
                  "job.yaml:9:27: operators.w.window.key: expected a field path like user or "
                  "user.id, got a map\n");
}

Test(job_validate, window_spec_is_filled_for_the_planner) {
    jh *h = jh_load("job: a\n" SRC_FILE "operators:\n"
                    "  - name: s\n    window:\n      key: user.id\n"
                    "      sliding: { size: 1m, slide: 10s }\n      aggregates: { n: count() }\n"
                    "  - name: g\n    from: clicks\n    window:\n      session: { gap: 30s }\n"
                    "      allowed_lateness: 5s\n"
                    "sinks:\n  out:\n    from: [s, g]\n    stdout: {}\n");
    weir_job *j = jh_ok(h);
    const weir_window_spec *s = &j->ops[0].window;
    cr_assert_eq(s->kind, WEIR_WINDOW_SLIDING);
    cr_assert_eq(s->size_ms, 60000);
    cr_assert_eq(s->slide_ms, 10000);
    cr_assert_eq(s->n_keys, 1);
    cr_assert_str_eq(s->key_names[0], "user.id", "the key's output name is the path as written");
    cr_assert_str_eq(j->ops[0].key_texts[0], "user.id");
    cr_assert_eq(s->n_aggs, 1);
    const weir_window_spec *g = &j->ops[1].window;
    cr_assert_eq(g->kind, WEIR_WINDOW_SESSION);
    cr_assert_eq(g->gap_ms, 30000);
    cr_assert_eq(g->allowed_lateness_ms, 5000);
    cr_assert_eq(g->n_keys, 0, "no key: one window per time range");
    cr_assert_eq(g->n_aggs, 0);
    jh_free(h);
}

Test(job_validate, sliding_with_slide_above_size_warns_and_loads) {
    jh *h = jh_load("job: a\n" SRC_FILE "operators:\n  - name: s\n    window:\n"
                    "      sliding: { size: 1m, slide: 2m }\n" SINK_OUT("s"));
    weir_job *j = jh_ok(h);
    cr_assert_eq(j->n_warnings, 1);
    cr_assert_str_eq(j->warnings[0], "job.yaml:9:16: warning: operators.s.window.sliding: slide "
                     "is longer than size: some events fall in no window (SPEC §4)");
    cr_assert_str_eq(h->out, "job.yaml:9:16: warning: operators.s.window.sliding: slide is longer "
                     "than size: some events fall in no window (SPEC §4)\n");
    jh_free(h);
}

Test(job_validate, operator_feeding_nothing_warns) {
    jh *h = jh_load("job: a\n" SRC_FILE "operators:\n  - name: f\n    filter: x > 1\n"
                    SINK_OUT("clicks"));
    weir_job *j = jh_ok(h);
    cr_assert_eq(j->n_warnings, 1);
    cr_assert_str_eq(h->out, "job.yaml:7:11: warning: operator 'f' feeds nothing: no operator or "
                     "sink reads from it\n");
    jh_free(h);
}

/* ---- known fields of expressions ---------------------------------------- */

Test(job_validate, records_from_a_source_may_have_any_field_and_kafka_metadata) {
    jh *h = jh_load("job: a\n" SRC_KAFKA "operators:\n"
                    "  - name: f\n    filter: \"_partition == 0 && _offset > 5 && anything.deep[2]\"\n"
                    "  - name: m\n    map: { k: _key, t: _topic, ts: _timestamp, n: 5, b: true, z: ~ }\n"
                    SINK_OUT("m"));
    weir_job *j = jh_ok(h);
    cr_assert_eq(j->ops[1].n_fields, 6);
    cr_assert_str_eq(weir_expr_text(j->ops[1].field_exprs[3]), "5");
    cr_assert_str_eq(weir_expr_text(j->ops[1].field_exprs[4]), "true");
    cr_assert_str_eq(weir_expr_text(j->ops[1].field_exprs[5]), "null");
    jh_free(h);
}

Test(job_validate, a_map_output_has_exactly_its_fields_and_a_filter_keeps_them) {
    jh *h = jh_load("job: a\n" SRC_FILE "operators:\n"
                    "  - name: m\n    map: { a: x, b: y }\n"
                    "  - name: f\n    filter: \"a > 1 && _offset > 0\"\n"
                    "  - name: g\n    filter: \"b > c\"\n" SINK_OUT("g"));
    jh_expect(h, "job.yaml:10:23: operators.f.filter: unknown field '_offset' (the input has a, b)\n"
                 "job.yaml:12:18: operators.g.filter: unknown field 'c' (the input has a, b)\n");
    jh_free(h);
}

Test(job_validate, a_union_has_the_union_of_its_inputs_fields) {
    jh *h = jh_load("job: a\n" SRC_FILE "operators:\n"
                    "  - name: m1\n    map: { a: x }\n"
                    "  - name: m2\n    from: clicks\n    map: { b: y }\n"
                    "  - name: u\n    from: [m1, m2]\n    filter: \"a > 1 || b > 1\"\n"
                    "  - name: v\n    from: [m1, clicks]\n    filter: \"anything > 1\"\n"
                    "  - name: w\n    from: [m1, m2]\n    filter: \"c > 1\"\n"
                    SINK_OUT("[u, v, w]"));
    jh_expect(h, "job.yaml:20:14: operators.w.filter: unknown field 'c' (the input has a, b)\n");
    jh_free(h);
}

Test(job_validate, a_sink_key_sees_the_window_output_fields) {
    jh *h = jh_load("job: a\n" SRC_KAFKA "operators:\n"
                    "  - name: w\n    window:\n      key: [user]\n      tumbling: 1m\n"
                    "      aggregates: { n: count() }\n"
                    "sinks:\n  ok:\n    from: w\n    kafka: { topic: t, key: \"concat(user, window_start, n)\" }\n"
                    "  bad:\n    from: w\n    kafka: { topic: t, key: amount }\n");
    jh_expect(h, "job.yaml:21:29: sinks.bad.kafka.key: unknown field 'amount' (the input has "
                 "user, window_start, window_end, n)\n");
    jh_free(h);
}

/* ---- event time ---------------------------------------------------------- */

Test(job_validate, event_time_may_be_omitted_when_no_window_reads_the_source) {
    jh *h = jh_load("job: a\nsources:\n  s: { stdin: {} }\noperators:\n  - name: f\n"
                    "    filter: x > 1\n" SINK_OUT("f"));
    weir_job *j = jh_ok(h);
    cr_assert_null(j->sources[0].event_time);
    cr_assert_null(j->sources[0].time_field);
    jh_free(h);
}

Test(job_validate, event_time_is_required_upstream_of_a_window) {
    jh *h = jh_load("job: a\nsources:\n  s: { stdin: {} }\n  t: { file: { path: x } }\n"
                    "operators:\n  - name: m\n    from: [s, t]\n    map: { a: x }\n"
                    "  - name: w\n    window: { tumbling: 1m }\n" SINK_OUT("w"));
    jh_expect(h, "job.yaml:3:3: sources.s: event_time is required: window 'w' reads from this "
                 "source (give event_time.field or event_time.kafka_timestamp: true)\n"
                 "job.yaml:4:3: sources.t: event_time is required: window 'w' reads from this "
                 "source (give event_time.field or event_time.kafka_timestamp: true)\n");
    jh_free(h);
}

Test(job_validate, kafka_timestamp_and_times_of_start_and_stop) {
    jh *h = jh_load("job: a\nsources:\n  ev:\n    kafka:\n      topics: [a, b]\n"
                    "      start: 2026-11-01T00:00:00Z\n      stop: 1700000000000\n"
                    "    event_time: { kafka_timestamp: true }\n" SINK_OUT("ev"));
    weir_job *j = jh_ok(h);
    const weir_job_source *s = &j->sources[0];
    cr_assert_eq(s->kafka.n_topics, 2);
    cr_assert_str_eq(s->kafka.topics[1], "b");
    cr_assert(s->kafka_timestamp);
    cr_assert_null(s->time_field);
    cr_assert_not_null(s->event_time);
    cr_assert(s->kafka.start_is_time);
    cr_assert_eq(s->kafka.start_ms, 1793491200000LL);
    cr_assert(s->kafka.stop_is_time);
    cr_assert_eq(s->kafka.stop_ms, 1700000000000LL);
    jh_free(h);
}

Test(job_validate, event_time_format_and_timezone_are_kept) {
    jh *h = jh_load("job: a\nsources:\n  s:\n    stdin: {}\n    event_time:\n      field: when\n"
                    "      format: \"%Y/%m/%d %H:%M\"\n      timezone: America/Chicago\n"
                    SINK_OUT("s"));
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(j->sources[0].time_format, "%Y/%m/%d %H:%M");
    cr_assert_str_eq(j->sources[0].time_zone, "America/Chicago");
    cr_assert_not_null(j->sources[0].event_time);
    jh_free(h);
}

Test(job_validate, exactly_once_below_the_transaction_timeout_loads) {
    jh *h = jh_load("job: a\ncheckpoint: { interval: 50s }\n" SRC_KAFKA
                    "sinks:\n  out:\n    from: ev\n    kafka: { topic: o, delivery: exactly-once }\n");
    cr_assert(jh_ok(h)->sinks[0].kafka.exactly_once);
    jh_free(h);
}
