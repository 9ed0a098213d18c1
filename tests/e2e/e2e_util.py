"""tests/e2e/e2e_util.py -- helpers for the end-to-end tests that drive the real weir binary.

Design: every e2e test is a plain script run by meson (tests/meson.build) with
WEIR (path of the binary), WEIR_SRC (source root) and PYTHONPATH (this
directory) in its environment. This module writes job files (a tiny YAML
emitter: block mappings and sequences, scalars double-quoted unless plainly
safe), runs `weir run JOB --state-dir DIR --fresh`, reads JSON-lines outputs
keeping member order, reduces window output the way SPEC §4 tells a consumer to
(last record per key and window; a window whose last record is a retraction is
absent), and compares values with exact JSON types (int vs double) and a 1e-9
relative tolerance for doubles.

Invariants:
  1. Only the Python 3 standard library is used.
  2. Keys are compared like weir compares them (SPEC §3: 1 and 1.0 are one key,
     null and a missing field are one key, bool is not a number).
  3. A test runner (Runner) always prints a closing line `N passed, N failed` and
     exits 0 only when nothing failed.

Rules come from SPEC §3 (output shape, key equality), §4 (retractions), §6 (dead letters).
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

# ---------------------------------------------------------------- locating weir


def weir_bin():
    """Path of the weir binary: $WEIR, else a few conventional build dirs."""
    p = os.environ.get("WEIR")
    if p:
        return p
    for cand in ("/tmp/build-e2e/weir", "/work/main/build/weir"):
        if os.path.exists(cand):
            return cand
    return "weir"


def weir_available():
    b = weir_bin()
    return os.path.isfile(b) and os.access(b, os.X_OK)


# ---------------------------------------------------------------- temp dirs


class TempDir:
    """A temporary directory removed on exit unless WEIR_E2E_KEEP is set."""

    def __init__(self, prefix="e2e-model-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if os.environ.get("WEIR_E2E_KEEP"):
            sys.stderr.write("kept temp dir %s\n" % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def join(self, *parts):
        return os.path.join(self.path, *parts)


# ---------------------------------------------------------------- YAML emitter

_PLAIN_OK = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./()-]*$")
_YAML_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if _PLAIN_OK.match(s) and s.lower() not in _YAML_RESERVED:
        return s
    if re.match(r"^[0-9]+(ms|s|m|h|d)$", s):  # durations such as 10s
        return s
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts (insertion order), lists and scalars."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 1).rstrip("\n")))
            elif isinstance(v, list) and v and any(isinstance(x, (dict, list)) for x in v):
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 1).rstrip("\n")))
            elif isinstance(v, list):
                out.append("%s%s: [%s]" % (pad, k, ", ".join(_yaml_scalar(x) for x in v)))
            elif isinstance(v, dict):
                out.append("%s%s: {}" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
        return "\n".join(out) + "\n"
    if isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                body = to_yaml(item, indent + 1)
                lines = body.splitlines()
                first = lines[0][len("  " * (indent + 1)):]
                out.append("%s- %s" % (pad, first))
                out.extend(lines[1:])
            else:
                out.append("%s- %s" % (pad, _yaml_scalar(item)))
        return "\n".join(out) + "\n"
    return pad + _yaml_scalar(obj) + "\n"


def window_job(name, in_path, out_path, dlq_path, *, key, kind, size_ms=None,
               slide_ms=None, gap_ms=None, lateness_ms=0, delay_ms=0,
               aggregates=(), parallelism=1, event_time=None, pre_operators=(),
               window_name="w", source_name="in"):
    """A job dict: one file source, optional operators, one window, one file sink.

    aggregates: sequence of (out_name, 'func(arg)') in output order.
    event_time: the event_time mapping (default {field: ts}).
    pre_operators: operator dicts placed before the window (each needs a name).
    """
    win = {"key": list(key)}
    if kind == "tumbling":
        win["tumbling"] = "%dms" % size_ms
    elif kind == "sliding":
        win["sliding"] = {"size": "%dms" % size_ms, "slide": "%dms" % slide_ms}
    elif kind == "session":
        win["session"] = {"gap": "%dms" % gap_ms}
    else:
        raise ValueError(kind)
    win["allowed_lateness"] = "%dms" % lateness_ms
    win["aggregates"] = {n: f for n, f in aggregates}
    ops = []
    prev = source_name
    for op in pre_operators:
        op = dict(op)
        op.setdefault("from", prev)
        ops.append(op)
        prev = op["name"]
    ops.append({"name": window_name, "from": prev, "window": win})
    return {
        "job": name,
        "parallelism": parallelism,
        "sources": {source_name: {
            "file": {"path": in_path},
            "event_time": dict(event_time or {"field": "ts"}),
            "watermark": {"delay": "%dms" % delay_ms},
        }},
        "operators": ops,
        "sinks": {"out": {"from": window_name, "file": {"path": out_path}}},
        "dead_letter": {"file": {"path": dlq_path}},
    }


# ---------------------------------------------------------------- running weir


class WeirRun:
    def __init__(self, proc, out_path, dlq_path):
        self.proc = proc
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.out_path = out_path
        self.dlq_path = dlq_path


def run_job(tmp, job, input_bytes, timeout=120, extra_args=()):
    """Writes input and job into tmp (a TempDir), runs weir, returns WeirRun.

    The job's paths are taken from the job dict (see window_job)."""
    src = next(iter(job["sources"].values()))
    with open(src["file"]["path"], "wb") as f:
        f.write(input_bytes)
    job_path = tmp.join(job["job"] + ".yaml")
    with open(job_path, "w") as f:
        f.write(to_yaml(job))
    state = tmp.join("state-" + job["job"])
    opts = ["--state-dir", state, "--fresh"] + list(extra_args)
    if os.environ.get("WEIR_E2E_OPTS_FIRST"):   # diagnostic aid only; SPEC §1 order is the default
        args = [weir_bin(), "run"] + opts + [job_path]
    else:
        args = [weir_bin(), "run", job_path] + opts
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("weir timed out after %ss: %s" % (timeout, " ".join(args))) from e
    sink = next(iter(job["sinks"].values()))
    return WeirRun(proc, sink["file"]["path"], job["dead_letter"]["file"]["path"])


def check_ok(run, what=""):
    if run.returncode != 0:
        raise AssertionError("weir exited %d %s\nstderr:\n%s" % (
            run.returncode, what, run.stderr.decode("utf-8", "replace")[-4000:]))


# ---------------------------------------------------------------- reading output


def _obj_no_dup(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate member names in output object: %r" % keys)
    return dict(pairs)  # keeps member order


def _bad_const(c):
    raise ValueError("non-finite constant %s" % c)


def read_jsonl(path):
    """Parses every line of a JSON-lines file into dicts (member order kept).
    Missing file: []. Raises AssertionError naming the line on invalid JSON,
    NaN/Infinity, a non-object, duplicate member names or an empty line."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        raise AssertionError("%s: last line has no terminator: %r" % (path, lines[-1][:200]))
    out = []
    for i, raw in enumerate(lines):
        try:
            obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_obj_no_dup,
                             parse_constant=_bad_const)
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("%s:%d: invalid JSON line %r: %s" % (path, i + 1, raw[:200], e))
        if not isinstance(obj, dict):
            raise AssertionError("%s:%d: not an object: %r" % (path, i + 1, raw[:200]))
        out.append(obj)
    return out


# ---------------------------------------------------------------- values and keys


def norm_value(v):
    """A hashable form under weir's value equality (SPEC §3 count_distinct):
    1 == 1.0 (exact), bool is not a number, objects member-wise in any order."""
    if v is None:
        return ("z",)
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", v)  # Python compares int and float exactly; hash agrees
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, dict):
        return ("o", frozenset((k, norm_value(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("a", tuple(norm_value(x) for x in v))
    raise TypeError(type(v))


def window_id(rec, key_fields):
    """(normalised key tuple, window_start, window_end) of an output record."""
    return (tuple(norm_value(rec.get(k)) for k in key_fields),
            rec.get("window_start"), rec.get("window_end"))


def final_records(records, key_fields):
    """Last record per (key, window); windows whose last record is a retraction
    are dropped (SPEC §4)."""
    last = {}
    for r in records:
        last[window_id(r, key_fields)] = r
    return {k: r for k, r in last.items() if r.get("retracted") is not True}


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def values_equal(expected, got, rel=1e-9):
    """Same JSON type (int vs double distinguished) and equal value; doubles
    within rel relative tolerance. Returns (ok, why)."""
    te, tg = json_type(expected), json_type(got)
    if te != tg:
        return False, "type %s expected, got %s (%r vs %r)" % (te, tg, expected, got)
    if te == "double":
        if expected == 0.0 and got == 0.0:
            if math.copysign(1.0, expected) != math.copysign(1.0, got):
                return False, "double %r expected, got %r (sign of zero)" % (expected, got)
            return True, ""
        if expected == got:
            return True, ""
        if math.isclose(expected, got, rel_tol=rel, abs_tol=0.0):
            return True, ""
        return False, "double %r expected, got %r" % (expected, got)
    if te == "array":
        if len(expected) != len(got):
            return False, "array length"
        for a, b in zip(expected, got):
            ok, why = values_equal(a, b, rel)
            if not ok:
                return ok, why
        return True, ""
    if te == "object":
        if set(expected) != set(got):
            return False, "object members %r vs %r" % (sorted(expected), sorted(got))
        for k in expected:
            ok, why = values_equal(expected[k], got[k], rel)
            if not ok:
                return ok, why
        return True, ""
    if expected != got:
        return False, "%r expected, got %r" % (expected, got)
    return True, ""


# ---------------------------------------------------------------- RFC 3339 text


def rfc3339_prefix(ms):
    """'YYYY-MM-DDTHH:MM:SS' of an epoch-ms instant (UTC), years 0..9999."""
    days, rem = divmod(ms, 86400000)
    y, m, d = civil_from_days(days)
    secs = rem // 1000
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (y, m, d, secs // 3600, secs // 60 % 60, secs % 60)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant)."""
    y -= m <= 2
    era = y // 400  # floor division (the C original truncates)
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


# ---------------------------------------------------------------- test runner


class Runner:
    """Collects named checks; prints failures and the closing summary line."""

    def __init__(self, name, seed=None):
        self.name = name
        self.seed = seed
        self.passed = 0
        self.failed = 0

    def check(self, title, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - report everything
            self.failed += 1
            sys.stdout.write("FAIL %s: %s\n" % (title, e))
            if not isinstance(e, AssertionError):
                traceback.print_exc(file=sys.stdout)
            if self.seed is not None:
                sys.stdout.write("     (seed %s; rerun with WEIR_TEST_SEED=%s)\n" % (self.seed, self.seed))
        else:
            self.passed += 1
            sys.stdout.write("ok   %s\n" % title)
        sys.stdout.flush()

    def finish(self):
        sys.stdout.write("%d passed, %d failed\n" % (self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def test_seed():
    s = os.environ.get("WEIR_TEST_SEED")
    if s:
        return int(s)
    return int.from_bytes(os.urandom(4), "little")
