"""tests/e2e/weir_model.py -- an independent reference model of weir's record and window semantics.

Design: written from SPEC.md alone (never from weir's C code) so that the e2e
tests can catch a wrong implementation. The model runs one job shaped like
  file source (one partition) -> optional pre-operators -> keyed window -> sink
over the raw bytes of the input file, record by record, and returns what a
consumer of weir's output must end up with: the final record of every
(key, window) -- windows whose last record is a retraction are absent -- and
the list of dead letters (reason, offset, value, operator, watermark, deadline).
It keeps every event of every window and recomputes aggregates from scratch
(slow, obviously right) instead of keeping accumulators.

Invariants:
  1. One partition, `idle` unset: the watermark before record i is
     max(event time of records 0..i-1 with a valid event time) - delay, or -inf
     (SPEC §4); at end of input it is +inf and every window fires.
  2. A record is late iff every window it falls in has end + allowed_lateness
     <= watermark-before-record; a session event is late iff its own window
     [t, t+gap) has and no open (not yet forgotten) session of its key overlaps
     or touches it (SPEC §4).
  3. A record that is late, or fails an aggregate (sum/avg of a non-number),
     changes no window (SPEC §3). Lateness is decided before aggregate types
     (a late record is never aggregated) -- SPEC does not order the two;
     the tests avoid records that are both.
  4. Values: Python int = JSON integer (int64 range), float = double, bool is
     not a number, 1 == 1.0 exactly (also beyond 2^53).

Rules come from SPEC §3 (values, edge rules, aggregates, output shape),
§4 (event time, watermarks, windows, sessions, retraction, lateness), §6 (dead letters).
"""

import base64
import datetime
import json
import math
import re
import zoneinfo
from fractions import Fraction

from e2e_util import days_from_civil, norm_value

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
MIN_EVENT_MS = days_from_civil(0, 1, 1) * 86400000            # 0000-01-01T00:00:00Z
MAX_EVENT_MS = days_from_civil(10000, 1, 1) * 86400000 - 1     # 9999-12-31T23:59:59.999Z
NEG_INF = float("-inf")
POS_INF = float("inf")


# ================================================================ JSON (SPEC §3 edge rules)

class JsonError(Exception):
    pass


def _parse_int(s):
    if len(s) <= 20:
        v = int(s)
        if INT64_MIN <= v <= INT64_MAX:
            return v
    return _parse_float(s)


def _parse_float(s):
    v = float(s)
    if math.isinf(v):
        raise JsonError("number out of double range: %s" % s[:40])
    return v


def _parse_const(c):
    raise JsonError("not JSON: %s" % c)


def _check(v, depth):
    """Depth (top-level object = 1, at most 512) and no lone surrogates."""
    if depth > 512:
        raise JsonError("nesting deeper than 512")
    if isinstance(v, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
            raise JsonError("lone surrogate")
    elif isinstance(v, dict):
        for k, x in v.items():
            _check(k, depth)
            _check(x, depth + 1)
    elif isinstance(v, list):
        for x in v:
            _check(x, depth + 1)


def decode_json_line(raw):
    """bytes (no terminator) -> dict, or raises JsonError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonError("invalid UTF-8: %s" % e)
    try:
        obj = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                         parse_constant=_parse_const)
    except JsonError:
        raise
    except (ValueError, RecursionError) as e:
        raise JsonError(str(e))
    if not isinstance(obj, dict):
        raise JsonError("not an object")
    _check(obj, 1)
    return obj


def split_lines(data):
    """Yields (offset, raw line without terminator) of every non-blank line.

    A BOM at the start of the file is skipped; a trailing '\\r' is dropped;
    blank lines (only space, tab, CR, LF) are skipped (SPEC §3)."""
    pos = 0
    if data.startswith(b"\xef\xbb\xbf"):
        pos = 3
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        end = n if nl < 0 else nl
        raw = data[pos:end]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if raw.strip(b" \t\r\n") != b"":
            yield pos, raw
        pos = end + 1


def dl_value_fields(raw):
    """The `value` (and `value_base64`) a dead letter must carry for raw bytes."""
    try:
        return {"value": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value": raw.decode("utf-8", "replace"),
                "value_base64": base64.b64encode(raw).decode("ascii")}


# ================================================================ paths

_SEG = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def get_path(obj, path):
    """Value at a field path (`a.b`, `items[0].price`); missing -> None."""
    cur = obj
    for m in _SEG.finditer(path):
        if m.group(1) is not None:
            if not isinstance(cur, dict) or m.group(1) not in cur:
                return None
            cur = cur[m.group(1)]
        else:
            i = int(m.group(2))
            if not isinstance(cur, list) or i >= len(cur):
                return None
            cur = cur[i]
    return cur


# ================================================================ event time (SPEC §4)

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")
_MDAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _valid_date(y, mo, d):
    if not 1 <= mo <= 12:
        return False
    md = 29 if (mo == 2 and _leap(y)) else _MDAYS[mo - 1]
    return 1 <= d <= md


def parse_rfc3339(s):
    """RFC 3339 text -> epoch ms (fraction floored, :60 as :59.999) or None."""
    m = _RFC3339.match(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    if not _valid_date(y, mo, d) or hh > 23 or mi > 59 or ss > 60:
        return None
    ms = int((frac + "000")[:3])
    if ss == 60:
        ss, ms = 59, 999
    tz = m.group(8)
    off_min = 0
    if tz not in ("Z", "z"):
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            return None
        off_min = (oh * 60 + om) * (1 if tz[0] == "+" else -1)
    local = (days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss) * 1000 + ms
    return local - off_min * 60000


_FMT_FIELDS = {"Y": r"(\d{4})", "m": r"(\d{2})", "d": r"(\d{2})",
               "H": r"(\d{2})", "M": r"(\d{2})", "S": r"(\d{2})"}


def parse_format(s, fmt, tzname):
    """strptime-style subset (%Y %m %d %H %M %S %%) in an IANA zone -> epoch ms or None.

    Ambiguous local times (fall-back) are the earlier instant; nonexistent ones
    (spring-forward) are None; second 60 reads as 59.999 (SPEC §4)."""
    rx, order, i = "", [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            f = fmt[i + 1]
            if f == "%":
                rx += "%"
            elif f in _FMT_FIELDS:
                rx += _FMT_FIELDS[f]
                order.append(f)
            else:
                raise ValueError("model does not support %%%s" % f)
            i += 2
        else:
            rx += re.escape(c)
            i += 1
    m = re.fullmatch(rx, s)
    if not m:
        return None
    vals = {"Y": 1970, "m": 1, "d": 1, "H": 0, "M": 0, "S": 0}
    for f, g in zip(order, m.groups()):
        vals[f] = int(g)
    y, mo, d, hh, mi, ss = vals["Y"], vals["m"], vals["d"], vals["H"], vals["M"], vals["S"]
    if not _valid_date(y, mo, d) or hh > 23 or mi > 59 or ss > 60:
        return None
    extra_ms = 0
    if ss == 60:
        ss, extra_ms = 59, 999
    if not tzname or tzname == "UTC":
        return (days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss) * 1000 + extra_ms
    tz = zoneinfo.ZoneInfo(tzname)
    naive = datetime.datetime(y, mo, d, hh, mi, ss)
    aware = naive.replace(tzinfo=tz, fold=0)           # fold=0: the earlier of two
    utc = aware.astimezone(datetime.timezone.utc)
    back = utc.astimezone(tz).replace(tzinfo=None)
    if back != naive:
        return None                                      # in a spring-forward gap
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = utc - epoch
    return (delta.days * 86400 + delta.seconds) * 1000 + extra_ms


_UNIT_MS = {"s": Fraction(1000), "ms": Fraction(1), "us": Fraction(1, 1000), "ns": Fraction(1, 10 ** 6)}


def event_time_ms(rec, cfg):
    """Event time of a decoded record per the source's event_time mapping, or None."""
    v = get_path(rec, cfg.get("field", "ts"))
    t = None
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        unit = _UNIT_MS[cfg.get("unit", "ms")]
        t = math.floor(Fraction(v) * unit)   # exact: ints exact, doubles floored
    elif isinstance(v, str):
        if cfg.get("format"):
            t = parse_format(v, cfg["format"], cfg.get("timezone"))
        else:
            t = parse_rfc3339(v)
    if t is None or not MIN_EVENT_MS <= t <= MAX_EVENT_MS:
        return None
    return t


# ================================================================ aggregates (SPEC §3)

def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rank(v):
    if isinstance(v, bool):
        return 1
    if _is_number(v):
        return 2
    if isinstance(v, str):
        return 3
    return 4  # objects/arrays: unspecified; the tests do not min/max them


def _less(a, b):
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return ra < rb
    if ra == 3:
        return a.encode("utf-8") < b.encode("utf-8")
    if ra == 4:
        return False
    return a < b


def agg_type_error(func, v):
    """Error text if adding value v to aggregate func is a type error, else None."""
    if func in ("sum", "avg") and v is not None and not _is_number(v):
        return "%s of a non-number (%s)" % (func, type(v).__name__)
    return None


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def compute_aggregate(func, events, arg):
    """events: list of (arrival, event_time_ms, record), sorted by arrival."""
    if func == "count":
        return len(events)
    vals = []
    for arrival, t, rec in events:
        v = get_path(rec, arg)
        if v is not None:
            vals.append((arrival, t, v))
    if func == "count_distinct":
        return len({norm_value(v) for _, _, v in vals})
    if not vals:
        return None
    if func == "sum":
        if all(isinstance(v, int) for _, _, v in vals):
            total = sum(v for _, _, v in vals)
            return total if INT64_MIN <= total <= INT64_MAX else _finite(float(total))
        acc = 0.0
        for _, _, v in vals:
            acc += v
        return _finite(acc)
    if func == "avg":   # exact mean: avg never overflows (SPEC §3)
        return _finite(float(sum(Fraction(v) for _, _, v in vals) / len(vals)))
    if func in ("min", "max"):
        best = vals[0][2]
        for _, _, v in vals[1:]:
            if (func == "min" and _less(v, best)) or (func == "max" and _less(best, v)):
                best = v
        return _finite(best)
    if func == "first":
        return min(vals, key=lambda x: (x[1], x[0]))[2]
    if func == "last":
        return max(vals, key=lambda x: (x[1], x[0]))[2]
    raise ValueError(func)


# ================================================================ the job model

class ModelJob:
    """Parameters of the modelled job.

    kind: 'tumbling' (size_ms) | 'sliding' (size_ms, slide_ms) | 'session' (gap_ms).
    aggregates: list of (out_name, func, arg_path or None).
    pre: list of callables rec -> ('keep', rec) | ('drop',) | ('type', op_name, msg),
         standing for filter/map operators before the window.
    """

    def __init__(self, *, key, kind, size_ms=None, slide_ms=None, gap_ms=None,
                 lateness_ms=0, delay_ms=0, aggregates=(), event_time=None,
                 pre=(), source="in", window_op="w"):
        self.key = list(key)
        self.kind = kind
        self.size_ms = size_ms
        self.slide_ms = slide_ms if kind == "sliding" else size_ms
        self.gap_ms = gap_ms
        self.lateness_ms = lateness_ms
        self.delay_ms = delay_ms
        self.aggregates = list(aggregates)
        self.event_time = dict(event_time or {"field": "ts"})
        self.pre = list(pre)
        self.source = source
        self.window_op = window_op


def parse_agg(text):
    """'sum(amount)' -> ('sum', 'amount'); 'count()' -> ('count', None)."""
    m = re.fullmatch(r"\s*([a-z_]+)\(\s*([^)]*?)\s*\)\s*", text)
    if not m:
        raise ValueError(text)
    return m.group(1), (m.group(2) or None)


def windows_of(t, job):
    """[(start, end)] of the tumbling/sliding windows containing t (SPEC §4)."""
    S, L = job.size_ms, job.slide_ms
    k_hi = t // L
    k_lo = (t - S) // L + 1
    return [(k * L, k * L + S) for k in range(k_lo, k_hi + 1)]


class Session:
    __slots__ = ("start", "end", "events", "keyrepr")

    def __init__(self, start, end, events, keyrepr):
        self.start, self.end, self.events, self.keyrepr = start, end, events, keyrepr


class ModelResult:
    def __init__(self, key_fields):
        self.key_fields = key_fields
        self.final = {}         # (normkey, ws, we) -> dict output record
        self.key_reprs = {}     # (normkey, ws, we) -> list of key tuples seen (arrival order)
        self.dead = []          # dicts: reason, offset, operator, value[, value_base64][, watermark, deadline]
        self.events_total = 0   # records that reached the window and were accepted

    def dead_by_offset(self):
        return {d["offset"]: d for d in self.dead}

    def late_offsets(self):
        return {d["offset"] for d in self.dead if d["reason"] == "late"}


def run_model(data, job):
    """Runs the job over the input file bytes; returns a ModelResult."""
    res = ModelResult(job.key)
    aggs = [(name, func, arg) for name, func, arg in job.aggregates]
    max_et = None
    windows = {}     # (normkey, ws, we) -> [events]; tumbling/sliding
    wkeys = {}       # same id -> [key value tuples in arrival order]
    sessions = {}    # normkey -> [Session] open
    finished = []    # (normkey, Session) forgotten sessions (final as they stand)
    arrival = 0

    def dead(reason, offset, raw, operator=None, **extra):
        d = {"reason": reason, "offset": offset, "operator": operator}
        d.update(dl_value_fields(raw))
        d.update(extra)
        res.dead.append(d)

    for offset, raw in split_lines(data):
        try:
            rec = decode_json_line(raw)
        except JsonError:
            dead("json", offset, raw)
            continue
        t = event_time_ms(rec, job.event_time)
        if t is None:
            dead("event_time", offset, raw)
            continue
        wm = NEG_INF if max_et is None else max_et - job.delay_ms
        max_et = t if max_et is None else max(max_et, t)
        arrival += 1

        dropped = False
        for op in job.pre:
            r = op(rec)
            if r[0] == "keep":
                rec = r[1]
            elif r[0] == "drop":
                dropped = True
                break
            else:
                dead("type", offset, raw, operator=r[1])
                dropped = True
                break
        if dropped:
            continue

        keyvals = tuple(get_path(rec, k) for k in job.key)
        nk = tuple(norm_value(v) for v in keyvals)
        L = job.lateness_ms

        if job.kind == "session":
            G = job.gap_ms
            open_ = [s for s in sessions.get(nk, []) if s.end + L > wm]
            for s in sessions.get(nk, []):
                if s.end + L <= wm:
                    finished.append((nk, s))
            sessions[nk] = open_
            touching = [s for s in open_ if s.start <= t + G and t <= s.end]
            if not touching and t + G + L <= wm:
                dead("late", offset, raw, operator=job.window_op,
                     watermark=int(wm), deadline=t + G + L)
                continue
            err = _type_error(rec, aggs)
            if err:
                dead("type", offset, raw, operator=job.window_op)
                continue
            ev = (arrival, t, rec)
            start = min([t] + [s.start for s in touching])
            end = max([t + G] + [s.end for s in touching])
            touching.sort(key=lambda s: -len(s.events))   # grow the biggest list in place
            events = touching[0].events if touching else []
            reprs = touching[0].keyrepr if touching else []
            events.append(ev)
            reprs.append(keyvals)
            for s in touching[1:]:
                events.extend(s.events)
                reprs.extend(s.keyrepr)
            sessions[nk] = [s for s in open_ if s not in touching] + [Session(start, end, events, reprs)]
            continue

        wins = windows_of(t, job)
        if not wins:
            continue                       # sliding with slide > size: in no window
        open_wins = [w for w in wins if w[1] + L > wm]
        if not open_wins:
            dead("late", offset, raw, operator=job.window_op,
                 watermark=int(wm), deadline=max(w[1] for w in wins) + L)
            continue
        if _type_error(rec, aggs):
            dead("type", offset, raw, operator=job.window_op)
            continue
        for ws, we in open_wins:
            wid = (nk, ws, we)
            windows.setdefault(wid, []).append((arrival, t, rec))
            wkeys.setdefault(wid, []).append(keyvals)

    # end of input: watermark +inf, everything fires
    for nk, lst in sessions.items():
        for s in lst:
            finished.append((nk, s))
    for nk, s in finished:
        wid = (nk, s.start, s.end)
        windows[wid] = s.events
        wkeys[wid] = s.keyrepr

    for wid, events in windows.items():
        events.sort(key=lambda e: e[0])   # arrival order (merged sessions)
        keyvals = wkeys[wid][0]
        out = {}
        for name, v in zip(job.key, keyvals):
            out[name] = v
        out["window_start"] = wid[1]
        out["window_end"] = wid[2]
        for name, func, arg in aggs:
            out[name] = compute_aggregate(func, events, arg)
        res.final[wid] = out
        res.key_reprs[wid] = wkeys[wid]
        res.events_total += len(events)
    return res


def _type_error(rec, aggs):
    for _, func, arg in aggs:
        if arg is not None:
            e = agg_type_error(func, get_path(rec, arg))
            if e:
                return e
    return None
