"""tests/e2e/test_cli.py -- the command line of weir, end to end (SPEC §1, §2, §5).

Covers: `weir version`; `weir help [COMMAND]` and `weir COMMAND --help` for every
command of SPEC §1 (exit 0, usage on stdout naming the command's options); usage
errors (unknown command, bad or missing option, missing argument: exit 2, message on
stderr, nothing on stdout); `weir run` on file inputs (exit 0, correct windows, logs
on stderr with a level and the job name, default state dir under $WEIR_HOME,
re-running a finished job writes nothing new, --fresh recomputes); `--set`
overrides (changes the result, value containing '=', sink path, malformed or
dangling override: exit 2); a job-file error on run (exit 2, FILE:LINE:COL); a
missing input file (exit 1, message naming it).
"""

import json
import os
import re

from cli_util import (WEIR_HOME, WEIR_SRC, case, check, eq, expect_rc, final_windows,
                      main, read_jsonl, read_text, tmpdir, weir, write, write_jsonl)

COMMANDS = ["run", "validate", "replay", "worker", "submit", "jobs", "status",
            "savepoint", "cancel", "broker", "version", "help"]

# Options each command's usage must name (SPEC §1 synopsis).
OPTIONS = {
    "run": ["--fresh", "--from-savepoint", "--savepoint-on-exit", "--state-dir", "--set"],
    "validate": [],
    "replay": ["--from", "--to", "--lookback", "--lookahead", "--sink", "--state-dir",
               "--no-progress"],
    "worker": ["--listen", "--home", "--token-file"],
    "submit": ["--from-savepoint", "--worker"],
    "jobs": ["--worker", "--json"],
    "status": ["--worker", "--json"],
    "savepoint": ["--worker"],
    "cancel": ["--savepoint", "--worker"],
    "broker": ["--listen", "--partitions", "--topic"],
    "version": [],
    "help": [],
}


def project_version():
    text = read_text(os.path.join(WEIR_SRC, "meson.build"))
    m = re.search(r"version\s*:\s*'([0-9]+\.[0-9]+\.[0-9]+)'", text)
    return m.group(1) if m else None


# ---------------------------------------------------------------- version, help

@case
def version_prints_weir_and_the_project_version():
    r = weir("version")
    expect_rc(r, 0)
    check(re.fullmatch(r"weir [0-9]+\.[0-9]+\.[0-9]+\n?", r.out) is not None,
          "stdout must be exactly `weir X.Y.Z`", r)
    v = project_version()
    if v:
        eq(r.out.strip(), "weir " + v, "version matches meson.build project version")


@case
def help_without_command_lists_every_command():
    r = weir("help")
    expect_rc(r, 0)
    check("usage" in r.out.lower(), "`weir help` prints usage on stdout", r)
    missing = [c for c in COMMANDS if not re.search(r"\b%s\b" % c, r.out)]
    check(not missing, "`weir help` does not mention %s" % missing, r)


@case
def dash_dash_help_prints_usage_and_exits_0():
    r = weir("--help")
    expect_rc(r, 0)
    missing = [c for c in COMMANDS if not re.search(r"\b%s\b" % c, r.out)]
    check(not missing, "`weir --help` does not mention %s" % missing, r)


def _check_command_help(r, cmd):
    expect_rc(r, 0, cmd)
    check("usage" in r.out.lower(), "help for %s: no 'usage' on stdout" % cmd, r)
    check(re.search(r"\bweir %s\b" % cmd, r.out) is not None,
          "help for %s must show `weir %s ...`" % (cmd, cmd), r)
    missing = [o for o in OPTIONS[cmd] if not re.search(re.escape(o) + r"\b", r.out)]
    check(not missing, "help for %s does not name options %s" % (cmd, missing), r)


@case
def help_command_prints_usage_for_every_command():
    for cmd in COMMANDS:
        _check_command_help(weir("help", cmd), cmd)


@case
def command_dash_dash_help_prints_usage_for_every_command():
    for cmd in COMMANDS:
        r = weir(cmd, "--help")
        _check_command_help(r, cmd)
        if cmd != "help":  # `weir help --help` may print the general usage
            h = weir("help", cmd)
            eq(r.out, h.out, "`weir %s --help` and `weir help %s` print the same" % (cmd, cmd))


# ---------------------------------------------------------------- usage errors

def _usage_error(*args, mention=None, cwd=None):
    r = weir(*args, cwd=cwd)
    expect_rc(r, 2, "weir " + " ".join(args))
    check(r.err.strip() != "", "usage error must be explained on stderr", r)
    check(r.out == "", "usage error must print nothing on stdout", r)
    if mention:
        check(mention in r.err, "stderr should name %r" % mention, r)
    return r


@case
def unknown_command_is_a_usage_error():
    _usage_error("frobnicate", mention="frobnicate")


@case
def no_command_at_all_is_a_usage_error():
    _usage_error()


@case
def help_for_an_unknown_command_is_a_usage_error():
    _usage_error("help", "frobnicate", mention="frobnicate")


@case
def bad_options_are_usage_errors():
    d = tmpdir("usage")
    job = _simple_job(d)
    _usage_error("run", job, "--bogus", mention="--bogus")
    _usage_error("run", "--bogus", job, mention="--bogus")
    _usage_error("validate", job, "--bogus", mention="--bogus")
    _usage_error("version", "--bogus")
    _usage_error("run", job, "--state-dir")               # option without its value
    _usage_error("run", job, "--set")
    _usage_error("run")                                   # no job file
    _usage_error("validate")
    _usage_error("validate", job, job)                    # one job file only
    _usage_error("run", job, "--fresh", "--from-savepoint", os.path.join(d, "sp"))
    check(not os.path.exists(os.path.join(d, "out.jsonl")),
          "a usage error must not run the job")


# ---------------------------------------------------------------- run

def _records():
    # Two users over three one-minute windows; amounts straddle the filters below.
    recs = []
    amounts = [3, 150, 7, 220, 101, 5, 99, 500, 6, 130, 160, 2]
    for i, a in enumerate(amounts):
        recs.append({"ts": 1_700_000_000_000 + i * 15_000, "user": "u%d" % (i % 2),
                     "amount": a, "country": "DE"})
    return recs


def _expected(pred):
    want = {}
    for r in _records():
        if not pred(r["amount"]):
            continue
        ws = r["ts"] // 60_000 * 60_000
        k = (r["user"], ws)
        w = want.setdefault(k, {"user": r["user"], "window_start": ws,
                                "window_end": ws + 60_000, "n": 0, "total": 0})
        w["n"] += 1
        w["total"] += r["amount"]
    return sorted(want.values(), key=lambda w: (w["user"], w["window_start"]))


def _simple_job(d, name="cli-run", out=None, inp=None):
    inp = inp or os.path.join(d, "clicks.jsonl")
    full = inp if os.path.isabs(inp) else os.path.join(d, inp)
    if not os.path.exists(full):
        write_jsonl(full, _records())
    out = out or os.path.join(d, "out.jsonl")
    return write(os.path.join(d, "job.yaml"), f"""\
job: {name}
parallelism: 2
sources:
  clicks:
    file: {{ path: {json.dumps(inp)} }}
    event_time: {{ field: ts }}
operators:
  - name: big
    filter: "amount > 100"
  - name: per_user
    window:
      key: [user]
      tumbling: 1m
      aggregates:
        n: count()
        total: sum(amount)
sinks:
  out:
    from: per_user
    file: {{ path: {json.dumps(out)} }}
""")


def _windows(path):
    fin = final_windows(read_jsonl(path))
    return sorted(fin.values(), key=lambda w: (w["user"], w["window_start"]))


@case
def run_on_a_file_input_completes_with_the_right_windows():
    d = tmpdir("run")
    job = _simple_job(d)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"))
    expect_rc(r, 0)
    eq(_windows(os.path.join(d, "out.jsonl")), _expected(lambda a: a > 100), "windows")
    for rec in read_jsonl(os.path.join(d, "out.jsonl")):
        eq(list(rec.keys()), ["user", "window_start", "window_end", "n", "total"],
           "field order of a window record (SPEC §3)")
    check(r.out == "", "a job with a file sink prints nothing on stdout (logs go to stderr)", r)


@case
def run_logs_to_stderr_with_a_level_and_the_job_name():
    d = tmpdir("logs")
    job = _simple_job(d, name="logging-job-7")
    r = weir("run", job, "--state-dir", os.path.join(d, "state"))
    expect_rc(r, 0)
    lines = [ln for ln in r.err.splitlines() if "logging-job-7" in ln]
    check(lines, "no stderr line names the job", r)
    lvl = re.compile(r"\b(debug|info|warn|warning|error|fatal)\b", re.I)
    check(any(lvl.search(ln) for ln in lines),
          "no stderr line carries both a log level and the job name", r)


@case
def run_without_state_dir_uses_weir_home_jobs_name():
    d = tmpdir("home")
    job = _simple_job(d, name="home-default-job")
    r = weir("run", job)
    expect_rc(r, 0)
    sd = os.path.join(WEIR_HOME, "jobs", "home-default-job")
    check(os.path.isdir(sd), "state dir %s was not created (SPEC §5)" % sd, r)
    eq(_windows(os.path.join(d, "out.jsonl")), _expected(lambda a: a > 100), "windows")


@case
def running_a_finished_bounded_job_again_writes_nothing_new():
    d = tmpdir("again")
    job = _simple_job(d)
    out = os.path.join(d, "out.jsonl")
    sd = os.path.join(d, "state")
    expect_rc(weir("run", job, "--state-dir", sd), 0, "first run")
    first = read_text(out)
    check(first.strip() != "", "first run wrote no output")
    # Mark the output without changing its length: a run that writes nothing new
    # leaves the mark; a run that recomputes everything rewrites it.
    marked = first.replace('"n":', '"N":')
    check(marked != first and len(marked) == len(first), "test bug: no '\"n\":' in output")
    write(out, marked)
    r = weir("run", job, "--state-dir", sd)
    expect_rc(r, 0, "second run")
    eq(read_text(out), marked, "output after running the finished job again: it must write "
       "nothing new (SPEC §5); the file was rewritten or changed")
    r = weir("run", job, "--state-dir", sd, "--fresh")
    expect_rc(r, 0, "--fresh run")
    eq(_windows(out), _expected(lambda a: a > 100), "windows after --fresh")
    check(len(read_text(out).splitlines()) == len(first.splitlines()),
          "--fresh must truncate the file sink before writing again:\nfirst:\n%s\nnow:\n%s"
          % (first, read_text(out)))


@case
def set_override_changes_the_filter():
    d = tmpdir("set")
    job = _simple_job(d)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             "--set", "operators.big.filter=amount > 5")
    expect_rc(r, 0)
    eq(_windows(os.path.join(d, "out.jsonl")), _expected(lambda a: a > 5),
       "windows with --set operators.big.filter=amount > 5")


@case
def set_value_may_contain_an_equals_sign():
    d = tmpdir("seteq")
    job = _simple_job(d)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             "--set", "operators.big.filter=amount >= 150")
    expect_rc(r, 0)
    eq(_windows(os.path.join(d, "out.jsonl")), _expected(lambda a: a >= 150),
       "windows with --set operators.big.filter=amount >= 150")


@case
def set_override_moves_the_file_sink_and_sets_top_level_keys():
    d = tmpdir("setsink")
    job = _simple_job(d)
    other = os.path.join(d, "elsewhere", "result.jsonl")
    os.makedirs(os.path.dirname(other))
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             "--set", "sinks.out.file.path=" + other, "--set", "parallelism=1")
    expect_rc(r, 0)
    eq(_windows(other), _expected(lambda a: a > 100), "windows in the overridden sink path")
    check(not os.path.exists(os.path.join(d, "out.jsonl")) or
          read_text(os.path.join(d, "out.jsonl")) == "",
          "the original sink path must not receive output")


@case
def set_without_equals_is_a_usage_error():
    d = tmpdir("setbad")
    job = _simple_job(d)
    for args in (["--set", "nonsense"], ["--set", "=x"]):
        r = weir("run", job, "--state-dir", os.path.join(d, "state"), *args)
        expect_rc(r, 2, " ".join(args))
        check(r.err.strip(), "explained on stderr", r)
    check(not os.path.exists(os.path.join(d, "out.jsonl")), "the job must not run")


@case
def set_naming_a_missing_list_item_or_giving_a_bad_value_exits_2():
    d = tmpdir("setbad2")
    job = _simple_job(d)
    for kv, mention in (("operators.nosuch.filter=amount > 1", "nosuch"),
                        ("parallelism=zero", "parallelism"),
                        ("operators.big.filter=nosuchfn(amount) > 1", "nosuchfn")):
        r = weir("run", job, "--state-dir", os.path.join(d, "state"), "--set", kv)
        expect_rc(r, 2, "--set " + kv)
        check(mention in r.err, "stderr should name %r" % mention, r)
    check(not os.path.exists(os.path.join(d, "out.jsonl")), "the job must not run")


@case
def run_with_a_job_file_error_exits_2_with_its_position():
    d = tmpdir("runerr")
    job = _simple_job(d)
    text = read_text(job).replace("tumbling: 1m", "tumbling: 1 minute")
    write(job, text)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"))
    expect_rc(r, 2)
    line = text[:text.index("1 minute")].count("\n") + 1
    check(re.search(r"^%s:%d:\d+: " % (re.escape(job), line), r.err, re.M),
          "stderr must carry %s:%d:COL: for the bad duration" % (job, line), r)
    check(not os.path.exists(os.path.join(d, "out.jsonl")), "the job must not run")


@case
def run_with_a_missing_job_file_exits_2():
    d = tmpdir("nojob")
    path = os.path.join(d, "does-not-exist.yaml")
    r = weir("run", path, "--state-dir", os.path.join(d, "state"))
    expect_rc(r, 2)
    check(path in r.err, "stderr must name the missing job file", r)


@case
def run_with_a_missing_input_file_exits_1_naming_it():
    d = tmpdir("noinput")
    inp = os.path.join(d, "no-such-input.jsonl")
    job = _simple_job(d, inp=inp)
    os.remove(inp)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"))
    expect_rc(r, 1)
    check(inp in r.err or "no-such-input.jsonl" in r.err,
          "stderr must name the missing input file", r)
    check(len(r.err) < 4000, "the message should be short and clear", r)


@case
def relative_paths_in_a_job_are_relative_to_the_working_directory():
    d = tmpdir("relpath")
    write_jsonl(os.path.join(d, "data", "clicks.jsonl"), _records())
    os.makedirs(os.path.join(d, "results"))
    job = _simple_job(d, inp="data/clicks.jsonl", out="results/out.jsonl")
    r = weir("run", "job.yaml", "--state-dir", "state", cwd=d)
    expect_rc(r, 0)
    eq(_windows(os.path.join(d, "results", "out.jsonl")), _expected(lambda a: a > 100),
       "windows written to the relative sink path")
    check(os.path.isdir(os.path.join(d, "state")), "relative --state-dir not created in the cwd")


@case
def set_below_a_kafka_map_names_one_property():
    # SPEC §1: below a `kafka` map the rest of the path is one property name. An
    # owned property set this way is a job-file error (exit 2) before any broker
    # is contacted.
    d = tmpdir("setkafka")
    job = write(os.path.join(d, "kjob.yaml"), """\
job: kafka-set
kafka:
  bootstrap.servers: 127.0.0.1:9
sources:
  events:
    kafka:
      topic: events
    event_time: { field: ts }
operators:
  - name: per_key
    window:
      key: [k]
      tumbling: 1m
      aggregates:
        n: count()
sinks:
  out:
    from: per_key
    file: { path: out.jsonl }
""")
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             "--set", "sources.events.kafka.enable.auto.commit=true", timeout=30)
    expect_rc(r, 2)
    check("enable.auto.commit" in r.err, "stderr should name enable.auto.commit", r)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             "--set", "kafka.enable.idempotence=true", timeout=30)
    expect_rc(r, 2)
    check("enable.idempotence" in r.err, "stderr should name enable.idempotence", r)


@case
def runtime_failures_exit_1_with_a_message():
    d = tmpdir("rtfail")
    job = _simple_job(d)
    afile = write(os.path.join(d, "afile"), "x")
    cases = [
        (["--set", "sinks.out.file.path=" + os.path.join(d, "no-dir", "out.jsonl")], "no-dir"),
        (["--set", "sources.clicks.file.path=" + d], d),
        (["--state-dir", os.path.join(afile, "state")], "afile"),
    ]
    for extra, mention in cases:
        args = ["run", job] + (extra if "--state-dir" in extra else
                               extra + ["--state-dir", os.path.join(d, "state")])
        r = weir(*args)
        expect_rc(r, 1, " ".join(extra))
        check(mention in r.err, "stderr should name %r" % mention, r)


@case
def validate_does_not_run_the_job():
    d = tmpdir("valnorun")
    job = _simple_job(d)
    r = weir("validate", job)
    expect_rc(r, 0)
    check(not os.path.exists(os.path.join(d, "out.jsonl")), "validate must not write sinks")


if __name__ == "__main__":
    main()
