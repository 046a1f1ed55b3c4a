"""The canonical layout's rules: coercion and validation of the tables, in the engine.

Two steps, each collecting every problem before raising one
:class:`~salesnb.exceptions.DataSchemaError` that lists them all:

1. *Coercion*: text is trimmed (blank becomes empty), status is lower-cased,
   timestamps are read (ISO 8601; naive values are local time in the dataset's time
   zone, values with an offset are converted), amounts are read as numbers. A value
   that cannot be read is a problem, never a silent NULL.
2. *Rules*: the column rules (required values, unique ids, allowed statuses,
   non-negative amounts, ``closed_at`` present exactly for closed deals and not before
   ``created_at``) and the cross-table rules (history rows for unknown opportunities,
   unknown stages, entries outside the opportunity's life).

Both run inside the engine (:mod:`salesnb.data.engine`): DuckDB for files and
DataFrames, the database itself for a database source, Spark... The rules are declared
once (:data:`OPPORTUNITY_RULES`, :data:`HISTORY_RULES`) as predicates over the coerced
table; one aggregate query counts every rule's offending rows, and only a broken rule
costs another, small query for its first rows and values. Instants are int64
microseconds since the epoch, UTC (:mod:`salesnb.data.portable`).

The pandas helpers at the end (:func:`clean_text`, :func:`parse_timestamps`) are for
the readers and column mappings, which shape exports in pandas before the engine.

Extra columns are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as arrow
import pyarrow.compute as pc

from salesnb.data import portable as P
from salesnb.data.portable import count_true
from salesnb.exceptions import DataSchemaError, Problem

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from salesnb.data.engine import Engine

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_RULES",
    "OPPORTUNITY_COLUMNS",
    "OPPORTUNITY_RULES",
    "OPTIONAL_TEXT_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUSES",
    "RawTable",
    "Rule",
    "clean_field_history",
    "clean_history",
    "clean_opportunities",
    "clean_text",
    "infer_stage_order",
    "line_labels",
    "parse_timestamps",
    "position_labels",
    "stage_history",
]

STATUSES = ("open", "won", "lost")
REQUIRED_COLUMNS = ("opportunity_id", "owner", "created_at", "status")
OPTIONAL_TEXT_COLUMNS = ("stage", "lost_reason", "team", "account", "product", "source", "currency")
OPPORTUNITY_COLUMNS = (*REQUIRED_COLUMNS, "closed_at", "amount", *OPTIONAL_TEXT_COLUMNS)
HISTORY_COLUMNS = ("opportunity_id", "stage", "entered_at")
#: Optional columns with a type, coerced when the source has them (absent: not added):
#: the CRM's expected close date of an open deal, its own win probability (a share 0-1;
#: a column with values above 1 is read as percent), its forecast category, the pipeline.
OPTIONAL_TIME_COLUMNS = ("expected_close_at",)
OPTIONAL_NUMBER_COLUMNS = ("probability",)
OPTIONAL_EXTRA_TEXT = ("pipeline", "forecast_category")
FIELD_HISTORY_COLUMNS = ("opportunity_id", "field", "value", "changed_at")
#: The fields a field history replays, and how their values are read.
REPLAYED_FIELDS = {"amount": "number", "expected_close_at": "time", "owner": "text",
                   "probability": "number", "forecast_category": "text"}
#: Codes of the outcome rows in the history's ``position`` column (open stages: 0, 1, ...).
WON_CODE, LOST_CODE = -1, -2

#: The wall-clock range of timestamps, in microseconds since the epoch: whole years
#: 1678-2260, inside what a pandas result can hold (1677-09-22 .. 2262-04-11) with room for
#: the periods, windows and time zones computed around them.
LOWEST_LOCAL = -9_214_560_000_000_000   # 1678-01-01T00:00
HIGHEST_LOCAL = 9_183_110_399_999_999   # 2260-12-31T23:59:59.999999
#: Amounts are at most this in absolute value, in the data's currency: every integer up
#: to it is exact in a float64, so sums in integer minor units never drift.
AMOUNT_CEILING = 10**15

TIMESTAMP_FIX = ("write timestamps in ISO 8601, e.g. 2025-03-04 or 2025-03-04T10:15:00 "
                 "(Gregorian dates; an offset such as +03:30 is optional)")
AMOUNT_FIX = ("write amounts as plain numbers (e.g. 1250000.5), without thousands separators or "
              "currency signs, at most 10^15; leave unknown amounts empty")
_TIMESTAMP_KIND = "a timestamp (ISO 8601, years 1678 to 2260)"
_JALALI_LIKE = re.compile(r"^\s*1[34]\d\d[-/]")

#: Row labeller: turns positional row numbers into what the user sees (CSV line numbers...).
RowLabel = Callable[[np.ndarray], list[str]]


# --------------------------------------------------------------------------- raw tables
@dataclass(frozen=True)
class RawTable:
    """A table as read from its source, before coercion.

    Attributes
    ----------
    table : ibis Table
        The columns as stored (names stripped of surrounding spaces), plus ``_row``: the
        0-based position of each row in its source (file order; a database's storage
        order).
    source : str
        The file or table name shown in messages.
    row_label : callable
        Turns ``_row`` positions into what the user sees (``line 7``, ``row 3``).
    """

    table: ir.Table
    source: str
    row_label: RowLabel = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.row_label is None:
            object.__setattr__(self, "row_label", position_labels)

    @property
    def columns(self) -> list[str]:
        """The source's own columns (without ``_row``)."""
        return [c for c in self.table.columns if c != "_row"]


#: How many offending ids an error keeps in ``ids`` (the message shows the first few and
#: the count; the count is always exact).
MAX_IDS_KEPT = 1000


# --------------------------------------------------------------------------- coercion
def text_of(value: ir.Value) -> ir.StringValue:
    """Trimmed text of a column of any type (blank: NULL); whole floats lose their ``.0``."""
    import ibis

    if value.type().is_string():
        return P.clean_text(value)
    if value.type().is_floating():
        whole = value.notnull() & (value == value.floor())
        return P.clean_text(ibis.ifelse(whole, value.cast("int64").cast("string"), value.cast("string")))
    return P.clean_text(value.cast("string"))


def _time_columns(t: ir.Table, column: str | None, prefix: str, engine: Engine) -> ir.Table:
    """Add ``{prefix}_local`` (wall-clock microseconds), ``{prefix}_offset`` (the written
    offset; 0 for an aware value; NULL when naive), ``{prefix}_given`` (a value is there) and
    ``{prefix}_ok`` (it can be read) for a timestamp column of any type."""
    import ibis

    if column is None:
        return t.mutate(**{f"{prefix}_local": ibis.null("int64"), f"{prefix}_offset": ibis.null("int64"),
                           f"{prefix}_given": ibis.literal(False), f"{prefix}_ok": ibis.literal(False)})
    value = t[column]
    dtype = value.type()
    if dtype.is_date():
        local = (P.days_from_civil(value.year().cast("int64"), value.month().cast("int64"),
                                   value.day().cast("int64")) * P.US_PER_DAY).cast("int64")
        return t.mutate(**{f"{prefix}_local": local, f"{prefix}_offset": ibis.null("int64"),
                           f"{prefix}_given": value.notnull(), f"{prefix}_ok": value.notnull()})
    if dtype.is_timestamp():
        micros = P.typed_micros(value, engine.kind)
        if micros is not None:
            aware = dtype.timezone is not None
            offset = ibis.literal(0, "int64") if aware else ibis.null("int64")
            return t.mutate(**{f"{prefix}_local": micros, f"{prefix}_offset": offset,
                               f"{prefix}_given": value.notnull(), f"{prefix}_ok": value.notnull()})
        value = value.cast("string")  # read from its ISO text (with the offset when aware)
    text = f"{prefix}_text"
    t = t.mutate(**{text: text_of(value)})
    t = P.parse_iso_columns(t, text, prefix, engine.checkpoint)
    return t.mutate(**{f"{prefix}_given": t[text].notnull()}).drop(text)


def _number_columns(t: ir.Table, column: str, prefix: str) -> ir.Table:
    """Add ``{prefix}_value``, ``{prefix}_given`` and ``{prefix}_ok`` for a number column of any type."""
    value = t[column]
    if value.type().is_numeric() and not value.type().is_boolean():
        number = value.cast("float64")
        return t.mutate(**{f"{prefix}_value": number, f"{prefix}_given": number.notnull(),
                           f"{prefix}_ok": number.notnull()})
    t = t.mutate(**{f"{prefix}_text": text_of(value)})
    ok, number = P.parse_number(t[f"{prefix}_text"])
    return t.mutate(**{f"{prefix}_value": number, f"{prefix}_given": t[f"{prefix}_text"].notnull(),
                       f"{prefix}_ok": ok}).drop(f"{prefix}_text")


def _probability_scale(engine: Engine, stage: ir.Table) -> float:
    """100 when the probability column holds percents (a value above 1), else 1."""
    top = engine.one(stage.aggregate(m=stage._p_value.max())).get("m")
    return 100.0 if top is not None and top > 1 else 1.0


def _utc(t: ir.Table, prefix: str, zone: str, span: tuple[int | None, int | None]) -> ir.Value:
    """UTC microseconds of a parsed timestamp (NULL when it cannot be read or is out of range)."""
    import ibis

    local, offset = t[f"{prefix}_local"], t[f"{prefix}_offset"]
    in_range = local.between(LOWEST_LOCAL, HIGHEST_LOCAL)
    utc = ibis.ifelse(offset.isnull(), P.local_to_utc(local, zone, lo=span[0], hi=span[1]),
                      local - offset)
    return ibis.ifelse(t[f"{prefix}_ok"] & in_range, utc, ibis.null("int64"))


def _span(engine: Engine, t: ir.Table, prefixes: Sequence[str]) -> tuple[int | None, int | None]:
    """The smallest and largest wall-clock value of timestamp columns (so that only the time
    zone's transitions in between are written into the expressions)."""
    aggs: dict[str, Any] = {}
    for p in prefixes:
        local = t[f"{p}_local"]
        aggs[f"{p}_lo"] = local.min()
        aggs[f"{p}_hi"] = local.max()
    row = engine.one(t.aggregate(**aggs))
    los = [v for k, v in row.items() if k.endswith("_lo") and v is not None]
    his = [v for k, v in row.items() if k.endswith("_hi") and v is not None]
    return (min(los), max(his)) if los else (None, None)


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """A rule of the canonical layout: a predicate that is True on the offending rows.

    ``rule`` may name settings in braces (``{stages}``), filled in when it is reported;
    ``show`` names the column whose offending values the message quotes.
    """

    key: str
    column: str
    rule: str
    fix: str
    bad: Callable[[ir.Table], ir.BooleanValue]
    show: str | None = None


OPPORTUNITY_RULES: tuple[Rule, ...] = (
    Rule("created_unreadable", "created_at", f"has values that cannot be read as {_TIMESTAMP_KIND}",
         TIMESTAMP_FIX, lambda t: t._bad_created, show="_created_raw"),
    Rule("closed_unreadable", "closed_at", f"has values that cannot be read as {_TIMESTAMP_KIND}",
         TIMESTAMP_FIX, lambda t: t._bad_closed, show="_closed_raw"),
    Rule("amount_unreadable", "amount", "has values that cannot be read as a number", AMOUNT_FIX,
         lambda t: t._bad_amount, show="_amount_raw"),
    Rule("id_missing", "opportunity_id", "has blank ids", "give every opportunity a unique, non-blank id",
         lambda t: t.opportunity_id.isnull()),
    Rule("id_line_break", "opportunity_id", "has ids with a line break (two lines of the file read as one?)",
         "give every opportunity a one-line id; in a CSV file, look for a quote opened and not closed "
         "on the line before", lambda t: t.opportunity_id.re_search("[\r\n]").fill_null(False),
         show="opportunity_id"),
    Rule("id_unique", "opportunity_id", "has duplicate ids",
         "keep one row per opportunity (remove or merge the duplicates)",
         lambda t: t._duplicate, show="opportunity_id"),
    Rule("owner_missing", "owner", "has blank owners", "fill in the salesperson responsible for each row",
         lambda t: t.owner.isnull()),
    Rule("status_missing", "status", "has blank statuses", "set status to open, won or lost",
         lambda t: t.status.isnull()),
    Rule("status_known", "status", "has unknown statuses",
         "use open, won or lost (any case); map other CRM values with a column mapping",
         lambda t: t.status.notnull() & ~t.status.isin(STATUSES), show="_status_raw"),
    Rule("created_missing", "created_at", "has blank creation times",
         "fill in when each opportunity was created",
         lambda t: t.created_at.isnull() & ~t._bad_created),
    Rule("amount_nonneg", "amount", "has negative amounts",
         "amounts must be >= 0; correct them, or leave them empty if unknown",
         lambda t: (t.amount < 0).fill_null(False), show="amount"),
    Rule("closed_required", "closed_at", "is empty for won/lost opportunities",
         "fill in when each won/lost deal was closed, or set its status to open",
         lambda t: t.status.isin(["won", "lost"]).fill_null(False) & t.closed_at.isnull()
         & ~t._bad_closed),
    Rule("closed_forbidden", "closed_at", "is set for open opportunities",
         "clear closed_at for open deals, or set their status to won or lost",
         lambda t: ((t.status == "open") & t.closed_at.notnull()).fill_null(False)),
    Rule("closed_order", "closed_at", "is before created_at",
         "correct the dates: a deal cannot close before it was created",
         lambda t: (t.closed_at < t.created_at).fill_null(False)),
)

#: Rules of the optional typed columns (checked when the source has the column).
OPTIONAL_RULES: tuple[Rule, ...] = (
    Rule("expected_unreadable", "expected_close_at",
         f"has values that cannot be read as {_TIMESTAMP_KIND}", TIMESTAMP_FIX,
         lambda t: t._bad_expected, show="_expected_close_at_raw"),
    Rule("probability_unreadable", "probability", "has values that are not a probability (0-1, or 0-100 %)",
         "write the CRM's win probability as a share (0.25) or a percent (25); leave it empty if unknown",
         lambda t: t._bad_probability, show="_probability_raw"),
)

#: The history's rules, on the flags :func:`clean_history` materialises with the table (one
#: pass over the history: coerced, joined to its opportunities, checked).
HISTORY_RULES: tuple[Rule, ...] = (
    Rule("id_blank", "opportunity_id", "has blank values",
         "fill in the opportunity each stage entry belongs to", lambda t: t._id_blank),
    Rule("stage_blank", "stage", "has blank values", "fill in the stage that was entered",
         lambda t: t._stage_blank),
    Rule("entered_blank", "entered_at", "has blank values", "fill in when each stage was entered",
         lambda t: t.entered_at.isnull() & ~t._bad_entered),
    Rule("entered_unreadable", "entered_at", "has values that cannot be read as a timestamp",
         TIMESTAMP_FIX, lambda t: t._bad_entered, show="_entered_raw"),
    Rule("unknown_id", "opportunity_id",
         "has rows for opportunities that are not in the opportunities table",
         "remove these history rows, or add the missing opportunities",
         lambda t: t.opp_key.isnull() & ~t._id_blank),
    Rule("unknown_stage", "stage", "has stages that are not in the funnel ({stages}; outcomes {won}/{lost})",
         "add the stage to 'stages' in funnel.yml in its funnel position, or correct the value "
         "(map CRM stage names with a column mapping)",
         lambda t: t.position.isnull() & ~t._stage_blank, show="stage"),
    Rule("before_created", "entered_at", "has entries before the opportunity was created",
         "correct entered_at or the opportunity's created_at (a stage cannot be entered before "
         "the deal exists)", lambda t: t._before),
    Rule("after_closed", "entered_at", "has entries after the opportunity was closed",
         "correct entered_at or the opportunity's closed_at (a closed deal enters no stage)",
         lambda t: t._after),
)


def missing_column(column: str, present: Sequence[str], source: str) -> Problem:
    """The problem of a required column that is not there (naming a near miss, if any)."""
    near = [c for c in present if c.strip().lower().replace(" ", "_") == column]
    hint = f" (found {near[0]!r}: rename it to {column!r})" if near else ""
    found = ", ".join(map(str, present)) or "(none)"
    return Problem(
        f"required column is missing{hint}; columns found: {found}", source,
        f"add a '{column}' column, or read the export with a column mapping (mapping=...)", column,
    )


def _report(engine: Engine, checked: ir.Table, rules: Sequence[Rule], raw: RawTable, *,
            shown: ir.Table, label_ids: Callable[[str | None, str], str],
            context: dict[str, str] | None = None, row: str = "_row") -> list[Problem]:
    """Count every rule's offending rows in one query; describe the rules that are broken.

    ``checked`` has the rule columns and ``_row``; ``shown`` has ``_row``, ``_id`` and the
    columns rules quote (as written in the source).
    """
    counts = {r.key: count_true(r.bad(checked)) for r in rules}
    found = engine.one(checked.aggregate(**counts))
    problems = []
    for r in rules:
        n = int(found.get(r.key) or 0)
        if not n:
            continue
        offending = checked.filter(r.bad(checked))
        bad = offending.select(_bad_row=offending[row])
        picked = bad.join(shown, bad._bad_row == shown._row)
        first = engine.rows(picked.select("_row", "_id").order_by("_row").limit(MAX_IDS_KEPT))
        labels = raw.row_label(np.array([f["_row"] for f in first], dtype="int64")) if first else []
        ids = [label_ids(f["_id"], label) for f, label in zip(first, labels, strict=True)]
        values: tuple[Any, ...] = ()
        if r.show is not None:
            v = picked.select("_row", _v=picked[r.show])
            vals = engine.rows(v.group_by("_v").aggregate(_first=v._row.min()).order_by("_first").limit(6))
            values = tuple(x["_v"] for x in vals)
        fix = r.fix
        if r.key in ("created_unreadable", "closed_unreadable") and any(
                isinstance(x, str) and _JALALI_LIKE.match(x) for x in values):
            fix = f"{fix}. Some values look like Jalali dates: data files hold Gregorian dates"
        text = r.rule.format(**(context or {}))
        problems.append(Problem(text, raw.source, fix, r.column, tuple(ids), values, count=n))
    return problems


# --------------------------------------------------------------------------- opportunities
def clean_opportunities(engine: Engine, raw: RawTable, *, tz: str) -> ir.Table:
    """Coerce and validate an opportunities table; return it materialised in the engine.

    Parameters
    ----------
    engine : Engine
        Where ``raw`` is and where the clean table is kept.
    raw : RawTable
        The table as read, with ``_row``.
    tz : str
        The time zone of naive timestamps.

    Returns
    -------
    ibis Table
        ``_row`` (source position), ``opportunity_id``, ``owner``, ``created_at``,
        ``status``, ``closed_at``, ``amount`` (float64), the optional text columns (NULL
        where absent), the extra columns as stored, then the coercion flags
        (``_bad_created``, ``_bad_closed``, ``_bad_amount``; all False once validated).
        Instants are int64 microseconds since the epoch, UTC.

    Raises
    ------
    DataSchemaError
        Listing every problem found.
    """
    import ibis

    present = raw.columns
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise DataSchemaError(problems=[missing_column(c, present, raw.source) for c in missing])
    t = raw.table
    has = set(present)
    typed = [c for c in (*OPTIONAL_TIME_COLUMNS, *OPTIONAL_NUMBER_COLUMNS, *OPTIONAL_EXTRA_TEXT) if c in has]
    extras = [c for c in present if c not in OPPORTUNITY_COLUMNS and c not in typed]
    stage = t.select(
        "_row",
        opportunity_id=text_of(t.opportunity_id),
        owner=text_of(t.owner),
        status=text_of(t.status).lower(),
        _status_raw=t.status.cast("string"),
        **{c: (text_of(t[c]) if c in has else ibis.null("string")) for c in OPTIONAL_TEXT_COLUMNS},
        _created_raw=t.created_at,
        _closed_raw=t.closed_at if "closed_at" in has else ibis.null("string"),
        _amount_raw=t.amount if "amount" in has else ibis.null("float64"),
        **{c: text_of(t[c]) for c in OPTIONAL_EXTRA_TEXT if c in has},
        **{f"_{c}_raw": t[c] for c in (*OPTIONAL_TIME_COLUMNS, *OPTIONAL_NUMBER_COLUMNS) if c in has},
        **{c: t[c] for c in extras},
    )
    stage = _time_columns(stage, "_created_raw", "_c", engine)
    stage = _time_columns(stage, "_closed_raw" if "closed_at" in has else None, "_k", engine)
    if "expected_close_at" in has:
        stage = _time_columns(stage, "_expected_close_at_raw", "_x", engine)
    if "probability" in has:
        stage = _number_columns(stage, "_probability_raw", "_p")
    amount = stage._amount_raw
    if amount.type().is_numeric() and not amount.type().is_boolean():
        value = amount.cast("float64")
        amount_given, amount_ok = value.notnull(), value.notnull()
    else:
        stage = stage.mutate(_amount_text=text_of(amount))
        amount_ok, value = P.parse_number(stage._amount_text)
        amount_given = stage._amount_text.notnull()
    sane = value.between(-AMOUNT_CEILING, AMOUNT_CEILING).fill_null(False)
    stage = stage.mutate(_amount=ibis.ifelse(amount_ok & sane, value, ibis.null("float64")),
                         _bad_amount=(amount_given & ~(amount_ok & sane)).fill_null(False))
    text_times = not (t.created_at.type().is_temporal()
                      and ("closed_at" not in has or t.closed_at.type().is_temporal()))
    stage = engine.checkpoint(stage, heavy=text_times)
    span = _span(engine, stage, ["_c", "_k", *(["_x"] if "expected_close_at" in has else [])])
    created = _utc(stage, "_c", tz, span)
    closed = _utc(stage, "_k", tz, span)
    optional: dict[str, Any] = {}
    if "expected_close_at" in has:
        expected = _utc(stage, "_x", tz, span)
        optional["expected_close_at"] = expected
        optional["_bad_expected"] = (stage._x_given & expected.isnull()).fill_null(False)
    if "probability" in has:
        scale = _probability_scale(engine, stage)
        optional["probability"] = ibis.ifelse(stage._p_ok, stage._p_value / scale, ibis.null("float64"))
        optional["_bad_probability"] = (stage._p_given & ~(stage._p_ok & stage._p_value.between(0, 100))
                                        ).fill_null(False)
    columns = {
        "_row": stage._row, "opportunity_id": stage.opportunity_id, "owner": stage.owner,
        "created_at": created, "status": stage.status, "closed_at": closed, "amount": stage._amount,
        **{c: stage[c] for c in OPTIONAL_TEXT_COLUMNS},
        **{c: stage[c] for c in OPTIONAL_EXTRA_TEXT if c in has},
        **{c: v for c, v in optional.items() if not c.startswith("_")},
        **{c: stage[c] for c in extras},
        **{c: v for c, v in optional.items() if c.startswith("_")},
        "_bad_created": (stage._c_given & created.isnull()).fill_null(False),
        "_bad_closed": (stage._k_given & closed.isnull()).fill_null(False),
        "_bad_amount": stage._bad_amount,
    }
    out = stage.select(*[value.name(name) for name, value in columns.items()])
    table = engine.materialize(out, "opportunities")
    dup = table.group_by("opportunity_id").aggregate(_n=table.count())
    dup = dup.filter((dup._n > 1) & dup.opportunity_id.notnull()).select(_dup_id="opportunity_id")
    checked = table.left_join(dup, table.opportunity_id == dup._dup_id).mutate(
        _duplicate=ibis._._dup_id.notnull())
    shown = stage.select("_row", _id=stage.opportunity_id, opportunity_id=stage.opportunity_id,
                         amount=stage._amount, _status_raw=stage._status_raw,
                         _created_raw=stage._created_raw.cast("string"),
                         _closed_raw=stage._closed_raw.cast("string"),
                         _amount_raw=stage._amount_raw.cast("string"),
                         **{f"_{c}_raw": stage[f"_{c}_raw"].cast("string")
                            for c in (*OPTIONAL_TIME_COLUMNS, *OPTIONAL_NUMBER_COLUMNS) if c in has})
    rules = [*OPPORTUNITY_RULES, *(r for r in OPTIONAL_RULES if r.column in has)]
    problems = _report(engine, checked, rules, raw, shown=shown,
                       label_ids=lambda i, label: i if i is not None else label)
    if problems:
        engine.drop(table)
        raise DataSchemaError.from_problems(problems)
    return table


def check_stage_column(engine: Engine, opportunities: ir.Table, *, stages: Sequence[str], won: str,
                       lost: str, source: str) -> None:
    """Check that the ``stage`` column of the opportunities names funnel stages.

    Raises
    ------
    DataSchemaError
        Naming the offending opportunities and values.
    """
    allowed = [*stages, won, lost]
    o = opportunities
    bad = o.filter(o.stage.notnull() & ~o.stage.isin(allowed))
    n = int(engine.one(bad.aggregate(n=bad.count())).get("n") or 0)
    if not n:
        return
    first = engine.rows(bad.select("_row", "opportunity_id").order_by("_row").limit(MAX_IDS_KEPT))
    vals = engine.rows(bad.group_by("stage").aggregate(_first=bad._row.min()).order_by("_first").limit(6))
    raise DataSchemaError(
        f"has stages that are not in the funnel ({', '.join(stages)})", source=source, column="stage",
        ids=[r["opportunity_id"] for r in first], values=[v["stage"] for v in vals], count=n,
        fix="add the stage to 'stages' in funnel.yml in its funnel position, or correct the value",
    )


def check_pipelines(engine: Engine, opportunities: ir.Table, *, pipelines: Mapping[str, Sequence[str]],
                    won: str, lost: str, source: str) -> None:
    """Check the deals against ``pipelines`` (funnel.yml): a listed pipeline, a stage of it.

    Only with configured pipelines and a ``pipeline`` column. A deal without a pipeline,
    or whose stage is blank or an outcome, is never flagged (the outcome labels are
    shared by every pipeline).

    Raises
    ------
    DataSchemaError
        Listing the deals whose pipeline is not configured and the deals at a stage that
        is not one of their pipeline's, with the offending values.
    """
    import ibis

    o = opportunities
    if not pipelines or "pipeline" not in o.columns:
        return
    names = list(pipelines)
    unknown = o.pipeline.notnull() & ~o.pipeline.isin(names)
    allowed = ibis.cases(*[(o.pipeline == name, o.stage.isin([*stages, won, lost]))
                           for name, stages in pipelines.items()], else_=True)
    off = o.pipeline.notnull() & o.stage.notnull() & ~unknown & ~allowed
    found = engine.one(o.aggregate(unknown=count_true(unknown), off=count_true(off)))
    problems = []
    for key, cond, rule, column, fix, shown in (
        ("unknown", unknown, f"has pipelines that funnel.yml does not list ({', '.join(names)})", "pipeline",
         "add each pipeline to 'pipelines' in funnel.yml with its stages in funnel order, or correct the value",
         o.pipeline),
        ("off", off, "has stages that are not stages of the deal's pipeline", "stage",
         "add the stage to its pipeline under 'pipelines' in funnel.yml, or correct the value",
         o.stage.concat(" (pipeline ", o.pipeline, ")")),
    ):
        n = int(found.get(key) or 0)
        if not n:
            continue
        bad = o.filter(cond).mutate(_v=shown)
        first = engine.rows(bad.select("_row", "opportunity_id").order_by("_row").limit(MAX_IDS_KEPT))
        vals = engine.rows(bad.group_by("_v").aggregate(_first=bad._row.min()).order_by("_first").limit(6))
        problems.append(Problem(rule, source, fix, column, tuple(r["opportunity_id"] for r in first),
                                tuple(v["_v"] for v in vals), count=n))
    if problems:
        raise DataSchemaError.from_problems(problems)


# --------------------------------------------------------------------------- history
def stage_history(engine: Engine, raw: RawTable, *, tz: str) -> ir.Table:
    """The history with text trimmed and ``entered_at`` read (not yet checked).

    Columns: ``_row``, ``opportunity_id``, ``stage``, ``entered_at`` (UTC microseconds;
    NULL when blank or unreadable), ``_bad_entered``, ``_entered_raw``, then the extra
    columns as stored.
    """
    present = raw.columns
    missing = [c for c in HISTORY_COLUMNS if c not in present]
    if missing:
        raise DataSchemaError(problems=[missing_column(c, present, raw.source) for c in missing])
    t = raw.table
    extras = [c for c in present if c not in HISTORY_COLUMNS]
    staged = t.select("_row", opportunity_id=text_of(t.opportunity_id), stage=text_of(t.stage),
                      _entered_raw=t.entered_at, **{c: t[c] for c in extras})
    staged = engine.checkpoint(_time_columns(staged, "_entered_raw", "_e", engine),
                               heavy=not t.entered_at.type().is_temporal())
    span = _span(engine, staged, ["_e"])
    entered = _utc(staged, "_e", tz, span)
    columns = {"_row": staged._row, "opportunity_id": staged.opportunity_id, "stage": staged.stage,
               "entered_at": entered,
               "_bad_entered": (staged._e_given & entered.isnull()).fill_null(False),
               "_entered_raw": staged._entered_raw.cast("string"),
               **{c: staged[c] for c in extras}}
    return staged.select(*[value.name(name) for name, value in columns.items()])


def position_of(stage: ir.StringValue, stages: Sequence[str], won: str, lost: str) -> ir.IntegerValue:
    """The funnel position of a stage label: 0, 1, ... for the open stages, :data:`WON_CODE`
    and :data:`LOST_CODE` for the outcomes, NULL outside the funnel."""
    import ibis

    cases = [(stage == s, i) for i, s in enumerate(stages)]
    cases += [(stage == won, WON_CODE), (stage == lost, LOST_CODE)]
    return ibis.cases(*cases, else_=ibis.null("int64")).cast("int16")


def clean_history(engine: Engine, raw: RawTable, staged: ir.Table, opportunities: ir.Table, *,
                  stages: Sequence[str], won: str, lost: str) -> ir.Table:
    """Validate a stage history (from :func:`stage_history`) against its opportunities.

    Returns
    -------
    ibis Table
        Materialised: ``seq`` (source position; ties in ``entered_at`` keep it),
        ``opp_key`` (the opportunity's ``_row``), ``position`` (funnel position; -1 won,
        -2 lost), ``entered_at`` (UTC microseconds), then the extra columns as stored.

    Raises
    ------
    DataSchemaError
        Listing every problem: blank values, unreadable times, rows for unknown
        opportunities, stages outside the funnel, entries outside the opportunity's life.
    """
    keys = opportunities.select(_key_id=opportunities.opportunity_id, opp_key=opportunities._row,
                                _born=opportunities.created_at, _ended=opportunities.closed_at)
    joined = staged.left_join(keys, staged.opportunity_id == keys._key_id)
    extras = [c for c in staged.columns if not c.startswith("_")
              and c not in ("opportunity_id", "stage", "entered_at")]
    # One pass: coerced, joined and flagged, kept as the table (the flags are a few bytes a
    # row; the text of ids and stages is not kept: the key and the position replace them).
    # Row keys in 32 bits where a table is held by one machine (DuckDB, a database server);
    # a cluster's tables (Spark, warehouses) may pass two billion rows.
    small = "int32" if engine.kind in ("duckdb", "sqlite", "postgres") else "int64"
    columns = {
        "seq": joined._row.cast(small), "opp_key": joined.opp_key.cast(small),
        "position": position_of(joined.stage, stages, won, lost), "entered_at": joined.entered_at,
        **{c: joined[c] for c in extras},
        "_id_blank": joined.opportunity_id.isnull(),
        "_stage_blank": joined.stage.isnull(), "_bad_entered": joined._bad_entered,
        "_before": (joined.entered_at < joined._born).fill_null(False),
        "_after": (joined.entered_at > joined._ended).fill_null(False),
    }
    table = engine.materialize(joined.select(*[v.name(n) for n, v in columns.items()]), "stage_history")
    shown = staged.select("_row", "stage", "_entered_raw", _id=staged.opportunity_id)
    context = {"stages": ", ".join(stages), "won": won, "lost": lost}
    problems = _report(engine, table, HISTORY_RULES, raw, shown=shown, context=context, row="seq",
                       label_ids=lambda i, label: f"{i} ({label})" if i is not None else label)
    if problems:
        engine.drop(table)
        raise DataSchemaError.from_problems(problems)
    return table


# --------------------------------------------------------------------------- field history
FIELD_RULES: tuple[Rule, ...] = (
    Rule("id_blank", "opportunity_id", "has blank values",
         "fill in the opportunity each change belongs to", lambda t: t.opportunity_id.isnull()),
    Rule("field_blank", "field", "has blank values", "fill in the field that changed",
         lambda t: t.field.isnull()),
    Rule("field_unknown", "field", "has fields salesnb does not replay ({fields})",
         "keep only the rows of these fields (a column mapping can filter them)",
         lambda t: t.field.notnull() & ~t.field.isin(list(REPLAYED_FIELDS)), show="field"),
    Rule("changed_blank", "changed_at", "has blank values", "fill in when each change was made",
         lambda t: t.changed_at.isnull() & ~t._bad_changed),
    Rule("changed_unreadable", "changed_at", "has values that cannot be read as a timestamp",
         TIMESTAMP_FIX, lambda t: t._bad_changed, show="_changed_raw"),
    Rule("value_unreadable", "value", "has values that cannot be read for their field (a number for "
         "amount and probability, a timestamp for expected_close_at)",
         "write amounts and probabilities as plain numbers and dates in ISO 8601; leave a value "
         "empty when the field was cleared", lambda t: t._bad_value, show="value"),
    Rule("unknown_id", "opportunity_id",
         "has rows for opportunities that are not in the opportunities table",
         "remove these rows, or add the missing opportunities",
         lambda t: t.opp_key.isnull() & t.opportunity_id.notnull()),
    Rule("before_created", "changed_at", "has changes before the opportunity was created",
         "correct changed_at or the opportunity's created_at",
         lambda t: (t.changed_at < t._born).fill_null(False)),
)


def clean_field_history(engine: Engine, raw: RawTable, opportunities: ir.Table, *, tz: str) -> ir.Table:
    """Coerce and validate a field history (``opportunity_id, field, value, changed_at``).

    A row says what a field of a deal held from ``changed_at`` on; the fields replayed are
    :data:`REPLAYED_FIELDS`. An empty value means the field was cleared.

    Returns
    -------
    ibis Table
        Materialised: ``seq`` (source position), ``opp_key``, ``field``, ``changed_at``
        (UTC microseconds), ``value_text`` (owner, forecast category), ``value_number``
        (amount, probability as a share), ``value_time`` (expected close, microseconds).

    Raises
    ------
    DataSchemaError
        Listing every problem.
    """
    import ibis

    present = raw.columns
    missing = [c for c in FIELD_HISTORY_COLUMNS if c not in present]
    if missing:
        raise DataSchemaError(problems=[missing_column(c, present, raw.source) for c in missing])
    t = raw.table
    staged = t.select("_row", opportunity_id=text_of(t.opportunity_id), field=text_of(t.field).lower(),
                      value=text_of(t.value), _changed_raw=t.changed_at)
    staged = _time_columns(staged, "_changed_raw", "_h", engine)
    staged = staged.mutate(_v_text=staged.value)
    staged = P.parse_iso_columns(staged, "_v_text", "_v", engine.checkpoint)
    number_ok, number = P.parse_number(staged.value)
    staged = engine.checkpoint(staged.mutate(_n_ok=number_ok, _n=number), heavy=True)
    span = _span(engine, staged, ["_h", "_v"])
    changed = _utc(staged, "_h", tz, span)
    as_time = _utc(staged, "_v", tz, span)
    kind = ibis.cases(*[(staged.field == f, k) for f, k in REPLAYED_FIELDS.items()], else_="text")
    bad_value = staged.value.notnull() & ibis.cases(
        (kind == "number", ~(staged._n_ok & staged._n.between(0, AMOUNT_CEILING))),
        (kind == "time", as_time.isnull()), else_=False)
    scale = ibis.ifelse((staged.field == "probability") & (staged._n > 1), 100.0, 1.0)
    staged = staged.mutate(changed_at=changed, _bad_changed=(staged._h_given & changed.isnull()).fill_null(False),
                           _bad_value=bad_value.fill_null(False),
                           value_number=ibis.ifelse(kind == "number", staged._n / scale, ibis.null("float64")),
                           value_time=ibis.ifelse(kind == "time", as_time, ibis.null("int64")),
                           value_text=ibis.ifelse(kind == "text", staged.value, ibis.null("string")),
                           _changed_raw_text=staged._changed_raw.cast("string"))
    keys = opportunities.select(_key_id=opportunities.opportunity_id, opp_key=opportunities._row,
                                _born=opportunities.created_at)
    checked = staged.left_join(keys, staged.opportunity_id == keys._key_id)
    shown = staged.select("_row", "field", "value", _id=staged.opportunity_id,
                          _changed_raw=staged._changed_raw_text)
    problems = _report(engine, checked, FIELD_RULES, raw, shown=shown,
                       context={"fields": ", ".join(REPLAYED_FIELDS)},
                       label_ids=lambda i, label: f"{i} ({label})" if i is not None else label)
    if problems:
        raise DataSchemaError.from_problems(problems)
    out = checked.select(seq=checked._row, opp_key=checked.opp_key, field=checked.field,
                         changed_at=checked.changed_at, value_text=checked.value_text,
                         value_number=checked.value_number, value_time=checked.value_time)
    return engine.materialize(out, "field_history")


# --------------------------------------------------------------------------- stage order
def infer_stage_order(engine: Engine, staged: ir.Table | None, opportunities: ir.Table,
                      won: str, lost: str) -> tuple[str, ...]:
    """Infer the open-stage order from the history (and the ``stage`` column).

    Each opportunity orders the stages it entered by first entry. A stage scores a
    point for every other stage it precedes in most of the opportunities that entered
    both (a Copeland ranking), so deals that start mid-funnel or skip stages do not
    distort the order; ties are broken by the mean relative rank, then by name. Stages
    that appear only in the opportunities' ``stage`` column follow, in order of first
    appearance. The pairwise counts come from the engine; only stage × stage tables are
    fetched.
    """
    import ibis

    order: list[str] = []
    if staged is not None:
        h = staged.filter(staged.stage.notnull() & ~staged.stage.isin([won, lost])
                          & staged.entered_at.notnull() & staged.opportunity_id.notnull())
        # The first entry of each stage per opportunity, in (time, source) order.
        w = ibis.window(group_by=[h.opportunity_id, h.stage], order_by=[h.entered_at, h._row])
        firsts = h.mutate(_k=ibis.row_number().over(w))
        firsts = firsts.filter(firsts._k == 0)
        w2 = ibis.window(group_by=firsts.opportunity_id, order_by=[firsts.entered_at, firsts._row])
        ranked = firsts.select("opportunity_id", "stage", rank=ibis.row_number().over(w2),
                               n=firsts.count().over(ibis.window(group_by=firsts.opportunity_id)))
        a = ranked.select(opp_a="opportunity_id", sa="stage", ra="rank")
        b = ranked.select(opp_b="opportunity_id", sb="stage", rb="rank")
        pairs = a.join(b, (a.opp_a == b.opp_b) & (a.sa != b.sb))
        wins = engine.rows(pairs.group_by(["sa", "sb"]).aggregate(before=count_true(pairs.ra < pairs.rb)))
        rel = engine.rows(ranked.group_by("stage").aggregate(
            total=((ranked["rank"] + 1).cast("float64") / ranked.n.cast("float64")).sum(),
            count=ranked.count()))
        names = sorted(r["stage"] for r in rel)
        beats = {(x["sa"], x["sb"]): int(x["before"]) for x in wins}
        score = dict.fromkeys(names, 0.0)
        for i, s1 in enumerate(names):
            for s2 in names[i + 1:]:
                before, after = beats.get((s1, s2), 0), beats.get((s2, s1), 0)
                if before > after:
                    score[s1] += 1
                elif after > before:
                    score[s2] += 1
                else:
                    score[s1] += 0.5
                    score[s2] += 0.5
        mean_rank = {r["stage"]: r["total"] / r["count"] for r in rel}
        order = sorted(names, key=lambda s: (-score[s], mean_rank[s], s))
    o = opportunities.filter(opportunities.stage.notnull() & ~opportunities.stage.isin([won, lost]))
    for r in engine.rows(o.group_by("stage").aggregate(_first=o._row.min()).order_by("_first")):
        if r["stage"] not in order:
            order.append(r["stage"])
    return tuple(order)


# --------------------------------------------------------------------------- pandas helpers
# For the readers and column mappings, which shape exports in pandas before the engine.

# An offset only counts after a time of day ("2025-01-05" ends in "-05" but has none).
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_TIME_UNIT = "ns"


def line_labels(first_line: int) -> RowLabel:
    """Label rows by file line (``line 2`` is the first data row of a CSV with a header)."""

    def label(positions: np.ndarray) -> list[str]:
        return [f"line {int(p) + first_line}" for p in positions]

    return label


def position_labels(positions: np.ndarray) -> list[str]:
    """Label rows by 0-based position (DataFrames, Parquet, SQL results)."""
    return [f"row {int(p)}" for p in positions]


def clean_text(series: pd.Series) -> pd.Series:
    """Return ``series`` as trimmed text with blanks as missing (values otherwise as stored)."""
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        series = series.map(_to_text, na_action="ignore")
    text = series.astype("str")
    if not isinstance(text.array, pd.arrays.ArrowStringArray):  # pragma: no cover - python storage
        text = text.str.strip()
        return text.mask(text == "")
    # Straight on the Arrow buffers: several times faster than the Series methods on
    # millions of rows (same whitespace rule: Unicode, as str.strip). Block by block, and
    # a block that needs no change keeps the stored buffers: no full-size copy is ever
    # held just to find out that the export was clean.
    stored = arrow.array(text, from_pandas=True)
    pieces, changed = [], False
    for start in range(0, max(len(stored), 1), _TEXT_BLOCK):
        piece = stored.slice(start, _TEXT_BLOCK)
        trimmed = pc.utf8_trim_whitespace(piece)
        if pc.sum(pc.binary_length(trimmed)).as_py() != pc.sum(pc.binary_length(piece)).as_py():
            piece, changed = trimmed, True
        blank = pc.equal(piece, "")
        if pc.any(blank).as_py():
            piece, changed = pc.if_else(blank, arrow.scalar(None, piece.type), piece), True
        pieces.append(piece)
    if not changed:
        return text
    values = pd.arrays.ArrowStringArray(  # type: ignore[call-arg]
        arrow.chunked_array(pieces, type=stored.type), dtype=text.dtype)
    return pd.Series(values, index=series.index, name=series.name)


#: Rows trimmed at a time by :func:`clean_text`.
_TEXT_BLOCK = 1 << 18


def _to_text(value: Any) -> Any:
    # Numbers read from Excel/SQL keep their plain form (1.0 -> "1", not "1.0").
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_timestamps(
    series: pd.Series, *, tz: str
) -> tuple[pd.Series, np.ndarray]:
    """Parse timestamps into ``datetime64[ns, tz]``.

    Returns the parsed series and a boolean mask of values that were present but
    could not be read (blank values are simply missing).
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _to_ns(series.dt.tz_convert(tz))
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _to_ns(series, tz)

    text = clean_text(series)
    present = text.notna().to_numpy()
    has_offset = text.str.contains(_OFFSET, na=False).to_numpy()
    result = pd.Series(pd.NaT, index=series.index, dtype=f"datetime64[{_TIME_UNIT}, {tz}]")
    bad = np.zeros(len(series), dtype=bool)
    naive_mask = present & ~has_offset
    if naive_mask.any():
        naive = pd.to_datetime(text[naive_mask], format="ISO8601", errors="coerce")
        converted, out_of_range = _to_ns(naive, tz)
        result[naive_mask] = converted
        bad[np.flatnonzero(naive_mask)[out_of_range]] = True
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        converted, out_of_range = _to_ns(aware.dt.tz_convert(tz))
        result[has_offset] = converted
        bad[np.flatnonzero(has_offset)[out_of_range]] = True
    bad |= present & result.isna().to_numpy()
    return result, bad


#: Timestamps are held in nanoseconds, which reach from 1677-09-22 to 2262-04-11.
_LOWEST = pd.Timestamp.min.ceil("D")
_HIGHEST = pd.Timestamp.max.floor("D")


def _to_ns(series: pd.Series, tz: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Convert to nanoseconds (localising naive values in ``tz``); out-of-range values become NaT."""
    naive = series.dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) else series
    outside = ((naive < _LOWEST.tz_localize(None)) | (naive > _HIGHEST.tz_localize(None))).fillna(False)
    outside_arr = outside.to_numpy(dtype=bool)
    if outside_arr.any():
        series = series.where(~outside)
    if tz is not None:
        series = _localize(series, tz)
    return series.dt.as_unit(_TIME_UNIT), outside_arr


def _localize(series: pd.Series, tz: str) -> pd.Series:
    """Localise naive local times; DST gaps shift forward, repeated hours take the first."""
    fixed = _fixed_offset(series, tz)
    if fixed is not None:
        # No clock change in the data's span (Iran since 2023, most of Asia...): one
        # subtraction instead of pandas' per-value transition search.
        utc = (series - fixed).dt.tz_localize("UTC")
        return utc.dt.tz_convert(tz)
    # Repeated hours (a few per year at most) come back NaT and are redone.
    local = series.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    redo = local.isna().to_numpy() & series.notna().to_numpy()
    if redo.any():
        again = series[redo].dt.tz_localize(tz, ambiguous=np.ones(int(redo.sum()), dtype=bool),
                                            nonexistent="shift_forward")
        local = local.where(~redo, again)
    return local


def _fixed_offset(series: pd.Series, tz: str) -> pd.Timedelta | None:
    """The zone's UTC offset when it is the same at every hour of the values' span, else None."""
    if len(series) < 10_000:
        return None  # small tables: the general path is fast enough
    first, last = series.min(), series.max()
    if pd.isna(first) or last - first > pd.Timedelta(days=366 * 30):
        return None
    # Clock changes are months apart: an hourly grid sees every one in the span.
    grid = pd.date_range(first.floor("h") - pd.Timedelta(hours=1), last.ceil("h") + pd.Timedelta(hours=1),
                         freq="h")
    local = grid.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if local.hasnans:
        return None
    offsets = (grid - local.tz_convert(None)).unique()
    return offsets[0] if len(offsets) == 1 else None


def parse_amounts(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse amounts as float64; returns the values and a mask of unreadable ones."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64"), np.zeros(len(series), dtype=bool)
    text = clean_text(series)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text.notna().to_numpy() & values.isna().to_numpy()
    return values, bad




