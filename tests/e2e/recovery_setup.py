"""tests/e2e/recovery_setup.py -- the settings and shared inputs of the recovery
tests (test_recovery.py: crash tests; test_restore_rules.py: rescaling,
savepoints, refusals, corrupt checkpoints, lock, stdin, input identity).

Seeded (WEIR_TEST_SEED), scaled (WEIR_RECOVERY_SCALE; 0.35 under ASan), and
WEIR_RECOVERY_KILLS kills per crash test; see test_recovery.py's docstring.
"""

import collections
import json
import os
import random
import re
import shutil
import signal
import time

import e2e_util as U
import weir_model as M
from cli_util import WEIR, case, check, main, tmpdir
from recovery_util import (CHK_RE, NONFINAL_CHK, Proc, TooFast, Workspace, checkpoints, chk_dir,
                           crash_rounds, describe_diff, example, expect_exit, flights_input,
                           flights_job_args, line_counter, read_bytes, read_lines, reference, resume_id,
                           retrying, run_to_end, savepoint_path)
from test_windows_model import compare_dead_letters, compare_finals, gen_input, model_aggs

SEED = U.test_seed()


def _sanitized():
    """True when the weir binary is built with AddressSanitizer (about 5x slower)."""
    try:
        with open(WEIR, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = _sanitized()
SCALE = float(os.environ.get("WEIR_RECOVERY_SCALE") or ("0.35" if ASAN else "1.0"))
KILLS = int(os.environ.get("WEIR_RECOVERY_KILLS") or "25")
print("seed %d (rerun with WEIR_TEST_SEED=%d), scale %g%s, %d kills per crash test"
      % (SEED, SEED, SCALE, " (ASan build)" if ASAN else "", KILLS), flush=True)


def scaled(n, lo=1000):
    return max(lo, int(n * SCALE))


_cache = {}


# ================================================================ 1. flights crash test


FLIGHT_LINES = scaled(300000, 20000)


def flights_setup():
    if "flights_in" not in _cache:
        d = tmpdir("flights-in")
        _cache["flights_in"] = flights_input(os.path.join(d, "flights.jsonl"), FLIGHT_LINES, random.Random(SEED))
    return _cache["flights_in"]


def flights_reference():
    inp = flights_setup()
    job = example("flight-delays.yaml")
    return reference("ref-flights", lambda w: flights_job_args(job, w.d, inp, w.state))


