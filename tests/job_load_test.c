/* tests/job_load_test.c -- loading job files: YAML tree, positions, defaults,
 * the weir_job the planner consumes, diagnostics printing (SPEC §2). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/expr.h"
#include "engine/path.h"
#include "job_harness.h"
#include "jobs/plan_print.h"
#include "jobs/yaml_tree.h"

/* The job of SPEC §2, with every key spelled out. */
static const char *SPEC_JOB =
    "job: clicks-per-user\n"
    "parallelism: 2\n"
    "max_parallelism: 256\n"
    "state:\n"
    "  memory: 64MB\n"
    "checkpoint:\n"
    "  interval: 5s\n"
    "  retain: 4\n"
    "  timeout: 2m\n"
    "kafka:\n"
    "  bootstrap.servers: localhost:9092\n"
    "  client.id: base\n"
    "sources:\n"
    "  clicks:\n"
    "    kafka:\n"
    "      topic: clicks\n"
    "      start: earliest\n"
    "      stop: latest\n"
    "      client.id: mine\n"
    "    format: json\n"
    "    event_time:\n"
    "      field: ts\n"
    "      unit: s\n"
    "    watermark:\n"
    "      delay: 5s\n"
    "      idle: 30s\n"
    "operators:\n"
    "  - name: big\n"
    "    from: clicks\n"
    "    filter: \"amount > 10 && country != 'XX'\"\n"
    "  - name: shaped\n"
    "    map:\n"
    "      user: user_id\n"
    "      amount: \"price * qty\"\n"
    "      ts: ts\n"
    "  - name: per_user\n"
    "    window:\n"
    "      key: [user]\n"
    "      tumbling: 1m\n"
    "      allowed_lateness: 2s\n"
    "      aggregates:\n"
    "        clicks: count()\n"
    "        total: sum(amount)\n"
    "        biggest: max(amount)\n"
    "        smallest: min(amount)\n"
    "        mean: avg(amount)\n"
    "        first_amount: first(amount)\n"
    "        last_amount: last(amount)\n"
    "        users: count_distinct(user)\n"
    "sinks:\n"
    "  out:\n"
    "    from: per_user\n"
    "    kafka:\n"
    "      topic: clicks-per-user\n"
    "      key: user\n"
    "      delivery: exactly-once\n"
    "    format: json\n"
    "dead_letter:\n"
    "  kafka: { topic: clicks-dlq }\n";

Test(job_load, spec_example_fills_every_field_of_the_job) {
    jh *h = jh_load(SPEC_JOB);
    weir_job *j = jh_ok(h);
    cr_assert_str_eq(j->name, "clicks-per-user");
    cr_assert_eq(j->parallelism, 2);
    cr_assert_eq(j->max_parallelism, 256);
    cr_assert_eq(j->state_memory_bytes, 64LL << 20);
    cr_assert_eq(j->checkpoint_interval_ms, 5000);
    cr_assert_eq(j->checkpoint_retain, 4);
    cr_assert_eq(j->checkpoint_timeout_ms, 120000);
    cr_assert_eq(j->n_kafka, 2);

    cr_assert_eq(j->n_sources, 1);
    weir_job_source *s = &j->sources[0];
    cr_assert_str_eq(s->name, "clicks");
    cr_assert_eq(s->pos.line, 14);
    cr_assert_eq(s->pos.column, 3);
    cr_assert_eq(s->kind, WEIR_CONN_KAFKA);
    cr_assert_eq(s->kafka.n_topics, 1);
    cr_assert_str_eq(s->kafka.topics[0], "clicks");
    cr_assert_str_eq(s->kafka.start, "earliest");
    cr_assert_str_eq(s->kafka.stop, "latest");
    cr_assert_not(s->kafka.start_is_time);
    /* job-level props first, the source's own laid over them */
    cr_assert_eq(s->kafka.n_props, 2);
    cr_assert_str_eq(s->kafka.props[0].key, "bootstrap.servers");
    cr_assert_str_eq(s->kafka.props[0].value, "localhost:9092");
    cr_assert_str_eq(s->kafka.props[1].key, "client.id");
    cr_assert_str_eq(s->kafka.props[1].value, "mine");
    cr_assert_eq(s->kafka.props[1].pos.line, 19);
    cr_assert_str_eq(weir_path_text(s->time_field), "ts");
    cr_assert_not(s->kafka_timestamp);
    cr_assert_not_null(s->event_time);
    cr_assert_eq(s->time_unit, WEIR_UNIT_S);
    cr_assert_eq(s->delay_ms, 5000);
    cr_assert_eq(s->idle_ms, 30000);

    cr_assert_eq(j->n_ops, 3);
    cr_assert_eq(j->ops[0].kind, WEIR_OPK_FILTER);
    cr_assert_str_eq(weir_expr_text(j->ops[0].filter), "amount > 10 && country != 'XX'");
    cr_assert_eq(j->ops[0].n_from, 1);
    cr_assert_str_eq(j->ops[0].from[0], "clicks");
    cr_assert_eq(j->ops[1].kind, WEIR_OPK_MAP);
    cr_assert_str_eq(j->ops[1].from[0], "big", "from defaults to the previous entry");
    cr_assert_eq(j->ops[1].n_fields, 3);
    cr_assert_str_eq(j->ops[1].field_names[1], "amount");
    cr_assert_str_eq(weir_expr_text(j->ops[1].field_exprs[1]), "price * qty");

    weir_job_op *w = &j->ops[2];
    cr_assert_eq(w->kind, WEIR_OPK_WINDOW);
    cr_assert_str_eq(w->from[0], "shaped");
    cr_assert_str_eq(w->window.name, "per_user");
    cr_assert_eq(w->window.kind, WEIR_WINDOW_TUMBLING);
    cr_assert_eq(w->window.size_ms, 60000);
    cr_assert_eq(w->window.slide_ms, 60000);
    cr_assert_eq(w->window.allowed_lateness_ms, 2000);
    cr_assert_eq(w->window.n_keys, 1);
    cr_assert_str_eq(w->window.key_names[0], "user");
    cr_assert_str_eq(weir_path_text(w->window.key_paths[0]), "user");
    cr_assert_eq(w->window.n_aggs, 8);
    static const weir_agg_func funcs[] = { WEIR_AGG_COUNT, WEIR_AGG_SUM, WEIR_AGG_MAX,
        WEIR_AGG_MIN, WEIR_AGG_AVG, WEIR_AGG_FIRST, WEIR_AGG_LAST, WEIR_AGG_COUNT_DISTINCT };
    static const char *names[] = { "clicks", "total", "biggest", "smallest", "mean",
                                   "first_amount", "last_amount", "users" };
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(w->window.aggs[i].func, funcs[i], "aggregate %zu", i);
        cr_assert_str_eq(w->window.aggs[i].out_name, names[i]);
    }
    cr_assert_null(w->window.aggs[0].arg, "count() has no argument");
    cr_assert_str_eq(weir_expr_text(w->window.aggs[7].arg), "user");

    cr_assert_eq(j->n_sinks, 1);
    weir_job_sink *o = &j->sinks[0];
    cr_assert_eq(o->kind, WEIR_CONN_KAFKA);
    cr_assert_str_eq(o->kafka.topics[0], "clicks-per-user");
    cr_assert_str_eq(weir_expr_text(o->kafka.key), "user");
    cr_assert_eq(o->kafka.exactly_once, 1);
    cr_assert_str_eq(o->from[0], "per_user");
    cr_assert(j->has_dead_letter);
    cr_assert_eq(j->dead_letter_kind, WEIR_CONN_KAFKA);
    cr_assert_str_eq(j->dead_letter_kafka.topics[0], "clicks-dlq");
    cr_assert_eq(j->n_warnings, 0);
    cr_assert_str_eq(h->out, "");
    cr_assert_eq(weir_job_find_source(j, "clicks"), 0);
    cr_assert_eq(weir_job_find_op(j, "per_user"), 2);
    cr_assert_eq(weir_job_find_op(j, "clicks"), -1);
    jh_free(h);
}

Test(job_load, defaults_apply_when_keys_are_absent) {
    jh *h = jh_load("job: tiny\n" JH_SOURCE JH_SINK);
    weir_job *j = jh_ok(h);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(j->parallelism, (uint32_t)(cpus > 128 ? 128 : cpus));
    cr_assert_eq(j->max_parallelism, 128);
    cr_assert_eq(j->state_memory_bytes, 256LL << 20);
    cr_assert_eq(j->checkpoint_interval_ms, 10000);
    cr_assert_eq(j->checkpoint_retain, 3);
    cr_assert_eq(j->checkpoint_timeout_ms, 600000);
    cr_assert_eq(j->sources[0].kind, WEIR_CONN_FILE);
    cr_assert_str_eq(j->sources[0].path, "in.jsonl");
    cr_assert_eq(j->sources[0].format, WEIR_FORMAT_JSON);
    cr_assert_eq(j->sources[0].delay_ms, 0);
    cr_assert_eq(j->sources[0].idle_ms, -1);
    cr_assert_eq(j->sources[0].time_unit, WEIR_UNIT_MS);
    cr_assert_eq(j->n_ops, 0);
    cr_assert_eq(j->sinks[0].kind, WEIR_CONN_STDOUT);
    cr_assert_not(j->has_dead_letter);
    jh_free(h);
}

Test(job_load, parallelism_default_is_capped_at_max_parallelism) {
    jh *h = jh_load("job: tiny\nmax_parallelism: 1\n" JH_SOURCE JH_SINK);
    cr_assert_eq(jh_ok(h)->parallelism, 1);
    jh_free(h);
}

Test(job_load, missing_file_is_an_error_naming_the_file) {
    weir_diag d;
    weir_diag_init(&d, "/nonexistent/job.yaml");
    weir_job *j = weir_job_load("/nonexistent/job.yaml", NULL, 0, &d);
    cr_assert_null(j);
    cr_assert_eq(d.n_errors, 1);
    char *s = weir_diag_format(&d, &d.items[0]);
    cr_assert_str_eq(s, "/nonexistent/job.yaml: cannot open the job file: No such file or directory");
    free(s);
    weir_diag_fini(&d);
}

Test(job_load, empty_file_is_an_error) {
    jh *h = jh_load("");
    jh_expect(h, "job.yaml: the job file is empty (expected job, sources and sinks)\n");
    jh_free(h);
    h = jh_load("# only a comment\n");
    jh_expect(h, "job.yaml: the job file is empty (expected job, sources and sinks)\n");
    jh_free(h);
}

Test(job_load, top_level_list_is_an_error) {
    jh *h = jh_load("- a\n- b\n");
    jh_expect(h, "job.yaml:1:1: expected a map of job settings (job, sources, operators, sinks) "
                 "at the top level, got a list\n");
    jh_free(h);
}

Test(job_load, yaml_syntax_error_has_libyaml_position) {
    jh *h = jh_load("job: x\nsources:\n  a: [b\n  c: d\n");
    jh_expect(h, "job.yaml:4:4: invalid YAML: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at line 3, column 6)\n");
    jh_free(h);
}

Test(job_load, tab_indentation_is_a_syntax_error) {
    jh *h = jh_load("job: x\nsources:\n\ta: 1\n");
    cr_assert_null(h->job);
    cr_assert_eq(h->diag.n_errors, 1);
    cr_assert_eq(h->diag.items[0].line, 3);
    cr_assert(strstr(h->out, "invalid YAML") != NULL, "%s", h->out);
    jh_free(h);
}

Test(job_load, invalid_utf8_is_a_syntax_error_at_its_byte) {
    jh *h = jh_load("job: x\nsources: \xff\n");
    jh_expect(h, "job.yaml:2:10: invalid YAML: invalid leading UTF-8 octet\n");
    jh_free(h);
}

Test(job_load, duplicate_key_is_an_error_at_the_second_key) {
    jh *h = jh_load("job: a\njob: b\n" JH_SOURCE JH_SINK);
    jh_expect(h, "job.yaml:2:1: duplicate key 'job' (first defined at line 1)\n");
    jh_free(h);
}

Test(job_load, anchors_aliases_and_tags_are_rejected) {
    jh *h = jh_load("job: &n x\nparallelism: !!int 2\n"
                    "sources:\n  clicks:\n    file: { path: in.jsonl }\n"
                    "    event_time: { field: ts }\n"
                    "sinks:\n  out:\n    from: *n\n    stdout: {}\n");
    jh_expect(h,
              "job.yaml:1:6: YAML anchors (&n) are not supported in job files\n"
              "job.yaml:2:14: YAML tags (!!int) are not supported in job files; quote the value instead\n"
              "job.yaml:9:11: YAML aliases (*n) are not supported in job files\n"
              "job.yaml:9:11: sinks.out.from: expected a name or a non-empty list of names, got nothing\n");
    jh_free(h);
}

Test(job_load, second_document_is_an_error) {
    jh *h = jh_load("job: a\n" JH_SOURCE JH_SINK "---\njob: b\n");
    jh_expect(h, "job.yaml:10:1: a job file holds one YAML document; remove this second one\n");
    jh_free(h);
}

Test(job_load, map_as_a_key_is_an_error) {
    jh *h = jh_load("job: a\n? {x: 1}\n: 2\n" JH_SOURCE JH_SINK);
    jh_expect(h, "job.yaml:2:3: a map key must be plain text, not a map\n");
    jh_free(h);
}

Test(job_load, nesting_deeper_than_the_limit_is_an_error) {
    char text[2048];
    size_t n = 0;
    n += (size_t)snprintf(text, sizeof text, "job: a\nx: ");
    for (int i = 0; i < WEIR_YAML_MAX_DEPTH + 5; i++) text[n++] = '[';
    text[n++] = '\n';
    text[n] = '\0';
    jh *h = jh_load(text);
    cr_assert_null(h->job);
    cr_assert_eq(h->diag.n_errors, 1, "%s", h->out);
    cr_assert(strstr(h->out, "nested deeper than 128 levels") != NULL, "%s", h->out);
    jh_free(h);
}

Test(job_load, bom_and_crlf_keep_positions_exact) {
    jh *h = jh_load("\xEF\xBB\xBFjob: a\r\nparallelism: zero\r\n" JH_SOURCE JH_SINK);
    jh_expect(h, "job.yaml:2:14: parallelism: expected an integer from 1 to 32768, got 'zero'\n");
    jh_free(h);
}

Test(job_load, columns_count_characters_not_bytes) {
    jh *h = jh_load("job: a\n" JH_SOURCE
                    "operators:\n  - name: f\n    filter: \"'\xC3\xA9t\xC3\xA9' == nosuch(x)\"\n"
                    "sinks:\n  out:\n    from: f\n    stdout: {}\n");
    /* the quote is column 13; 'été' is 5 characters (7 bytes) + " == " */
    jh_expect(h, "job.yaml:8:23: operators.f.filter: unknown function 'nosuch'\n");
    jh_free(h);
}

/* Expression errors point into the expression, whatever the scalar style. */
static void expr_at(const char *filter_yaml, int line, int col) {
    char text[1024];
    snprintf(text, sizeof text, "job: a\n" JH_SOURCE "operators:\n  - name: f\n%s"
             "sinks:\n  out:\n    from: f\n    stdout: {}\n", filter_yaml);
    jh *h = jh_load(text);
    cr_assert_null(h->job, "%s", filter_yaml);
    cr_assert_eq(h->diag.n_items, 1, "%s\n%s", filter_yaml, h->out);
    cr_assert_eq(h->diag.items[0].line, line, "%s\n%s", filter_yaml, h->out);
    cr_assert_eq(h->diag.items[0].column, col, "%s\n%s", filter_yaml, h->out);
    cr_assert(strstr(h->out, "unknown function 'bad'") != NULL, "%s", h->out);
    jh_free(h);
}

Test(job_load, expression_error_positions_follow_the_scalar_style) {
    /* line 8 is the `filter:` line; its value starts at column 13 */
    expr_at("    filter: a > 1 && bad(x)\n", 8, 22);               /* plain */
    expr_at("    filter: \"a > 1 && bad(x)\"\n", 8, 23);           /* double quoted */
    expr_at("    filter: \"a == '\\u00e9' && bad(x)\"\n", 8, 31);   /* escape: 6 chars, 2 bytes */
    expr_at("    filter: \"a == \\\"q\\\" || bad(x)\"\n", 8, 28);    /* \" escapes */
    expr_at("    filter: 'a == ''q'' || bad(x)'\n", 8, 28);          /* '' in single quotes */
    expr_at("    filter: |\n      a > 1 &&\n        bad(x)\n", 10, 9);  /* literal block */
    expr_at("    filter: >\n      a > 1 &&\n      bad(x)\n", 10, 7);    /* folded block */
    expr_at("    filter: a > 1 &&\n      bad(x)\n", 9, 7);              /* multi-line plain */
    expr_at("    filter: \"a > 1 &&\n      bad(x)\"\n", 9, 7);           /* multi-line quoted */
}

Test(job_load, load_buffer_loads_from_memory) {
    const char *text = "job: mem\n" JH_SOURCE JH_SINK;
    weir_diag d;
    weir_diag_init(&d, "body");
    weir_job *j = weir_job_load_buffer("body", text, strlen(text), NULL, 0, &d);
    cr_assert_not_null(j);
    cr_assert_str_eq(j->file, "body");
    cr_assert_str_eq(j->name, "mem");
    weir_job_free(j);
    weir_job_free(NULL);
    weir_diag_fini(&d);
}

Test(job_load, diag_print_sorts_by_position_and_puts_overrides_first) {
    weir_diag d;
    weir_diag_init(&d, "f.yaml");
    weir_diag_error(&d, 9, 2, "late");
    weir_diag_warning(&d, 3, 7, "warned");
    weir_diag_error(&d, 3, 1, "early");
    weir_diag_error(&d, 3, 7, "same position, added after the warning");
    weir_diag_error_origin(&d, "--set a.b", "override");
    weir_diag_error(&d, 0, 0, "whole file");
    cr_assert_eq(d.n_errors, 5);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    weir_diag_print(&d, m);
    fclose(m);
    cr_assert_str_eq(out, "--set a.b: override\n"
                          "f.yaml: whole file\n"
                          "f.yaml:3:1: early\n"
                          "f.yaml:3:7: warning: warned\n"
                          "f.yaml:3:7: same position, added after the warning\n"
                          "f.yaml:9:2: late\n");
    free(out);
    weir_diag_fini(&d);
}

Test(job_load, yaml_tree_offsets_map_back_to_lines) {
    const char *src = "a: |\n  x\n  yz\nb: 'p''q'\n";
    weir_diag d;
    weir_diag_init(&d, "t");
    weir_yaml_doc *doc = weir_yaml_tree_parse(src, strlen(src), &d);
    cr_assert_not_null(doc);
    weir_yaml_node *k;
    weir_yaml_node *a = weir_yaml_tree_get(doc->root, "a", &k);
    cr_assert_str_eq(a->text, "x\nyz\n");
    cr_assert_eq(a->style, WEIR_YAML_LITERAL);
    int line, col;
    weir_yaml_tree_offset_pos(doc, a, 3, &line, &col);   /* the 'z' */
    cr_assert_eq(line, 3);
    cr_assert_eq(col, 4);
    weir_yaml_node *b = weir_yaml_tree_get(doc->root, "b", NULL);
    cr_assert_str_eq(b->text, "p'q");
    weir_yaml_tree_offset_pos(doc, b, 2, &line, &col);   /* the 'q' after '' */
    cr_assert_eq(line, 4);
    cr_assert_eq(col, 8);
    cr_assert_null(weir_yaml_tree_get(doc->root, "c", NULL));
    weir_yaml_tree_free(doc);
    weir_diag_fini(&d);
}

Test(job_load, plan_print_lists_every_element_with_its_inputs) {
    jh *h = jh_load("job: p\nparallelism: 1\ncheckpoint: { interval: 0 }\n"
                    "sources:\n  s:\n    stdin: {}\n    event_time: { field: t, unit: us }\n"
                    "    watermark: { delay: 1500ms, idle: 1d }\n"
                    "operators:\n  - name: w\n    window:\n      key: [u, v.w]\n"
                    "      sliding: { size: 1h, slide: 90s }\n"
                    "      aggregates: { n: count(), d: count_distinct(x) }\n"
                    "sinks:\n  o:\n    from: [w, s]\n    file: { path: o.jsonl }\n"
                    "dead_letter: { file: { path: d.jsonl } }\n");
    weir_job *j = jh_ok(h);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    weir_plan_print(j, m);
    fclose(m);
    cr_assert_str_eq(out,
        "job p\n"
        "  parallelism 1, max_parallelism 128, state.memory 256MB\n"
        "  checkpoints off\n"
        "\n"
        "sources\n"
        "  s             stdin\n"
        "                format json\n"
        "                event time: field t (numbers in us, strings RFC 3339)\n"
        "                watermark: delay 1500ms, idle 1d\n"
        "\n"
        "operators\n"
        "  w             window sliding size 1h, slide 90s, allowed lateness 0s\n"
        "                key: u, v.w\n"
        "                n = count()\n"
        "                d = count_distinct(x)\n"
        "                <- s\n"
        "\n"
        "sinks\n"
        "  o             file o.jsonl\n"
        "                format json\n"
        "                <- w, s\n"
        "\n"
        "dead letters: file d.jsonl\n");
    free(out);
    jh_free(h);
}
