"""tests/e2e/test_examples.py -- every examples/*.yaml validates and runs (SPEC §1, §2).

Each example must pass `weir validate` (exit 0, run from the repo root since paths in
examples are relative to it) and, when its inputs are files, `weir run` with a temp
--state-dir must exit 0 and write output. File sinks and a dead-letter file are
redirected into a temp dir with --set so the repo is never written to. An input
`X.jsonl` that is committed only as `X.jsonl.zst` is unpacked into the temp dir and
passed with --set. Examples reading Kafka or stdin are validated but not run (no
broker in this test; noted in the output). examples/flight-delays.yaml is compared
with examples/expected/flight-delays.jsonl when that file exists: the last record
of each window (SPEC §4) or, for non-window output, the sorted records.

A tiny YAML reader (block maps and lists, flow {} and [], quoted and plain scalars)
finds sources and sinks; examples are expected to stay within that subset.
"""

import glob
import json
import os
import re
import shutil
import subprocess

from cli_util import (WEIR_SRC, Skip, case, check, close, expect_rc, final_windows, main,
                      parse_jsonl, read_text, tmpdir, weir)


# ---------------------------------------------------------------- tiny YAML subset

def _strip_comment(line):
    out, q = [], None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(c)
    return "".join(out).rstrip()


def _scalar(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        body = s[1:-1]
        return body.replace("''", "'") if s[0] == "'" else json.loads(s) if "\\" in body else body
    return s


def _flow(s, i=0):
    """Parses a flow value at s[i:]; returns (value, next index)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i < len(s) and s[i] in "{[":
        close_c = "}" if s[i] == "{" else "]"
        is_map = s[i] == "{"
        i += 1
        res = {} if is_map else []
        while True:
            while i < len(s) and s[i] in " ,":
                i += 1
            if i >= len(s):
                raise ValueError("unterminated flow collection")
            if s[i] == close_c:
                return res, i + 1
            if is_map:
                j = i
                while s[j] != ":":
                    j += 1
                k = _scalar(s[i:j])
                v, i = _flow(s, j + 1)
                res[k] = v
            else:
                v, i = _flow(s, i)
                res.append(v)
    j, q = i, None
    while j < len(s):
        c = s[j]
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c in ",}]":
            break
        j += 1
    return _scalar(s[i:j]), j


def _value(text):
    text = text.strip()
    if text.startswith(("{", "[")):
        return _flow(text)[0]
    return _scalar(text)


def parse_yaml(text):
    lines = []
    for raw in text.splitlines():
        ln = _strip_comment(raw)
        if ln.strip() and ln.strip() != "---":
            lines.append((len(ln) - len(ln.lstrip(" ")), ln.strip()))
    val, _ = _block(lines, 0, lines[0][0] if lines else 0)
    return val


def _split_key(s):
    m = re.match(r"""^("[^"]*"|'[^']*'|[^:]+?)\s*:(\s+(.*))?$""", s)
    if not m:
        return None
    return _scalar(m.group(1)), (m.group(3) or "")


def _block(lines, i, indent):
    if i >= len(lines):
        return None, i
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        seq = []
        while i < len(lines) and lines[i][0] == indent and (
                lines[i][1].startswith("- ") or lines[i][1] == "-"):
            rest = lines[i][1][1:].lstrip(" ")
            inner = indent + (len(lines[i][1]) - len(rest))
            if not rest:
                v, i = _block(lines, i + 1, lines[i + 1][0])
            elif _split_key(rest) and not rest.startswith(("{", "[", "'", '"')):
                sub = [(inner, rest)]
                j = i + 1
                while j < len(lines) and lines[j][0] > indent:
                    sub.append(lines[j])
                    j += 1
                v, _ = _block(sub, 0, inner)
                i = j
            else:
                v, i = _value(rest), i + 1
            seq.append(v)
        return seq, i
    res = {}
    while i < len(lines) and lines[i][0] == indent:
        kv = _split_key(lines[i][1])
        if kv is None:
            raise ValueError("cannot read YAML line %r" % lines[i][1])
        k, rest = kv
        if rest:
            res[k] = _value(rest)
            i += 1
        elif i + 1 < len(lines) and lines[i + 1][0] > indent:
            res[k], i = _block(lines, i + 1, lines[i + 1][0])
        elif i + 1 < len(lines) and lines[i + 1][0] == indent and lines[i + 1][1].startswith("-"):
            res[k], i = _block(lines, i + 1, indent)
        else:
            res[k] = None
            i += 1
    return res, i


# ---------------------------------------------------------------- examples

def examples():
    ex = sorted(glob.glob(os.path.join(WEIR_SRC, "examples", "*.yaml")))
    if not ex:
        raise Skip("no examples/*.yaml in %s yet" % WEIR_SRC)
    return ex


def rel(path):
    return os.path.relpath(path, WEIR_SRC)


@case
def every_example_validates():
    bad = []
    for ex in examples():
        r = weir("validate", rel(ex), cwd=WEIR_SRC)
        if r.rc != 0:
            bad.append(r.describe())
        elif not r.out.strip():
            bad.append("%s: validate printed no plan" % rel(ex))
    check(not bad, "\n\n".join(bad))


def plan_run(ex, d):
    """Returns (args for weir run, {sink: output path or 'stdout'}, skip reason)."""
    job = parse_yaml(read_text(ex))
    args = ["--state-dir", os.path.join(d, "state")]
    for name, src in (job.get("sources") or {}).items():
        if "kafka" in src:
            return None, None, "source %s reads Kafka" % name
        if "stdin" in src:
            return None, None, "source %s reads stdin" % name
        path = (src.get("file") or {}).get("path")
        if path is None:
            return None, None, "source %s: no file path found" % name
        full = path if os.path.isabs(path) else os.path.join(WEIR_SRC, path)
        if not os.path.exists(full) and os.path.exists(full + ".zst"):
            unpacked = os.path.join(d, "in-" + name + "-" + os.path.basename(path))
            with open(unpacked, "wb") as f:
                subprocess.run(["zstd", "-dc", full + ".zst"], stdout=f, check=True)
            args += ["--set", "sources.%s.file.path=%s" % (name, unpacked)]
    sinks = {}
    for name, snk in (job.get("sinks") or {}).items():
        if "kafka" in snk:
            return None, None, "sink %s writes Kafka" % name
        if "stdout" in snk:
            sinks[name] = "stdout"
            continue
        out = os.path.join(d, "sink-%s.jsonl" % name)
        args += ["--set", "sinks.%s.file.path=%s" % (name, out)]
        sinks[name] = out
    dl = job.get("dead_letter")
    if isinstance(dl, dict):
        if "kafka" in dl:
            return None, None, "dead_letter writes Kafka"
        if "file" in dl:
            args += ["--set", "dead_letter.file.path=%s" % os.path.join(d, "dead-letter.jsonl")]
    return args, sinks, None


def run_example(ex):
    d = tmpdir("ex-" + os.path.basename(ex)[:-5])
    args, sinks, why = plan_run(ex, d)
    if why:
        return None, why
    r = weir("run", rel(ex), *args, cwd=WEIR_SRC, timeout=150)
    expect_rc(r, 0, "run " + rel(ex))
    outputs = {}
    for name, path in sinks.items():
        text = r.out if path == "stdout" else (read_text(path) if os.path.exists(path) else "")
        outputs[name] = parse_jsonl(text, "%s sink %s" % (rel(ex), name))
    return outputs, None


_ran = {}


def ran(ex):
    if ex not in _ran:
        _ran[ex] = run_example(ex)
    return _ran[ex]


@case
def every_example_with_file_inputs_runs_and_writes_output():
    problems, notes, n_run = [], [], 0
    for ex in examples():
        try:
            outputs, why = ran(ex)
        except AssertionError as e:
            problems.append(str(e))
            continue
        if why:
            notes.append("%s not run: %s" % (rel(ex), why))
            continue
        n_run += 1
        if not any(outputs.values()):
            problems.append("%s wrote no output to any sink %s" % (rel(ex), sorted(outputs)))
        for name, recs in outputs.items():
            if not recs:
                notes.append("%s: sink %s is empty" % (rel(ex), name))
    for n in notes:
        print("     note: " + n)
    check(not problems, "\n\n".join(problems))
    if n_run == 0:
        raise Skip("no example could run here: " + "; ".join(notes))


def _is_windowed(recs):
    return recs and all("window_end" in r for r in recs)


@case
def flight_delays_matches_the_committed_expected_output():
    ex = os.path.join(WEIR_SRC, "examples", "flight-delays.yaml")
    expected = os.path.join(WEIR_SRC, "examples", "expected", "flight-delays.jsonl")
    if not os.path.exists(ex):
        raise Skip("examples/flight-delays.yaml does not exist yet")
    if not os.path.exists(expected):
        raise Skip("examples/expected/flight-delays.jsonl does not exist")
    outputs, why = ran(ex)
    if why:
        raise Skip("flight-delays not runnable here: " + why)
    got = [r for recs in outputs.values() for r in recs]
    want = parse_jsonl(read_text(expected), rel(expected))
    check(want, "expected output is empty")
    if _is_windowed(want):
        g, w = final_windows(got), final_windows(want)
        missing = sorted(set(w) - set(g))
        extra = sorted(set(g) - set(w))
        bad = [(w[k], g[k]) for k in sorted(set(g) & set(w)) if not close(g[k], w[k])]
        for k in set(g) & set(w):
            if list(g[k].keys()) != list(w[k].keys()):
                bad.append(("field order", list(w[k].keys()), list(g[k].keys())))
        check(not (missing or extra or bad),
              "flight-delays differs from %s: %d missing, %d extra, %d different\n"
              "missing e.g. %s\nextra e.g. %s\ndifferent (want, got) e.g. %s" % (
                  rel(expected), len(missing), len(extra), len(bad),
                  [w[k] for k in missing[:3]], [g[k] for k in extra[:3]], bad[:3]))
    else:
        key = lambda r: json.dumps(r, sort_keys=True)
        gs, ws = sorted(got, key=key), sorted(want, key=key)
        check(len(gs) == len(ws) and all(close(a, b) for a, b in zip(gs, ws)),
              "flight-delays differs from %s (%d records vs %d expected)" % (
                  rel(expected), len(gs), len(ws)))


@case
def yaml_reader_self_check():
    # The tiny reader must understand the shapes examples use (SPEC §2 sample).
    y = parse_yaml("""\
job: x   # comment
sources:
  clicks:
    file: { path: "data/a b.jsonl" }
    event_time: { field: ts }
operators:
  - name: big
    filter: "amount > 10 && c != 'XX'"
  - name: w
    window:
      key: [user, 'c']
      tumbling: 1m
sinks:
  out:
    from: [w, big]
    file: {path: out.jsonl}
  screen:
    stdout: {}
""")
    check(y["sources"]["clicks"]["file"]["path"] == "data/a b.jsonl", repr(y))
    check(y["operators"][0]["filter"] == "amount > 10 && c != 'XX'", repr(y))
    check(y["operators"][1]["window"]["key"] == ["user", "c"], repr(y))
    check(y["sinks"]["out"]["from"] == ["w", "big"], repr(y))
    check(y["sinks"]["screen"]["stdout"] == {}, repr(y))
    check(shutil.which("zstd") is not None, "zstd missing")


if __name__ == "__main__":
    main()
