"""Hostile and broken input: no crash, no hang, no silent loss, no garbage, short messages.

Hypothesis builds a small valid dataset, writes it the way a user's files come (CSV with
funnel.yml, Parquet, an Excel workbook, a SQLite database, or DataFrames) and applies one
to three mutations from many kinds (bytes, encodings, CSV dialects, cells, rows, columns,
history, settings YAML, frames). Every case is loaded, described and summarised over a
year, an empty window and the default window, and must end in one of two ways:

* it loads: then every row written is loaded (canonical data sets nothing aside), every
  document is strict JSON, and data that was only odd (not broken) always loads;
* it raises a :class:`~salesnb.exceptions.SalesnbError` whose message is at most a few
  kilobytes and names the file or column.

Anything else (another exception, more than ``CASE_SECONDS`` seconds, a row gone without
a word) fails. The quick profile runs in ``make test``; ``benchmarks/fuzz_long.py`` runs the long one
(``SALESNB_FUZZ_EXAMPLES`` examples per chunk, a new ``SALESNB_FUZZ_SEED`` per chunk) and
prints its figures.
"""

from __future__ import annotations

import json
import os
import signal
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import salesnb as sn
from salesnb.exceptions import SalesnbError

EXAMPLES = int(os.environ.get("SALESNB_FUZZ_EXAMPLES", "25"))
#: Set by the long profile: a random run from this seed instead of the fixed quick one.
SEED = os.environ.get("SALESNB_FUZZ_SEED")
#: Longest a case may take (load, describe, three summaries) before it counts as a hang.
CASE_SECONDS = float(os.environ.get("SALESNB_FUZZ_SECONDS", "30"))
#: Longest message accepted (a few lines plus a bounded list of rows).
MESSAGE_CHARS = 4000

STAGES = ["lead", "qualified", "proposal", "negotiation"]
OWNERS = ["Sara", "Ali", "سارا محمدی", "Leila Nazari", "Omid"]


class Hang(Exception):
    """A case ran longer than CASE_SECONDS."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- valid datasets
@st.composite
def datasets(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small valid dataset: opportunities and their stage history, as text."""
    n = draw(st.integers(2, 14))
    rows, hist = [], []
    for i in range(n):
        day = draw(st.integers(0, 500))
        created = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, minutes=draw(st.integers(0, 1439)))
        status = draw(st.sampled_from(["open", "won", "lost"]))
        span = pd.Timedelta(days=draw(st.integers(1, 200)))
        closed = "" if status == "open" else (created + span).isoformat()
        depth = draw(st.integers(1, len(STAGES)))
        amount = draw(st.one_of(st.none(), st.integers(0, 10**10)))
        rows.append({"opportunity_id": f"OPP-{i:04d}", "owner": draw(st.sampled_from(OWNERS)),
                     "created_at": created.isoformat(), "status": status, "closed_at": closed,
                     "amount": "" if amount is None else str(amount),
                     "stage": STAGES[depth - 1] if status != "won" else "",
                     "lost_reason": draw(st.sampled_from(["", "price", "timing"])) if status == "lost" else "",
                     "team": draw(st.sampled_from(["North", "South", ""]))})
        for k in range(depth):
            entered = created + span * (k / (depth + 1)) if status != "open" else created + pd.Timedelta(hours=k)
            hist.append({"opportunity_id": f"OPP-{i:04d}", "stage": STAGES[k],
                         "entered_at": entered.isoformat()})
    return pd.DataFrame(rows), pd.DataFrame(hist)


FUNNEL = "stages: [lead, qualified, proposal, negotiation]\ntimezone: Asia/Tehran\n"


@dataclass
class Case:
    """One dataset as files, plus what is known about it."""

    folder: Path
    rows: int                      # opportunities written (when the file is well-formed)
    odd_only: bool = True          # True while only odd-but-valid changes were made
    load: Callable[[], sn.SalesData] = field(default=None)  # type: ignore[assignment]
    notes: list[str] = field(default_factory=list)


def write_csv(folder: Path, opps: pd.DataFrame, hist: pd.DataFrame, funnel: str = FUNNEL, *,
              encoding: str = "utf-8", sep: str = ",", line: str = "\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("opportunities", opps), ("stage_history", hist)):
        text = frame.to_csv(index=False, sep=sep, lineterminator=line)
        (folder / f"{name}.csv").write_bytes(text.encode(encoding, errors="replace"))
    (folder / "funnel.yml").write_text(funnel, encoding="utf-8")


# --------------------------------------------------------------------------- mutations
#: Odd but valid: every one of these must load.
ODD = ["bom", "crlf", "quote_all", "reorder_columns", "extra_column", "unicode_owner",
       "spaces_around", "status_case", "offsets", "blank_lines"]
#: Broken (or possibly broken): a clean error is fine, a crash is not.
BROKEN = ["truncate", "random_bytes", "nul_byte", "latin1", "utf16_no_bom", "semicolon", "cell_text",
          "cell_huge", "cell_inf", "cell_nan", "cell_today", "cell_year", "cell_negative", "cell_newline_id",
          "dup_row", "drop_row_hist_unknown", "drop_column", "dup_column_name", "rename_column",
          "hist_before_created", "hist_unknown_stage", "yaml_garbage", "yaml_alias_bomb", "yaml_deep",
          "yaml_python_tag", "yaml_wrong_types", "dir_instead_of_file", "empty_file", "header_only",
          "date_2262", "date_year_1", "bad_encoding_name"]


def mutate(kind: str, case: Case, opps: pd.DataFrame, hist: pd.DataFrame, draw: st.DrawFn) -> None:
    folder = case.folder
    opp_file = folder / "opportunities.csv"
    hist_file = folder / "stage_history.csv"
    if kind in BROKEN:
        case.odd_only = False
    target = draw(st.sampled_from([opp_file, hist_file]))
    raw = target.read_bytes() if target.exists() and target.is_file() else b""
    if kind == "bom":
        opp_file.write_bytes(b"\xef\xbb\xbf" + opp_file.read_bytes())
    elif kind == "crlf":
        target.write_bytes(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    elif kind == "quote_all":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        frame.to_csv(target, index=False, quoting=1)
    elif kind == "reorder_columns":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        frame[list(reversed(frame.columns))].to_csv(target, index=False)
    elif kind == "extra_column":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        frame["note"] = "x, y"
        frame.to_csv(target, index=False)
    elif kind == "unicode_owner":
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        frame.loc[0, "owner"] = "نگار‌حسینی \u00e9"
        frame.to_csv(opp_file, index=False)
    elif kind == "spaces_around":
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        frame["owner"] = "  " + frame["owner"] + "\u00a0"
        frame.to_csv(opp_file, index=False)
    elif kind == "status_case":
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        frame["status"] = frame["status"].str.upper()
        frame.to_csv(opp_file, index=False)
    elif kind == "offsets":
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        frame["created_at"] = frame["created_at"] + "+03:30"
        frame.to_csv(opp_file, index=False)
    elif kind == "blank_lines":
        target.write_bytes(raw.replace(b"\n", b"\n\n", 2))
    elif kind == "truncate":
        target.write_bytes(raw[: draw(st.integers(0, max(len(raw) - 1, 0)))])
    elif kind == "random_bytes":
        at = draw(st.integers(0, len(raw)))
        target.write_bytes(raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:])
    elif kind == "nul_byte":
        at = draw(st.integers(0, len(raw)))
        target.write_bytes(raw[:at] + b"\x00" + raw[at:])
    elif kind == "latin1":
        target.write_bytes(raw.decode("utf-8", errors="replace").encode("cp1256", errors="replace"))
    elif kind == "utf16_no_bom":
        target.write_bytes(raw.decode("utf-8", errors="replace").encode("utf-16-le"))
    elif kind == "semicolon":
        target.write_bytes(raw.replace(b",", b";"))
    elif kind.startswith("cell_") or kind.startswith("date_"):
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        if frame.empty:  # an earlier mutation left no row to change
            return
        row = draw(st.integers(0, len(frame) - 1))
        column = draw(st.sampled_from(list(frame.columns)))
        value = {
            "cell_text": draw(st.text(string.printable + "آبپ", max_size=12)),
            "cell_huge": "a" * draw(st.integers(1000, 200_000)),
            "cell_inf": draw(st.sampled_from(["inf", "Infinity", "-inf", "1e309", "9" * 400])),
            "cell_nan": draw(st.sampled_from(["nan", "NaN", "NA", "null", "None"])),
            "cell_today": draw(st.sampled_from(["today", "now", "yesterday", "epoch"])),
            "cell_year": draw(st.sampled_from(["2024", "2024-03", "20240301", "1403/01/01"])),
            "cell_negative": "-5",
            "cell_newline_id": "OPP\nsplit",
            "date_2262": "2262-04-11",
            "date_year_1": "0001-01-01",
        }[kind]
        if kind in ("cell_inf", "cell_negative"):
            column = "amount"
        elif kind in ("cell_today", "cell_year", "date_2262", "date_year_1"):
            column = draw(st.sampled_from(["created_at", "closed_at"]))
        elif kind == "cell_newline_id":
            column = "opportunity_id"
        frame.loc[row, column] = value
        frame.to_csv(opp_file, index=False)
    elif kind == "dup_row":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        pd.concat([frame, frame.iloc[[0]]]).to_csv(target, index=False)
    elif kind == "drop_row_hist_unknown":
        frame = pd.read_csv(opp_file, dtype=str, keep_default_na=False)
        frame.iloc[1:].to_csv(opp_file, index=False)
    elif kind == "drop_column":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        frame.drop(columns=draw(st.sampled_from(list(frame.columns)))).to_csv(target, index=False)
    elif kind == "dup_column_name":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        names = list(frame.columns)
        names[-1] = names[0]
        frame.set_axis(names, axis=1).to_csv(target, index=False)
    elif kind == "rename_column":
        frame = pd.read_csv(target, dtype=str, keep_default_na=False)
        old = draw(st.sampled_from(list(frame.columns)))
        frame.rename(columns={old: old.upper()}).to_csv(target, index=False)
    elif kind == "hist_before_created":
        frame = pd.read_csv(hist_file, dtype=str, keep_default_na=False)
        frame.loc[0, "entered_at"] = "2020-01-01"
        frame.to_csv(hist_file, index=False)
    elif kind == "hist_unknown_stage":
        frame = pd.read_csv(hist_file, dtype=str, keep_default_na=False)
        frame.loc[0, "stage"] = "demo"
        frame.to_csv(hist_file, index=False)
    elif kind.startswith("yaml_"):
        text = {
            "yaml_garbage": "stages: [lead, qualified\ntimezone: : :\n",
            "yaml_alias_bomb": ("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                                "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                                "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nstages: *g\n"),
            "yaml_deep": "stages: " + "[" * 3000 + "]" * 3000 + "\n",
            "yaml_python_tag": "stages: !!python/object/apply:os.system ['echo hacked']\n",
            "yaml_wrong_types": draw(st.sampled_from(["stages: 5\n", "timezone: [1, 2]\n", "weekend: 12\n",
                                                      "holidays: [not-a-date]\n", "calendar: mars\n"])),
        }[kind]
        (folder / "funnel.yml").write_text(text, encoding="utf-8")
    elif kind == "dir_instead_of_file":
        name = draw(st.sampled_from(["stage_history.csv", "funnel.yml"]))
        path = folder / name
        path.unlink()
        path.mkdir()
    elif kind == "empty_file":
        target.write_bytes(b"")
    elif kind == "header_only":
        target.write_bytes(raw.split(b"\n", 1)[0] + b"\n")
    elif kind == "bad_encoding_name":
        name = draw(st.sampled_from(["utf-9", "", "hex", "utf-16"]))
        case.load = lambda: sn.load(folder, encoding=name)
    case.notes.append(kind)


_ids = iter(range(10**9))


@st.composite
def cases(draw: st.DrawFn, tmp: Path) -> Case:
    opps, hist = draw(datasets())
    folder = tmp / f"case{next(_ids)}"  # a new folder per example: no state from earlier ones
    write_csv(folder, opps, hist)
    case = Case(folder, len(opps))
    case.load = lambda: sn.load(folder)
    for kind in draw(st.lists(st.sampled_from(ODD + BROKEN), min_size=1, max_size=3, unique=True)):
        try:
            mutate(kind, case, opps, hist, draw)
        except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
            # An earlier mutation left nothing the test can parse to change (an emptied
            # or truncated file, a folder in a file's place): the case stays as it is.
            case.notes.append(f"{kind} (skipped)")
    return case


# --------------------------------------------------------------------------- the properties
def check(case: Case) -> str:
    """Load and summarise a case; return "loaded" or "refused" (or fail the test)."""
    try:
        with time_limit(CASE_SECONDS):
            data = case.load()
            text = data.describe()
            assert text
            docs = [sn.kpi_summary(data)]
            docs.append(sn.kpi_summary(data, start="2024-01-01", end="2025-01-01", calendar="gregorian"))
            docs.append(sn.kpi_summary(data, start="1990-01-01", end="1990-02-01", calendar="gregorian"))
            for doc in docs:
                json.dumps(doc, allow_nan=False)  # strict JSON
    except SalesnbError as err:
        message = str(err)
        assert len(message) <= MESSAGE_CHARS, (case.notes, len(message))
        assert case.odd_only is False, f"odd but valid data refused ({case.notes}): {message[:500]}"
        return "refused"
    # Loaded: nothing may be lost without a word. Canonical data sets nothing aside, so
    # every row the file holds (read independently, as text) is loaded.
    if case.odd_only:
        assert len(data.opportunities) == case.rows, case.notes
    held = _rows_held(case.folder / "opportunities.csv")
    if held is not None:
        assert len(data.opportunities) == held, (case.notes, len(data.opportunities), held)
    return "loaded"


def _rows_held(path: Path) -> int | None:
    """Data rows of a CSV file as pandas reads it (None when it cannot read it as UTF-8 CSV)."""
    try:
        return len(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                               index_col=False))
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


@settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@(hypothesis.seed(int(SEED)) if SEED is not None else (lambda test: test))
@given(data=st.data())
def test_hostile_input_is_refused_cleanly_or_loaded_whole(data: st.DataObject, tmp_path: Path) -> None:
    case = data.draw(cases(tmp_path))
    check(case)


ONE_KIND = settings(max_examples=3, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _single(kind: str, data: st.DataObject, tmp: Path) -> Case:
    opps, hist = data.draw(datasets())
    folder = tmp / f"{kind}-{next(_ids)}"
    write_csv(folder, opps, hist)
    case = Case(folder, len(opps))
    case.load = lambda: sn.load(folder)
    mutate(kind, case, opps, hist, data.draw)
    return case


@pytest.mark.parametrize("kind", ODD)
@ONE_KIND
@given(data=st.data())
def test_odd_but_valid_data_always_loads_whole(kind: str, data: st.DataObject, tmp_path: Path) -> None:
    """Each odd-but-valid change alone loads, with every row."""
    assert check(_single(kind, data, tmp_path)) == "loaded"


@pytest.mark.parametrize("kind", BROKEN)
@ONE_KIND
@given(data=st.data())
def test_each_kind_of_breakage_is_refused_cleanly(kind: str, data: st.DataObject, tmp_path: Path) -> None:
    """Every kind of breakage alone: a clean error (or a full load), never a crash or a hang."""
    check(_single(kind, data, tmp_path))
