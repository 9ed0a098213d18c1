"""tests/e2e/cli_util.py -- shared helpers for the end-to-end tests of the weir binary.

Design: each tests/e2e/test_<name>.py registers cases with @case and calls main().
A case is a function that raises AssertionError (failed), Skip (skipped) or returns
(passed). main() runs every case (or those named on the command line), prints one
line per case and closes with `N passed, N failed` (a `N skipped` line before it
when some were skipped). The exit status is 0 when nothing failed, 1 otherwise, and
77 (meson's SKIP) when every case was skipped.

Invariants:
 1. Every weir process runs with WEIR_HOME in a private temp dir, so no test reads
    or writes ~/.local/share/weir.
 2. Every weir process has a timeout; a hung process is killed and its case fails.
 3. Python 3 standard library only.

Environment (set by tests/meson.build): WEIR = path of the weir binary, WEIR_SRC =
source root. Rules under test come from /work/shared/SPEC.md (sections named in
each test file). Set WEIR_E2E_KEEP=1 to keep the temp files of a run.
"""

import atexit
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
WEIR_SRC = os.path.abspath(os.environ.get("WEIR_SRC") or os.path.join(HERE, "..", ".."))
WEIR = os.environ.get("WEIR") or "/tmp/build-cli/weir"

_TMP_ROOT = tempfile.mkdtemp(prefix="weir-cli-e2e-")
WEIR_HOME = os.path.join(_TMP_ROOT, "home")


def _remove_tmp():
    if not os.environ.get("WEIR_E2E_KEEP"):
        shutil.rmtree(_TMP_ROOT, ignore_errors=True)


atexit.register(_remove_tmp)
os.makedirs(WEIR_HOME, exist_ok=True)


class Skip(Exception):
    """Raised by a case that cannot run here (missing tool, missing fixture)."""


_CASES = []


def case(fn):
    """Registers fn as a test case; its name is the function name."""
    _CASES.append(fn)
    return fn


def tmpdir(prefix="t"):
    """Returns a fresh directory below this run's temp root (removed at exit)."""
    return tempfile.mkdtemp(prefix=prefix + "-", dir=_TMP_ROOT)


def weir_env(extra=None):
    env = dict(os.environ)
    env["WEIR_HOME"] = WEIR_HOME
    env.pop("WEIR_WORKER", None)
    if extra:
        env.update(extra)
    return env


class Result:
    def __init__(self, args, rc, out, err, seconds):
        self.args, self.rc, self.out, self.err, self.seconds = args, rc, out, err, seconds

    def describe(self):
        def tail(s):
            s = s if len(s) < 3000 else "..." + s[-3000:]
            return s.rstrip() or "(empty)"
        return ("command: weir %s\nexit: %s after %.2fs\nstdout: %s\nstderr: %s"
                % (" ".join(_quote(a) for a in self.args), self.rc, self.seconds,
                   tail(self.out), tail(self.err)))


def _quote(a):
    return a if re.fullmatch(r"[\w./:=,+-]+", a) else repr(a)


def require_binary():
    if not (os.path.isfile(WEIR) and os.access(WEIR, os.X_OK)):
        raise AssertionError("weir binary not found at %s (set WEIR)" % WEIR)


def weir(*args, input=None, cwd=None, timeout=60, env=None):
    """Runs `weir ARGS...` to completion; returns a Result. input: str fed on stdin
    (stdin is /dev/null otherwise)."""
    require_binary()
    args = [str(a) for a in args]
    t0 = time.monotonic()
    try:
        p = subprocess.run([WEIR] + args, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", cwd=cwd,
                           timeout=timeout, env=weir_env(env))
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError("timed out after %ss\n%s" % (
            timeout, Result(args, None, out, err, time.monotonic() - t0).describe()))
    return Result(args, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def spawn(*args, cwd=None, env=None, stdout=None, stderr=None):
    """Starts weir with a pipe on stdin; returns the Popen. stdout/stderr: file
    objects (default: pipes)."""
    require_binary()
    return subprocess.Popen([WEIR] + [str(a) for a in args], stdin=subprocess.PIPE,
                            stdout=stdout if stdout is not None else subprocess.PIPE,
                            stderr=stderr if stderr is not None else subprocess.PIPE,
                            cwd=cwd, env=weir_env(env))


def expect_rc(res, rc, what=""):
    if res.rc != rc:
        raise AssertionError("%sexpected exit %d\n%s" % (what + ": " if what else "", rc,
                                                          res.describe()))


def check(cond, msg, res=None):
    if not cond:
        raise AssertionError(msg + ("\n" + res.describe() if res is not None else ""))


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s:\n  got:  %r\n  want: %r" % (what, got, want))


def write(path, text):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_jsonl(path, records):
    return write(path, "".join(json.dumps(r) + "\n" for r in records))


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def parse_jsonl(text, what="output"):
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("%s line %d is not JSON (%s): %r" % (what, i, e, line[:200]))
    return out


def read_jsonl(path):
    if not os.path.exists(path):
        raise AssertionError("expected output file %s does not exist" % path)
    return parse_jsonl(read_text(path), path)


def final_windows(records, n_keys=None):
    """Last record per window (SPEC §4: only the number of intermediate updates may
    vary). A window is identified by every field up to and including window_end
    (key fields come first, SPEC §3). Windows whose last record is a retraction
    are dropped. Returns {identity tuple: record}."""
    last = {}
    for r in records:
        items = list(r.items())
        names = [k for k, _ in items]
        if "window_end" not in names:
            raise AssertionError("window record without window_end: %r" % (r,))
        ident = tuple((k, json.dumps(v, sort_keys=True)) for k, v in items[:names.index("window_end") + 1])
        last[ident] = r
    return {k: v for k, v in last.items() if not v.get("retracted")}


def close(a, b, rel=1e-9):
    """Values equal: ints/strings exactly (int 1 != float 1.0 is checked elsewhere),
    floats to rel relative error."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b))
    return type(a) == type(b) and a == b


def pos_of(text, needle, nth=0):
    """1-based (line, column) of the nth occurrence of needle in text."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


DIAG_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


def diagnostics(stderr, path):
    """Parses `FILE:LINE:COL: message` lines for path out of stderr. Returns
    (errors, warnings, other_lines); each error/warning is (line, col, message)."""
    errors, warnings, other = [], [], []
    for ln in stderr.splitlines():
        m = DIAG_RE.match(ln)
        if m and m.group("file") == path:
            item = (int(m.group("line")), int(m.group("col")), m.group("msg"))
            if m.group("msg").lower().startswith("warning"):
                warnings.append(item)
            else:
                errors.append(item)
        elif ln.strip():
            other.append(ln)
    return errors, warnings, other


def have_tool(name):
    return shutil.which(name) is not None


def main():
    only = set(sys.argv[1:])
    passed = failed = skipped = 0
    t_all = time.monotonic()
    for fn in _CASES:
        if only and fn.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("SKIP %s: %s" % (fn.__name__, e), flush=True)
            continue
        except AssertionError as e:
            failed += 1
            print("FAIL %s (%.1fs)\n    %s" % (fn.__name__, time.monotonic() - t0,
                                             str(e).replace("\n", "\n    ")), flush=True)
            continue
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs): unexpected exception\n    %s" % (
                fn.__name__, time.monotonic() - t0,
                traceback.format_exc().replace("\n", "\n    ")), flush=True)
            continue
        passed += 1
        print("ok   %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
    if os.environ.get("WEIR_E2E_KEEP"):
        print("kept temp files in %s" % _TMP_ROOT)
    print("total time %.1fs" % (time.monotonic() - t_all))
    if skipped:
        print("%d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
