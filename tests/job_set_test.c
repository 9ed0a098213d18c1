/* tests/job_set_test.c -- `--set KEY=VALUE` overrides (SPEC §1): dotted paths,
 * kafka property names, list items by name, created keys, YAML values, and
 * errors reported as `--set KEY: message`. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/expr.h"
#include "job_harness.h"

static const char *BASE =
    "job: base\n"
    "kafka:\n"
    "  bootstrap.servers: a:1\n"
    "sources:\n"
    "  clicks:\n"
    "    kafka: { topic: clicks }\n"
    "    event_time: { field: ts }\n"
    "  kafka:\n"                        /* a source named kafka: not a kafka map */
    "    file: { path: k.jsonl }\n"
    "operators:\n"
    "  - name: big\n"
    "    from: clicks\n"
    "    filter: amount > 10\n"
    "  - name: per_user\n"
    "    window:\n"
    "      key: [user]\n"
    "      tumbling: 1m\n"
    "sinks:\n"
    "  out:\n"
    "    from: [per_user, kafka]\n"
    "    file: { path: out.jsonl }\n";

static jh *with(const weir_job_override *ov, size_t n) { return jh_load_set(BASE, ov, n); }

Test(job_set, top_level_and_nested_scalars_are_replaced) {
    weir_job_override ov[] = { { "parallelism", "3" }, { "checkpoint.interval", "30s" },
                               { "sinks.out.file.path", "/tmp/elsewhere.jsonl" } };
    jh *h = with(ov, 3);
    weir_job *j = jh_ok(h);
    cr_assert_eq(j->parallelism, 3);
    cr_assert_eq(j->checkpoint_interval_ms, 30000, "checkpoint did not exist: it is created");
    cr_assert_str_eq(j->sinks[0].path, "/tmp/elsewhere.jsonl");
    jh_free(h);
}

Test(job_set, below_kafka_the_rest_of_the_key_is_one_property_name) {
    weir_job_override ov[] = { { "kafka.bootstrap.servers", "h:9092" },
                               { "sources.clicks.kafka.topic", "other" },
                               { "sources.clicks.kafka.fetch.max.bytes", "1024" },
                               { "dead_letter.kafka.topic", "dlq" } };
    jh *h = with(ov, 4);
    weir_job *j = jh_ok(h);
    cr_assert_eq(j->n_kafka, 1);
    cr_assert_str_eq(j->kafka[0].key, "bootstrap.servers");
    cr_assert_str_eq(j->kafka[0].value, "h:9092");
    const weir_job_source *s = &j->sources[0];
    cr_assert_str_eq(s->kafka.topics[0], "other");
    cr_assert_eq(s->kafka.n_props, 2);
    cr_assert_str_eq(s->kafka.props[1].key, "fetch.max.bytes");
    cr_assert_str_eq(s->kafka.props[1].value, "1024");
    cr_assert_eq(j->dead_letter_kind, WEIR_CONN_KAFKA);
    cr_assert_str_eq(j->dead_letter_kafka.topics[0], "dlq");
    jh_free(h);
}

Test(job_set, a_source_named_kafka_is_addressed_like_any_source) {
    weir_job_override ov[] = { { "sources.kafka.file.path", "other.jsonl" } };
    jh *h = with(ov, 1);
    cr_assert_str_eq(jh_ok(h)->sources[1].path, "other.jsonl");
    jh_free(h);
}

Test(job_set, operators_are_addressed_by_name) {
    weir_job_override ov[] = { { "operators.big.filter", "amount > 5" },
                               { "operators.per_user.window.tumbling", "5m" } };
    jh *h = with(ov, 2);
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(weir_expr_text(j->ops[0].filter), "amount > 5");
    cr_assert_eq(j->ops[1].window.size_ms, 300000);
    jh_free(h);
}

Test(job_set, values_are_read_as_yaml) {
    weir_job_override ov[] = { { "operators.big.filter", "'user'" },
                               { "operators.per_user.window.key", "[user, region]" },
                               { "sources.clicks.kafka.start", "\"2026-01-01T00:00:00Z\"" },
                               { "sources.kafka.watermark", "" },
                               { "sinks.out.from", "[per_user]" },
                               { "operators.per_user.window.aggregates", "{n: count()}" } };
    jh *h = with(ov, 6);
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(weir_expr_text(j->ops[0].filter), "user", "quotes are YAML's");
    cr_assert_eq(j->ops[1].window.n_keys, 2);
    cr_assert_str_eq(j->ops[1].window.key_names[1], "region");
    cr_assert(j->sources[0].kafka.start_is_time);
    cr_assert_eq(j->sources[0].kafka.start_ms, 1767225600000LL);
    cr_assert_eq(j->sources[1].delay_ms, 0, "an empty value is null: an empty watermark map");
    cr_assert_eq(j->sinks[0].n_from, 1);
    cr_assert_eq(j->ops[1].window.n_aggs, 1);
    jh_free(h);
}

Test(job_set, a_value_that_is_not_one_yaml_scalar_is_taken_verbatim) {
    weir_job_override ov[] = { { "operators.big.filter", "'a' == user" },
                               { "sinks.out.file.path", "x: y" } };
    jh *h = with(ov, 2);
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(weir_expr_text(j->ops[0].filter), "'a' == user");
    cr_assert_str_eq(j->sinks[0].path, "x: y");
    jh_free(h);
}

Test(job_set, the_later_override_wins) {
    weir_job_override ov[] = { { "parallelism", "3" }, { "parallelism", "5" } };
    jh *h = with(ov, 2);
    cr_assert_eq(jh_ok(h)->parallelism, 5);
    jh_free(h);
}

Test(job_set, bad_paths_are_errors_naming_the_override) {
    weir_job_override ov[] = { { "operators.nosuch.filter", "x" },
                               { "operators.big", "x" },
                               { "job.name", "x" },
                               { "checkpoint..interval", "1s" },
                               { "", "x" },
                               { "sources.clicks.kafka.topic", "ok" } };
    jh *h = with(ov, 6);
    jh_expect(h, "--set operators.nosuch.filter: no item of operators is named 'nosuch'\n"
                 "--set operators.big: name a key of the item, e.g. operators.big.filter\n"
                 "--set job.name: job holds a value, not a map\n"
                 "--set checkpoint..interval: empty name in the key path\n"
                 "--set: expected KEY=VALUE with a dotted KEY like checkpoint.interval\n");
    jh_free(h);
}

Test(job_set, bad_values_are_reported_at_the_override) {
    weir_job_override ov[] = { { "parallelism", "zero" },
                               { "operators.big.filter", "nosuchfn(amount) > 1" },
                               { "sources.clicks.kafka.enable.auto.commit", "true" },
                               { "sources.clicks.colour", "blue" } };
    jh *h = with(ov, 4);
    /* in the order validation meets them */
    jh_expect(h, "--set parallelism: parallelism: expected an integer from 1 to 32768, got 'zero'\n"
                 "--set sources.clicks.colour: unknown key 'colour' in sources.clicks (expected "
                 "one of: kafka, file, stdin, format, event_time, watermark)\n"
                 "--set sources.clicks.kafka.enable.auto.commit: sources.clicks.kafka.enable.auto."
                 "commit: weir sets the librdkafka property 'enable.auto.commit' itself; remove it\n"
                 "--set operators.big.filter: operators.big.filter: unknown function 'nosuchfn'\n");
    jh_free(h);
}

Test(job_set, file_errors_and_override_errors_come_out_together) {
    const char *text = "job: a\nparallelism: two\n" JH_SOURCE JH_SINK;
    weir_job_override ov[] = { { "max_parallelism", "0" } };
    jh *h = jh_load_set(text, ov, 1);
    jh_expect(h, "--set max_parallelism: max_parallelism: expected an integer from 1 to 32768, "
                 "got '0'\n"
                 "job.yaml:2:14: parallelism: expected an integer from 1 to 32768, got 'two'\n");
    jh_free(h);
}

Test(job_set, an_empty_file_can_be_completed_by_overrides) {
    weir_job_override ov[] = { { "job", "made" }, { "sources.s.stdin", "{}" },
                               { "sinks.o.from", "s" }, { "sinks.o.stdout", "" } };
    jh *h = jh_load_set("", ov, 4);
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(j->name, "made");
    cr_assert_eq(j->sources[0].kind, WEIR_CONN_STDIN);
    cr_assert_eq(j->sinks[0].kind, WEIR_CONN_STDOUT);
    jh_free(h);
}
