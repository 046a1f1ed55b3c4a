"""The validated dataset every KPI function takes (:class:`SalesData`), and its views as
known at a moment (:class:`Snapshot`).

The tables live in an engine (:class:`~salesnb.data.engine.Engine`): DuckDB in this
process for files and DataFrames, the database itself for a database source, Spark...
The KPI functions build their queries on :attr:`SalesData.opportunity_table` and
:attr:`SalesData.history_table` and compute there; only compact results come back.

Every KPI is evaluated with what was known at ``as_of``: ``data.at(as_of)`` returns
that view of the data as an explicit object. A dataset keeps its most recently used
snapshots so that the KPI functions of one window share the work; the bound is fixed
(see :data:`SNAPSHOTS_KEPT` and :data:`DERIVED_KEPT`), so moving ``as_of`` any number of
times (a widget, a replay) never grows memory beyond it.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._lru import BoundedCache
from salesnb.data import validation as V
from salesnb.data.engine import Engine
from salesnb.data.portable import count_true
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.exceptions import SalesnbError, SalesnbWarning, WindowError

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["DERIVED_KEPT", "SNAPSHOTS_KEPT", "SalesData", "Snapshot"]

#: How many snapshots (distinct ``as_of`` moments) a dataset keeps, least recently used
#: dropped first (with the temporary tables they hold in the engine). A report or a
#: notebook section uses one to four at a time.
SNAPSHOTS_KEPT = 8
#: How many derived tables one snapshot keeps (the rows of a window, the groups of a
#: column...), least recently used dropped first.
DERIVED_KEPT = 16

T = TypeVar("T")

SettingsLike = FunnelSettings | Mapping[str, Any] | str | Path | None

#: Canonical opportunity columns (before the extra ones).
_CANONICAL = frozenset(V.OPPORTUNITY_COLUMNS)
#: The optional columns of the canonical layout that metrics read (not "extra").
_OPTIONAL = (*V.OPTIONAL_TIME_COLUMNS, *V.OPTIONAL_NUMBER_COLUMNS, *V.OPTIONAL_EXTRA_TEXT)


@dataclass(frozen=True, eq=False)
class SalesData:
    """A validated dataset: opportunities, their stage history and the funnel settings.

    Build it with :func:`salesnb.load` (files, workbooks, databases) or
    :meth:`from_frames` (DataFrames); both validate and raise
    :class:`~salesnb.exceptions.DataSchemaError` listing every problem.

    Attributes
    ----------
    engine : Engine
        Where the tables are and where the numbers are computed.
    opportunity_table : ibis Table
        The opportunities in the engine: ``_row`` (position in the source, the key the
        history joins on), ``opportunity_id``, ``owner``, ``created_at`` and ``closed_at``
        (int64 microseconds since the epoch, UTC), ``status`` (open/won/lost), ``amount``
        (float64, NULL when empty), ``stage``, ``lost_reason``, ``team``, ``account``,
        ``product``, ``source``, ``currency``, then any extra columns.
    history_table : ibis Table
        The stage history in the engine: ``seq`` (source order, for ties), ``opp_key``
        (the opportunity's ``_row``), ``position`` (funnel position; -1 won, -2 lost),
        ``entered_at`` (microseconds, UTC), then any extra columns.
    settings : FunnelSettings
        Stage order, outcome labels, calendar, time zone, currency...
    source : str
        Where the data came from (a path or a masked database URL).
    has_history : bool
        Whether a stage history was supplied.
    notes : tuple of str
        Data-quality notes from loading (inferred settings, rows set aside by a mapping...).
    quality : mapping
        The machine-readable loading report (what ``salesnb validate --json`` prints): per
        table ``rows_read``, ``rows_loaded``, ``set_aside`` (reason → count), ``repaired``
        (rule → count), ``unmapped_values``, the detected ``encoding``; and
        ``stage_order_source``. Empty when the loader reports nothing beyond the notes.
    field_table : ibis Table or None
        The field history (what ``amount``, ``expected_close_at``, ``owner``,
        ``probability`` and ``forecast_category`` held from each ``changed_at`` on), or
        None: then those fields are taken as constant.
    targets : Targets or None
        The dataset's validated targets (:func:`salesnb.load_targets`; a folder's
        ``targets.csv``, a workbook's or database's ``targets``), or None.
    rates : DataFrame or None
        The exchange rates into the reporting currency (``settings.currency``):
        ``currency``, ``valid_from``, ``valid_to``, ``rate`` (see
        :func:`salesnb.load_rates`), or None. With rates and a ``currency`` column every
        amount the metrics read is converted (:attr:`Snapshot.table`).
    """

    engine: Engine
    opportunity_table: Any
    history_table: Any
    settings: FunnelSettings
    source: str = "DataFrame"
    has_history: bool = False
    notes: tuple[str, ...] = field(default=())
    quality: Mapping[str, Any] = field(default_factory=dict)
    #: The field history in the engine (``seq``, ``opp_key``, ``field``, ``changed_at``,
    #: ``value_text``, ``value_number``, ``value_time``), or None when the data has none.
    field_table: Any = None
    #: The validated targets (:class:`~salesnb.data.targets.Targets`), or None; kept by
    #: :meth:`subset` (a target names people the subset may leave out).
    targets: Any = None
    #: The exchange rates (``currency``, ``valid_from``, ``valid_to``, ``rate``), or None;
    #: kept by :meth:`subset`.
    rates: Any = None
    #: The most recently used snapshots, by ``as_of`` (at most :data:`SNAPSHOTS_KEPT`);
    #: never copied by ``dataclasses.replace``, so a subset starts with none.
    _snapshots: BoundedCache[int, Snapshot] = field(
        default_factory=lambda: BoundedCache(SNAPSHOTS_KEPT, on_evict=Snapshot.release),
        init=False, repr=False, compare=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_raw(cls, engine: Engine, opportunities: V.RawTable, history: V.RawTable | None,
                 settings: FunnelSettings | None, *, source: str, notes: Sequence[str] = (),
                 quality: Mapping[str, Any] | None = None,
                 field_history: V.RawTable | None = None,
                 rates: pd.DataFrame | None = None) -> SalesData:
        """Coerce and validate tables already in ``engine`` and build a dataset.

        Parameters
        ----------
        engine : Engine
            Where the raw tables are (and the clean ones are kept).
        opportunities, history : RawTable
            The tables as read (see :class:`~salesnb.data.validation.RawTable`); no
            history: None.
        settings : FunnelSettings
            The funnel settings (stage order inferred from the data when not given).
        source : str
            Where the data came from.
        notes : sequence of str, optional
            Notes of the reader (rows set aside by a mapping...).
        quality : mapping, optional
            The reader's loading report (see :attr:`quality`).
        field_history : RawTable, optional
            The field history as read (see :attr:`field_table`).
        rates : DataFrame, optional
            Exchange rates: a validated table (:func:`salesnb.load_rates`) or a raw
            ``currency, valid_from, rate`` table, validated here (see :attr:`rates`).

        Returns
        -------
        SalesData

        Raises
        ------
        DataSchemaError
            Listing every problem of the tables.
        """
        settings = settings or FunnelSettings.from_mapping({}, source="defaults")
        tz = settings.timezone
        opps = V.clean_opportunities(engine, opportunities, tz=tz)
        all_notes = list(notes)
        staged = V.stage_history(engine, history, tz=tz) if history is not None else None
        resolved = settings
        if not resolved.stages:
            order = V.infer_stage_order(engine, staged, opps, settings.won, settings.lost)
            resolved = resolved.with_stages(order, inferred=True)
            if order:
                warnings.warn(
                    f"funnel stage order inferred from the data: {' → '.join(order)}; "
                    "set 'stages' in funnel.yml to make it explicit", SalesnbWarning, stacklevel=3)
                all_notes.append(f"stage order inferred from the data: {' → '.join(order)} "
                                 "(set 'stages' in funnel.yml to fix it)")
            else:
                all_notes.append("no stages known: the dataset has no stage history and no stage column")
        else:
            V.check_stage_column(engine, opps, stages=resolved.stages, won=resolved.won,
                                 lost=resolved.lost, source=opportunities.source)
        V.check_pipelines(engine, opps, pipelines=resolved.pipelines, won=resolved.won, lost=resolved.lost,
                          source=opportunities.source)
        if staged is not None and history is not None:
            hist = V.clean_history(engine, history, staged, opps, stages=resolved.stages,
                                   won=resolved.won, lost=resolved.lost)
        else:
            hist = _empty_history(engine)
        fields = None
        if field_history is not None:
            fields = V.clean_field_history(engine, field_history, opps, tz=tz)
        else:
            all_notes.append("no field history: amounts, expected close dates and owners are taken "
                             "as constant (as they are now)") if _has_replayable(opps) else None
        clean_rates = coerce_rates(rates, resolved)
        for note in currency_notes(engine, opps, clean_rates, resolved.currency):
            if note not in all_notes:
                all_notes.append(note)
        return cls(engine, opps, hist, resolved, source, staged is not None, tuple(all_notes),
                   dict(quality or {}), fields, rates=clean_rates)

    @classmethod
    def from_frames(
        cls,
        opportunities: pd.DataFrame,
        history: pd.DataFrame | None = None,
        settings: SettingsLike = None,
        *,
        source: str = "DataFrame",
        history_source: str | None = None,
        opportunities_rows: V.RowLabel = V.position_labels,
        history_rows: V.RowLabel = V.position_labels,
        notes: tuple[str, ...] = (),
        quality: Mapping[str, Any] | None = None,
        engine: Engine | None = None,
        field_history: pd.DataFrame | None = None,
        field_history_source: str | None = None,
        field_history_rows: V.RowLabel = V.position_labels,
        rates: pd.DataFrame | None = None,
    ) -> SalesData:
        """Validate DataFrames in the canonical layout and build a dataset.

        Parameters
        ----------
        opportunities : DataFrame
            The opportunities table (see the canonical layout in the README).
        history : DataFrame, optional
            The stage history (``opportunity_id``, ``stage``, ``entered_at``).
        settings : mapping, path, FunnelSettings, optional
            Funnel settings (the ``funnel.yml`` keys); defaults where absent.
        source : str
            Name of the opportunities table in error messages.
        history_source : str, optional
            Name of the history table in error messages.
        opportunities_rows, history_rows : callable, optional
            Turn row positions into what the user sees (``line 7`` of a file...).
        notes : tuple of str, optional
            The reader's notes (rows set aside...).
        quality : mapping, optional
            The loading report of a reader or mapping (see :attr:`quality`).
        engine : Engine, optional
            Where to compute (default: a new in-process DuckDB).
        field_history : DataFrame, optional
            The field history (``opportunity_id``, ``field``, ``value``, ``changed_at``).
        field_history_source : str, optional
            Its name in error messages.
        field_history_rows : callable, optional
            Its row labels.
        rates : DataFrame, optional
            Exchange rates into the reporting currency (``funnel.yml`` ``currency``):
            ``currency, valid_from, rate`` as in ``rates.csv``, or the table
            :func:`salesnb.load_rates` returns (see :attr:`rates`).

        Returns
        -------
        SalesData

        Examples
        --------
        >>> import pandas as pd, salesnb as sn
        >>> opps = pd.DataFrame({"opportunity_id": ["a", "b"], "owner": ["Sara", "Ali"],
        ...                      "created_at": ["2025-01-05", "2025-01-06"],
        ...                      "status": ["won", "Open"], "closed_at": ["2025-02-01", ""]})
        >>> data = sn.SalesData.from_frames(opps)
        >>> data.opportunities["status"].tolist()
        ['won', 'open']
        """
        from salesnb.data.frames import frame_to_arrow

        resolved = coerce_settings(settings) or FunnelSettings.from_mapping({}, source="defaults")
        eng = engine or Engine.duckdb()
        raw_o = V.RawTable(eng.table_from_arrow(frame_to_arrow(opportunities, source), "opportunities_raw"),
                           source, opportunities_rows)
        require_rows(eng, raw_o)
        raw_h = None
        if history is not None:
            name = history_source or "stage_history"
            raw_h = V.RawTable(eng.table_from_arrow(frame_to_arrow(history, name), "stage_history_raw"),
                               name, history_rows)
        raw_f = None
        if field_history is not None:
            name = field_history_source or "field_history"
            raw_f = V.RawTable(eng.table_from_arrow(frame_to_arrow(field_history, name), "field_history_raw"),
                               name, field_history_rows)
        return cls.from_raw(eng, raw_o, raw_h, resolved, source=source, notes=notes, quality=quality,
                            field_history=raw_f, rates=rates)

    # ------------------------------------------------------------------ views
    def at(self, as_of: pd.Timestamp | str | dt.date) -> Snapshot:
        """Return the dataset as known at ``as_of``: a :class:`Snapshot`.

        Parameters
        ----------
        as_of : Timestamp, str or datetime.date
            The moment. Text and dates are read in the dataset's calendar and time zone;
            a naive Timestamp is local time in the dataset's time zone.

        Returns
        -------
        Snapshot
            The same object for the same moment while it is among the
            :data:`SNAPSHOTS_KEPT` most recently used.

        Examples
        --------
        >>> import salesnb as sn
        >>> data = sn.load(sn.sample_path())
        >>> snap = data.at("1404-01-01")
        >>> snap.as_of
        Timestamp('2025-03-21 00:00:00+0330', tz='Asia/Tehran')
        >>> int((snap.opportunities["status_asof"] == "open").sum())
        275
        """
        moment = periods.parse_date(as_of, calendar=self.settings.calendar, tz=self.settings.timezone)
        return self._snapshots.get(moment.value, lambda: Snapshot(self, moment))

    @property
    def opportunities(self) -> pd.DataFrame:
        """The opportunities as a pandas DataFrame, in source order (the whole table).

        For inspection and small data: the KPI functions never read it, they compute
        in the engine. Timestamps are timezone-aware in ``settings.timezone``; text is
        trimmed, blank text is missing; the canonical columns come first, then the
        extra ones as stored.
        """
        cached = self._memo.get("opportunities")
        if cached is None:
            from salesnb.data.frames import to_frame

            t = self.opportunity_table
            cols = [c for c in t.columns if not c.startswith("_")]
            cached = to_frame(self.engine.arrow(t.order_by("_row").select(*cols)), self.settings.timezone)
            self._memo["opportunities"] = cached
        return cached

    @property
    def stage_history(self) -> pd.DataFrame:
        """The stage history as a pandas DataFrame (the whole table; for inspection).

        ``opportunity_id``, ``stage``, ``entered_at``, ``seq`` (source order), ``opp_code``
        (row of the opportunity in :attr:`opportunities`), ``position`` (funnel position,
        -1 for won/lost rows), then any extra columns; sorted by opportunity and entry
        time, ties in source order. Empty when the dataset has no history.
        """
        cached = self._memo.get("stage_history")
        if cached is None:
            cached = self._history_frame(None)
            self._memo["stage_history"] = cached
        return cached

    @property
    def field_history(self) -> pd.DataFrame | None:
        """The field history as a pandas DataFrame (the whole table; for inspection), or None.

        ``opportunity_id``, ``field``, ``value`` (text as read: amounts and probabilities
        as numbers — a probability as a share —, expected close dates as timestamps in
        ``settings.timezone``, ISO 8601), ``changed_at`` (timezone-aware), in source order.
        Writing it out and loading it again gives the same replay.
        """
        if self.field_table is None:
            return None
        cached = self._memo.get("field_history")
        if cached is None:
            from salesnb.data.frames import to_frame

            f, o = self.field_table, self.opportunity_table
            keys = o.select(_key=o._row, opportunity_id=o.opportunity_id)
            j = f.join(keys, f.opp_key == keys._key)
            t = j.order_by("seq").select("opportunity_id", "field", "value_text", "value_number", "value_time",
                                         "changed_at")
            frame = to_frame(self.engine.arrow(t), self.settings.timezone, instants=("changed_at", "value_time"))
            number = frame["value_number"].map(lambda v: None if pd.isna(v) else f"{v:.15g}")
            time = frame["value_time"].map(lambda v: None if pd.isna(v) else v.isoformat())
            value = frame["value_text"].astype(object).where(frame["value_text"].notna(), number)
            value = value.where(value.notna(), time)
            cached = pd.DataFrame({"opportunity_id": frame["opportunity_id"], "field": frame["field"],
                                   "value": value.astype("str").where(value.notna(), None),
                                   "changed_at": frame["changed_at"]})
            self._memo["field_history"] = cached
        return cached  # type: ignore[no-any-return]

    def _history_frame(self, as_of_us: int | None) -> pd.DataFrame:
        import ibis

        from salesnb.data.frames import to_frame

        h, o = self.history_table, self.opportunity_table
        if as_of_us is not None:
            h = h.filter(h.entered_at <= as_of_us)
        s = self.settings
        labels = ibis.cases(*[(h.position == i, st) for i, st in enumerate(s.stages)],
                            (h.position == V.WON_CODE, s.won), (h.position == V.LOST_CODE, s.lost),
                            else_=ibis.null("string")) if len(h.columns) else None
        keys = o.select(_k=o._row, opportunity_id=o.opportunity_id)
        j = h.join(keys, h.opp_key == keys._k)
        extras = [c for c in h.columns if not c.startswith("_") and c not in ("seq", "opp_key", "position", "entered_at")]
        q = j.select("opportunity_id", stage=labels, entered_at=j.entered_at, seq=j.seq,
                     _k=j.opp_key, position=j.position, **{c: j[c] for c in extras})
        frame = to_frame(self.engine.arrow(q.order_by(["_k", "entered_at", "seq"])), s.timezone)
        # opp_code: the row of the opportunity in `opportunities` (source order).
        rows = self.engine.arrow(o.select("_row").order_by("_row")).column("_row").to_numpy()
        codes = np.searchsorted(rows, frame["_k"].to_numpy(dtype="int64")) if len(frame) else \
            np.array([], dtype="int64")
        out = pd.DataFrame({
            "opportunity_id": frame["opportunity_id"].astype("str"),
            "stage": frame["stage"].astype("str"),
            "entered_at": frame["entered_at"],
            "seq": frame["seq"].astype("int32"),
            "opp_code": pd.Series(codes, dtype="int32"),
            "position": frame["position"].clip(lower=-1).astype("int16"),
        })
        for c in extras:
            out[c] = frame[c]
        if out.empty:
            created = self.opportunities["created_at"].dtype
            out["entered_at"] = pd.Series(dtype=created)
        return out

    @functools.cached_property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last event time in the data (creation, closing or stage entry)."""
        import pyarrow as pa

        from salesnb.data.frames import micros_to_times

        o, h = self.opportunity_table, self.history_table
        row = self.engine.one(o.aggregate(a=o.created_at.min(), b=o.created_at.max(), c=o.closed_at.max()))
        times = [row.get("a"), row.get("b"), row.get("c")]
        if self.has_history:
            times.append(self.engine.one(h.aggregate(d=h.entered_at.max())).get("d"))
        valid = [t for t in times if t is not None]
        if not valid:
            raise SalesnbError("the dataset holds no opportunity")
        stamps = micros_to_times(pa.array([min(valid), max(valid)], pa.int64()), self.settings.timezone)
        return stamps.iloc[0], stamps.iloc[1]

    @property
    def owners(self) -> list[str]:
        """Salespeople in the data, sorted."""
        return self.values("owner")

    def values(self, column: str) -> list[str]:
        """Return the distinct non-empty values of an opportunities column, as text, sorted.

        Sorted in Python (code point order), the same whatever the engine's collation.

        Parameters
        ----------
        column : str
            A column of the opportunities (``owner``, ``team``, ``pipeline``...).

        Returns
        -------
        list of str

        Examples
        --------
        >>> import salesnb as sn
        >>> sn.load(sn.sample_path()).values("team")
        ['Enterprise', 'Isfahan', 'Tehran']
        """
        key = f"values:{column}"
        cached = self._memo.get(key)
        if cached is None:
            t = self.opportunity_table
            public = [c for c in t.columns if not c.startswith("_")]
            if column not in public:
                from salesnb.exceptions import OptionError

                raise OptionError("column", column, public)
            col = t[column] if t[column].type().is_string() else t[column].cast("string")
            found = self.engine.arrow(t.select(_v=col).filter(col.notnull()).distinct())
            cached = sorted(str(v) for v in found.column("_v").to_pylist())
            self._memo[key] = cached
        return list(cached)

    @property
    def converts(self) -> bool:
        """Whether amounts are converted into the reporting currency (rates and a ``currency`` column)."""
        return self.rates is not None and "currency" in self.opportunity_table.columns

    @property
    def rate_table(self) -> ir.Table:
        """The rates in the engine as intervals (see :func:`rate_intervals`); computed once."""
        cached = self._memo.get("rate_table")
        if cached is None:
            cached = self.engine.table_from_arrow(rate_intervals(self.rates, self.settings.currency), "rates")
            self._memo["rate_table"] = cached
        return cached

    def currencies(self) -> list[str]:
        """Return the deals' currency codes (upper case, sorted); empty without a ``currency`` column."""
        if "currency" not in self.opportunity_table.columns:
            return []
        key = "currencies"
        cached = self._memo.get(key)
        if cached is None:
            t = self.opportunity_table
            kept = t.filter(t.currency.notnull())
            found = self.engine.arrow(kept.select(_v=kept.currency.upper()).distinct())
            cached = sorted(str(v) for v in found.column("_v").to_pylist())
            self._memo[key] = cached
        return list(cached)

    def subset(self, *, owners: Sequence[str] | None = None, teams: Sequence[str] | None = None,
               pipelines: Sequence[str] | None = None) -> SalesData:
        """Return the dataset restricted to some salespeople, teams and/or pipelines.

        Empty or None selections keep everybody. The stage history follows its
        opportunities; the settings are unchanged. Unknown names are an error (a typo
        must not silently give an empty report). The subset is a filter in the engine
        (nothing is copied).

        Examples
        --------
        >>> import salesnb as sn
        >>> data = sn.load(sn.sample_path())
        >>> data.subset(teams=["Tehran"]).values("team")
        ['Tehran']
        """
        o = self.opportunity_table
        keep = None
        for column, wanted in (("owner", owners), ("team", teams), ("pipeline", pipelines)):
            if not wanted:
                continue
            if column not in o.columns:
                raise WindowError(f"the data has no {column} column, so `{column}s` cannot be chosen",
                                  fix=f"leave `{column}s` empty")
            known = set(self.values(column))
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise WindowError(
                    f"unknown {column} value(s) {unknown} in `{column}s`",
                    fix=f"choose among: {', '.join(sorted(known)) or '(none in the data)'}",
                )
            cond = o[column].isin(list(wanted))
            keep = cond if keep is None else keep & cond
        if keep is None:
            return self
        sub = o.filter(keep)
        h = self.history_table
        return replace(self, opportunity_table=sub, history_table=h.filter(h.opp_key.isin(sub._row)))

    # ------------------------------------------------------------------ summaries
    def summary(self) -> dict[str, Any]:
        """Return counts that describe the dataset (rows, span, owners, statuses, stages)."""
        o, h = self.opportunity_table, self.history_table
        row = self.engine.one(o.aggregate(
            n=o.count(), open=count_true(o.status == "open"), won=count_true(o.status == "won"),
            lost=count_true(o.status == "lost"), no_amount=count_true(o.amount.isnull()),
            teams=o.team.nunique()))
        hrow = self.engine.one(h.aggregate(n=h.count(), opps=h.opp_key.nunique()))
        first, last = self.span
        return {
            "source": self.source,
            "opportunities": int(row["n"]),
            "history_rows": int(hrow.get("n") or 0),
            "with_history": int(hrow.get("opps") or 0),
            "first_event": first,
            "last_event": last,
            "owners": len(self.owners),
            "teams": int(row["teams"] or 0),
            "status": {s: int(row[s] or 0) for s in ("open", "won", "lost")},
            "without_amount": int(row["no_amount"] or 0),
            "stages": list(self.settings.stages),
            "stages_inferred": self.settings.stages_inferred,
            "optional_columns": [c for c in _OPTIONAL if c in o.columns],
            "extra_columns": [c for c in o.columns if not c.startswith("_") and c not in _CANONICAL
                              and c not in _OPTIONAL],
            "field_history": self._field_counts(),
        }

    def _field_counts(self) -> dict[str, int] | None:
        """Rows of the field history per field (None without one)."""
        f = self.field_table
        if f is None:
            return None
        rows = self.engine.rows(f.group_by("field").aggregate(n=f.count()).order_by("field"))
        return {str(r["field"]): int(r["n"]) for r in rows}

    def describe(self) -> str:
        """Describe the dataset in plain lines: rows, span, people, statuses, settings, notes."""
        s = self.summary()
        first, last = s["first_event"], s["last_event"]
        st = s["status"]
        lines = [
            f"source: {s['source']}",
            f"engine: {self.engine.label or self.engine.kind}",
            f"opportunities: {s['opportunities']:,} (open {st['open']:,}, won {st['won']:,}, "
            f"lost {st['lost']:,}); without amount: {s['without_amount']:,}",
            f"stage history: {s['history_rows']:,} rows for {s['with_history']:,} opportunities"
            if self.has_history else "stage history: none supplied",
            f"events from {first.isoformat()} to {last.isoformat()}",
            f"salespeople: {s['owners']} ({', '.join(self.owners[:12])}"
            f"{' …' if s['owners'] > 12 else ''}); teams: {s['teams']}",
        ]
        if s["field_history"] is not None:
            per = ", ".join(f"{k} {v:,}" for k, v in s["field_history"].items())
            lines.append(f"field history: {sum(s['field_history'].values()):,} changes ({per or 'none'})")
        if s["optional_columns"]:
            lines.append(f"optional columns: {', '.join(s['optional_columns'])}")
        if s["extra_columns"]:
            lines.append(f"extra columns kept: {', '.join(map(str, s['extra_columns']))}")
        lines.append("settings:")
        lines.extend(f"  {line}" for line in self.settings.describe())
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"SalesData({s['opportunities']} opportunities, {s['history_rows']} history rows, "
                f"{s['owners']} owners, source={self.source!r})")


def _has_replayable(opps: Any) -> bool:
    """Whether the opportunities have a column a field history would replay beyond the
    always-present ``amount`` and ``owner`` (an expected close date, a CRM probability...)."""
    return any(c in opps.columns for c in ("expected_close_at", "probability", "forecast_category"))


def coerce_rates(rates: pd.DataFrame | None, settings: FunnelSettings) -> pd.DataFrame | None:
    """Return exchange rates as the validated table (``currency``, ``valid_from``,
    ``valid_to``, ``rate``), validating a raw ``currency, valid_from, rate`` table; None
    stays None."""
    if rates is None:
        return None
    from salesnb.data.rates import RATE_COLUMNS, clean_rates

    if not isinstance(rates, pd.DataFrame):
        from salesnb.exceptions import OptionError

        raise OptionError("rates", type(rates).__name__, ["a DataFrame (currency, valid_from, rate)", "None"])
    if list(rates.columns) == list(RATE_COLUMNS) and isinstance(rates["valid_from"].dtype, pd.DatetimeTZDtype):
        return rates.reset_index(drop=True)
    return clean_rates(rates, source="rates", tz=settings.timezone, reporting=settings.currency)


def currency_notes(engine: Engine, opps: Any, rates: pd.DataFrame | None, reporting: str | None) -> list[str]:
    """The notes on the deals' currencies: several without rates, currencies without a
    rate, deals closed before their currency's first rate (see :func:`~salesnb.data.rates.check_rates`)."""
    if "currency" not in opps.columns:
        return [] if rates is None else [
            "exchange rates were given but the deals have no currency column: amounts are taken as they are "
            f"(in {reporting or 'the reporting currency'}), not converted"]
    from salesnb.data.frames import to_frame
    from salesnb.data.rates import check_rates

    distinct = engine.one(opps.aggregate(n=opps.currency.upper().nunique())).get("n") or 0
    if rates is None and int(distinct) <= 1:
        return []
    frame = to_frame(engine.arrow(opps.select("currency", "closed_at")), "UTC")
    return check_rates(frame, rates, reporting).notes


def rate_intervals(rates: pd.DataFrame, reporting: str | None) -> Any:
    """The rates as an Arrow table of intervals: ``_cur`` (upper case), ``_from`` and
    ``_to`` (microseconds, UTC; open ends as far-away instants), ``_rate``. The reporting
    currency has the rate 1 since always unless the table lists it."""
    import pyarrow as pa

    far = 2 ** 62
    cur = [str(c).upper() for c in rates["currency"]]
    frm = [-far if pd.isna(t) else int(t.value) // 1000 for t in rates["valid_from"]]
    to = [far if pd.isna(t) else int(t.value) // 1000 for t in rates["valid_to"]]
    rate = [float(r) for r in rates["rate"]]
    if reporting and reporting.upper() not in set(cur):
        cur.append(reporting.upper())
        frm.append(-far)
        to.append(far)
        rate.append(1.0)
    return pa.table({"_cur": pa.array(cur, pa.string()), "_from": pa.array(frm, pa.int64()),
                     "_to": pa.array(to, pa.int64()), "_rate": pa.array(rate, pa.float64())})


def require_rows(engine: Engine, raw: V.RawTable) -> None:
    """Raise when the opportunities table misses a required column or has no rows."""
    from salesnb.exceptions import DataSchemaError

    present = raw.columns
    missing = [c for c in V.REQUIRED_COLUMNS if c not in present]
    if missing:
        raise DataSchemaError(problems=[V.missing_column(c, present, raw.source) for c in missing])
    if not engine.one(raw.table.aggregate(n=raw.table.count())).get("n"):
        raise DataSchemaError(
            "has no rows", source=raw.source,
            fix="export the opportunities with at least one row (the header alone is not a dataset)")


def _empty_history(engine: Engine) -> ir.Table:
    import pyarrow as pa

    empty = pa.table({"seq": pa.array([], pa.int64()), "opp_key": pa.array([], pa.int64()),
                      "position": pa.array([], pa.int16()), "entered_at": pa.array([], pa.int64())})
    return engine.table_from_arrow(empty, "stage_history_empty")


class Snapshot:
    """A dataset as known at one moment, ``as_of``: what had happened by then, nothing after.

    Build it with :meth:`SalesData.at`. Opportunities created after ``as_of`` did not
    exist yet; a closing after ``as_of`` has not happened (the deal is still open); a
    stage entry after ``as_of`` has not happened either.

    The engine view is what the KPI functions use: the predicates :meth:`exists`,
    :meth:`closed_known`, :meth:`is_open`, :meth:`status` and :meth:`closed` over the
    opportunities table (flat expressions: queries stay shallow), :attr:`known` and
    :attr:`entries` (the tables as known then), and :meth:`visits`, :meth:`deepest`,
    :meth:`current`. The pandas view (:attr:`opportunities`, :attr:`history`) is for
    inspection. At most :data:`DERIVED_KEPT` derived results are kept with the
    snapshot (:meth:`derived`), and its temporary tables go when it goes.

    Attributes
    ----------
    data : SalesData
        The whole dataset.
    as_of : Timestamp
        The moment, timezone-aware in the dataset's time zone.
    us : int
        The moment in microseconds since the epoch (UTC), as the engine compares it.
    """

    def __init__(self, data: SalesData, as_of: pd.Timestamp):
        if as_of.tz is None:
            raise SalesnbError("a snapshot needs a timezone-aware as_of (use SalesData.at)")
        self.data = data
        self.as_of = as_of
        self.us = int(as_of.value) // 1000
        self._derived: BoundedCache[Any, Any] = BoundedCache(DERIVED_KEPT)
        self._visits: Any = None
        self._replayed: Any = None
        self._pandas: dict[str, pd.DataFrame] = {}

    def __repr__(self) -> str:
        return f"Snapshot(as_of={self.as_of.isoformat()}, source={self.data.source!r})"

    # ------------------------------------------------------------------ replayed fields
    @property
    def table(self) -> ir.Table:
        """The opportunities with their fields as known at ``as_of``.

        Without a field history this is ``data.opportunity_table``. With one, ``amount``,
        ``expected_close_at``, ``owner``, ``probability`` and ``forecast_category`` hold
        their value at ``as_of``: the latest change made by then (a change after
        ``as_of`` has not happened); before a deal's first recorded change of a field,
        that first change's value (the best known). Computed once per snapshot.
        """
        fields = self.data.field_table
        converting = self.data.converts
        if fields is None and not converting:
            return self.data.opportunity_table
        if self._replayed is None:
            table = self.data.opportunity_table if fields is None else self._replay(fields)
            if converting:
                table = self._convert(table)
            self._replayed = self.data.engine.materialize(table, "replayed")
        return self._replayed

    def _convert(self, o: ir.Table) -> ir.Table:
        """``o`` with ``amount`` in the reporting currency: a won or lost deal closed by
        ``as_of`` at the rate holding at its ``closed_at``, any other at the rate holding
        at ``as_of`` (the latest ``valid_from`` at or before that moment). Without such a
        rate (or without a currency) the amount is missing and ``_no_rate`` is true."""
        import ibis

        r = self.data.rate_table
        moment = ibis.ifelse(self.closed_known(o) & o.status.isin(["won", "lost"]), o.closed_at, self.us)
        t = o.mutate(_moment=moment, _c=o.currency.upper())
        j = t.left_join(r, [t._c == r._cur, t._moment >= r._from, t._moment < r._to])
        return j.select(*[c for c in o.columns if c != "amount"], amount=j.amount * j._rate,
                        _no_rate=j.amount.notnull() & j._rate.isnull(),
                        _amount_original=j.amount).select(*o.columns, "_no_rate", "_amount_original")

    def field_values(self, name: str) -> ir.Table:
        """Per opportunity with changes of field ``name``: ``opp_key`` and ``value`` at ``as_of``
        (``value_text``, ``value_number`` or ``value_time`` by the field's kind)."""
        import ibis

        f = self.data.field_table
        kind = V.REPLAYED_FIELDS[name]
        column = {"text": "value_text", "number": "value_number", "time": "value_time"}[kind]
        rows = f.filter(f.field == name)
        known = rows.changed_at <= self.us
        # Latest change by as_of; else (only later changes) the earliest one.
        w = ibis.window(group_by=rows.opp_key,
                        order_by=[ibis.desc(ibis.ifelse(known, 1, 0)),
                                  ibis.desc(ibis.ifelse(known, rows.changed_at, -rows.changed_at)),
                                  ibis.desc(ibis.ifelse(known, rows.seq, -rows.seq))])
        ranked = rows.mutate(_rank=ibis.row_number().over(w))
        return ranked.filter(ranked._rank == 0).select("opp_key", value=ranked[column])

    def _replay(self, fields: ir.Table) -> ir.Table:
        import ibis

        o = self.data.opportunity_table
        present = {r["field"] for r in self.data.engine.rows(fields.select("field").distinct())}
        out = o
        for name in V.REPLAYED_FIELDS:
            if name not in present or name not in o.columns:
                continue
            values = self.field_values(name)
            values = values.select(_fk=values.opp_key, _v=values.value)
            out = out.left_join(values, out._row == values._fk)
            # A recorded change wins (an empty value: the field was cleared), except for
            # the owner, which a deal always has.
            if name == "owner":
                value = ibis.coalesce(out._v, out[name])
            else:
                value = ibis.ifelse(out._fk.notnull(), out._v, out[name])
            out = out.mutate(**{name: value}).drop("_fk", "_v")
        return out.select(*o.columns)

    # ------------------------------------------------------------------ predicates
    def exists(self, o: ir.Table) -> ir.BooleanValue:
        """Created by ``as_of``."""
        return o.created_at <= self.us

    def closed_known(self, o: ir.Table) -> ir.BooleanValue:
        """Closed by ``as_of`` (so ``status`` is its status then)."""
        return o.closed_at.notnull() & (o.closed_at <= self.us)

    def is_open(self, o: ir.Table) -> ir.BooleanValue:
        """Open at ``as_of``: created by then and not closed by then."""
        return (o.created_at <= self.us) & ~self.closed_known(o)

    def status(self, o: ir.Table) -> ir.StringValue:
        """The status known at ``as_of`` (``open`` while the closing is after it)."""
        import ibis

        return ibis.ifelse(self.closed_known(o), o.status, "open")

    def closed(self, o: ir.Table) -> ir.IntegerValue:
        """The closing time known at ``as_of`` (NULL while open)."""
        import ibis

        return ibis.ifelse(self.closed_known(o), o.closed_at, ibis.null("int64"))

    # ------------------------------------------------------------------ engine tables
    @property
    def known(self) -> ir.Table:
        """The opportunities that existed at ``as_of``, with ``status_asof`` and ``closed_asof``."""
        o = self.data.opportunity_table
        t = o.filter(self.exists(o))
        return t.mutate(status_asof=self.status(t), closed_asof=self.closed(t))

    @property
    def entries(self) -> ir.Table:
        """The stage entries made by ``as_of``."""
        h = self.data.history_table
        return h.filter(h.entered_at <= self.us)

    def visits(self, cohort: ir.Table | None = None) -> ir.Table:
        """One row per visit of an open stage, known at ``as_of``.

        A visit lasts until the next entry of the same opportunity (ties in time keep the
        source order; a won/lost row counts), or, for the last one, until the deal was
        closed by ``as_of``; with no end by ``as_of`` it is censored (a visit ending
        exactly at ``as_of`` is complete). ``cohort`` (a table with ``opp_key``) restricts
        the visits to some opportunities; without it every visit is computed once and
        kept (a temporary table) with the snapshot.

        Returns
        -------
        ibis Table
            ``opp_key``, ``position``, ``entered_at``, ``seq``, ``left_at`` (NULL:
            censored), ``next_code`` (what came next: a stage position, ``k`` won,
            ``k + 1`` lost, ``k`` the number of open stages; NULL when censored),
            ``censored``, ``duration`` (microseconds, to ``as_of`` when censored).
        """
        if cohort is None and self._visits is not None:
            return self._visits
        import ibis

        k = len(self.data.settings.stages)
        h = self.entries
        if cohort is not None:
            h = h.filter(h.opp_key.isin(cohort.opp_key))
        w = ibis.window(group_by=h.opp_key, order_by=[h.entered_at, h.seq])
        h = h.mutate(_next_at=h.entered_at.lead().over(w), _next_pos=h.position.lead().over(w))
        o = self.data.opportunity_table
        ends = o.select(_k=o._row, _closed=self.closed(o), _status=self.status(o))
        v = h.filter(h.position >= 0).join(ends, h.opp_key == ends._k)
        left = ibis.coalesce(v._next_at, v._closed)
        by_entry = ibis.cases((v._next_pos == V.WON_CODE, k), (v._next_pos == V.LOST_CODE, k + 1),
                              else_=v._next_pos.cast("int64"))
        by_close = ibis.cases((v._status == "won", k), (v._status == "lost", k + 1),
                              else_=ibis.null("int64"))
        out = v.select(
            opp_key=v.opp_key, position=v.position.cast("int64"), entered_at=v.entered_at, seq=v.seq,
            left_at=left,
            next_code=ibis.ifelse(v._next_at.notnull(), by_entry,
                                  ibis.ifelse(v._closed.notnull(), by_close, ibis.null("int64"))),
            censored=left.isnull(),
            duration=ibis.coalesce(left, self.us) - v.entered_at,
        )
        if cohort is not None:
            return out
        self._visits = self.data.engine.materialize(out, "visits")
        return self._visits

    def deepest(self) -> ir.Table:
        """Per opportunity with open-stage entries by ``as_of``: ``opp_key``, ``deepest``
        (the furthest open stage in funnel order)."""
        h = self.entries
        h = h.filter(h.position >= 0)
        return h.group_by("opp_key").aggregate(deepest=h.position.max().cast("int64"))

    def current(self) -> ir.Table:
        """Per opportunity with open-stage entries: its last open-stage entry by ``as_of``.

        Columns ``opp_key``, ``position``, ``entered_at`` (ties in time: the later in
        source order).
        """
        import ibis

        h = self.entries
        h = h.filter(h.position >= 0)
        w = ibis.window(group_by=h.opp_key, order_by=[ibis.desc(h.entered_at), ibis.desc(h.seq)])
        ranked = h.mutate(_rank=ibis.row_number().over(w))
        return ranked.filter(ranked._rank == 0).select("opp_key", position=ranked.position.cast("int64"),
                                                       entered_at=ranked.entered_at)

    # ------------------------------------------------------------------ pandas view
    @property
    def opportunities(self) -> pd.DataFrame:
        """The opportunities that existed at ``as_of``, with ``status_asof`` and ``closed_asof``.

        A pandas DataFrame of the whole table as known then (for inspection; the KPI
        functions compute in the engine). The index is the row of each opportunity in
        ``data.opportunities`` (the ``opp_code`` of the stage history). A shallow copy:
        callers may add columns.
        """
        cached = self._pandas.get("opportunities")
        if cached is None:
            full = self.data.opportunities
            created = full["created_at"]
            existed = (created <= self.as_of).to_numpy()
            opps = full.copy(deep=False) if existed.all() else full[existed]
            closed_known = (opps["closed_at"] <= self.as_of).fillna(False).to_numpy(dtype=bool)
            opps = opps.assign(status_asof=opps["status"].where(closed_known, "open"),
                               closed_asof=opps["closed_at"].where(closed_known))
            self._pandas["opportunities"] = cached = opps
        return cached.copy(deep=False)

    @property
    def history(self) -> pd.DataFrame:
        """The stage-history entries entered at or before ``as_of`` (pandas; sorted, with ``seq``)."""
        cached = self._pandas.get("history")
        if cached is None:
            hist = self.data.stage_history
            entered = (hist["entered_at"] <= self.as_of).to_numpy()
            self._pandas["history"] = cached = hist if entered.all() else hist[entered]
        return cached

    # ------------------------------------------------------------------ memo
    def derived(self, key: Any, compute: Callable[[], T]) -> T:
        """Return the derived result ``key`` of this snapshot, computing it on first use.

        The KPI functions keep what they build from a snapshot here (one of at most
        :data:`DERIVED_KEPT`), so the functions of one window share it.
        """
        return self._derived.get(key, compute)  # type: ignore[no-any-return]

    def kept(self, key: Any) -> Any:
        """Return the derived result ``key`` when this snapshot holds it, else None (never computes)."""
        return self._derived.peek(key)

    def keep(self, key: Any, value: T) -> T:
        """Keep ``value`` as the derived result ``key`` (replacing what was kept) and return it."""
        self._derived.put(key, value)
        return value

    def release(self) -> None:
        """Drop what this snapshot holds in the engine (its visits table) and its memo."""
        for held in (self._visits, self._replayed):
            if held is not None:
                self.data.engine.drop(held)
        self._visits = self._replayed = None
        self._pandas.clear()
