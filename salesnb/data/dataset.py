"""The validated dataset every KPI function takes (:class:`SalesData`), and its views as
known at a moment (:class:`Snapshot`).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._arrays import id_codes, index_dtype
from salesnb._lru import BoundedCache
from salesnb._memory import release_memory
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.data.validation import (
    HISTORY_COLUMNS,
    RowLabel,
    check_stage_column,
    clean_history,
    clean_opportunities,
    infer_stage_order,
    position_labels,
)
from salesnb.exceptions import SalesnbError, SalesnbWarning

__all__ = ["DERIVED_KEPT", "SNAPSHOTS_KEPT", "SalesData", "Snapshot"]

#: How many snapshots (distinct ``as_of`` moments) a dataset keeps, least recently used
#: dropped first. A report or a notebook section uses one to four at a time.
SNAPSHOTS_KEPT = 8
#: How many derived tables one snapshot keeps (stage visits, last open entries, the
#: rows of a window, the groups of a column...), least recently used dropped first.
DERIVED_KEPT = 16

T = TypeVar("T")

SettingsLike = FunnelSettings | Mapping[str, Any] | str | Path | None


@dataclass(frozen=True, eq=False)
class SalesData:
    """A validated dataset: opportunities, their stage history and the funnel settings.

    Build it with :func:`salesnb.load` (files, workbooks, databases) or
    :meth:`from_frames` (DataFrames); both validate and raise
    :class:`~salesnb.exceptions.DataSchemaError` listing every problem.

    Attributes
    ----------
    opportunities : DataFrame
        One row per opportunity: ``opportunity_id``, ``owner``, ``created_at``,
        ``status`` (open/won/lost), ``closed_at``, ``amount`` (float, NaN when empty),
        ``stage``, ``lost_reason``, ``team``, ``account``, ``product``, ``source``,
        ``currency``, then any extra columns. Timestamps are timezone-aware in
        ``settings.timezone``; text is trimmed, blank text is missing.
    stage_history : DataFrame
        ``opportunity_id``, ``stage``, ``entered_at``, ``seq`` (source order, for ties;
        int32), ``opp_code`` (row of the opportunity in ``opportunities``; int32),
        ``position`` (funnel position of the stage, -1 for won/lost rows; int16); sorted
        by opportunity and entry
        time, ties in source order. Empty when the dataset has no history.
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
    """

    opportunities: pd.DataFrame
    stage_history: pd.DataFrame
    settings: FunnelSettings
    source: str = "DataFrame"
    has_history: bool = False
    notes: tuple[str, ...] = field(default=())
    quality: Mapping[str, Any] = field(default_factory=dict)
    #: The most recently used snapshots, by ``as_of`` (at most :data:`SNAPSHOTS_KEPT`);
    #: never copied by ``dataclasses.replace``, so a subset starts with none.
    _snapshots: BoundedCache[int, Snapshot] = field(
        default_factory=lambda: BoundedCache(SNAPSHOTS_KEPT), init=False, repr=False, compare=False)

    @classmethod
    def from_frames(
        cls,
        opportunities: pd.DataFrame,
        history: pd.DataFrame | None = None,
        settings: SettingsLike = None,
        *,
        source: str = "DataFrame",
        history_source: str | None = None,
        opportunities_rows: RowLabel = position_labels,
        history_rows: RowLabel = position_labels,
        notes: tuple[str, ...] = (),
        quality: Mapping[str, Any] | None = None,
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
        quality : mapping, optional
            The loading report of a reader or mapping (see :attr:`quality`).

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
        resolved = coerce_settings(settings) or FunnelSettings.from_mapping({}, source="defaults")
        opps = clean_opportunities(opportunities, source=source, tz=resolved.timezone,
                                   row_label=opportunities_rows)
        all_notes = list(notes)
        if history is not None:
            release_memory()  # what validating the opportunities freed, before the larger table
            hist = clean_history(history, opps, resolved, source=history_source or "stage_history",
                                 row_label=history_rows)
        else:
            hist = pd.DataFrame({
                "opportunity_id": pd.Series(dtype="str"),
                "stage": pd.Series(dtype="str"),
                "entered_at": pd.Series(dtype=opps["created_at"].dtype),
                "seq": pd.Series(dtype="int32"),
                "opp_code": pd.Series(dtype="int32"),
            })
        if not resolved.stages:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SalesnbWarning)
                order = infer_stage_order(hist, opps, resolved)
            resolved = resolved.with_stages(order, inferred=True)
            if order:
                all_notes.append(
                    f"stage order inferred from the data: {' → '.join(order)} "
                    "(set 'stages' in funnel.yml to fix it)"
                )
            else:
                all_notes.append("no stages known: the dataset has no stage history and no stage column")
        check_stage_column(opps, resolved, source=source)
        hist = _index_history(hist, opps, resolved, codes_valid=history is not None)
        return cls(opps, hist, resolved, source, history is not None, tuple(all_notes),
                   dict(quality or {}))

    def subset(self, *, owners: list[str] | tuple[str, ...] | None = None,
               teams: list[str] | tuple[str, ...] | None = None) -> SalesData:
        """Return the dataset restricted to some salespeople and/or teams.

        Empty or None selections keep everybody. The stage history follows its
        opportunities; the settings are unchanged. Unknown names are an error (a typo
        must not silently give an empty report).

        Examples
        --------
        >>> import salesnb as sn
        >>> data = sn.load(sn.sample_path())
        >>> data.subset(teams=["Tehran"]).opportunities["team"].unique().tolist()
        ['Tehran']
        """
        from salesnb.exceptions import WindowError

        opps = self.opportunities
        keep = pd.Series(True, index=opps.index)
        for column, wanted in (("owner", owners), ("team", teams)):
            if not wanted:
                continue
            known = set(opps[column].dropna())
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise WindowError(
                    f"unknown {column} value(s) {unknown}",
                    fix=f"choose among: {', '.join(sorted(known)) or '(none in the data)'}",
                )
            keep &= opps[column].isin(list(wanted))
        if keep.all():
            return self
        sub = opps[keep].reset_index(drop=True)
        hist = self.stage_history[keep.to_numpy()[self.stage_history["opp_code"].to_numpy()]]
        hist = _index_history(hist.reset_index(drop=True), sub, self.settings)
        return replace(self, opportunities=sub, stage_history=hist)

    # ------------------------------------------------------------------ summaries
    @property
    def owners(self) -> list[str]:
        """Salespeople in the data, sorted."""
        return self.values("owner")

    def values(self, column: str) -> list[str]:
        """Return the distinct non-empty values of an opportunities column, as text, sorted.

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
        opps = self.opportunities
        if column not in opps.columns:
            from salesnb.exceptions import OptionError

            raise OptionError("column", column, [str(c) for c in opps.columns])
        values = opps[column].dropna()
        return sorted({str(v) for v in values.unique().tolist()})


    @functools.cached_property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last event time in the data (creation, closing or stage entry)."""
        opps = self.opportunities
        times = [opps["created_at"].min(), opps["closed_at"].max(), opps["created_at"].max()]
        if len(self.stage_history):
            times.append(self.stage_history["entered_at"].max())
        valid = [t for t in times if pd.notna(t)]
        return min(valid), max(valid)

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

    def summary(self) -> dict[str, Any]:
        """Return counts that describe the dataset (rows, span, owners, statuses, stages)."""
        opps = self.opportunities
        first, last = self.span
        return {
            "source": self.source,
            "opportunities": len(opps),
            "history_rows": len(self.stage_history),
            "with_history": int(opps["opportunity_id"].isin(self.stage_history["opportunity_id"]).sum()),
            "first_event": first,
            "last_event": last,
            "owners": len(self.owners),
            "teams": int(opps["team"].nunique()),
            "status": {s: int((opps["status"] == s).sum()) for s in ("open", "won", "lost")},
            "without_amount": int(opps["amount"].isna().sum()),
            "stages": list(self.settings.stages),
            "stages_inferred": self.settings.stages_inferred,
            "extra_columns": [c for c in opps.columns if c not in _CANONICAL],
        }

    def describe(self) -> str:
        """Describe the dataset in plain lines: rows, span, people, statuses, settings, notes."""
        s = self.summary()
        first, last = s["first_event"], s["last_event"]
        st = s["status"]
        lines = [
            f"source: {s['source']}",
            f"opportunities: {s['opportunities']:,} (open {st['open']:,}, won {st['won']:,}, "
            f"lost {st['lost']:,}); without amount: {s['without_amount']:,}",
            f"stage history: {s['history_rows']:,} rows for {s['with_history']:,} opportunities"
            if self.has_history else "stage history: none supplied",
            f"events from {first.isoformat()} to {last.isoformat()}",
            f"salespeople: {s['owners']} ({', '.join(self.owners[:12])}"
            f"{' …' if s['owners'] > 12 else ''}); teams: {s['teams']}",
        ]
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


def _index_history(hist: pd.DataFrame, opps: pd.DataFrame, settings: FunnelSettings, *,
                   codes_valid: bool = False) -> pd.DataFrame:
    """Add the integer keys the KPI functions join on.

    ``opp_code`` is the row of the opportunity in ``opps`` (kept when ``codes_valid``:
    :func:`~salesnb.data.validation.clean_history` computed it against these very rows);
    ``position`` the 0-based funnel position of the stage (-1 for the won/lost outcome
    rows). Integer keys keep joins over millions of rows fast.
    """
    hist = hist.copy(deep=False)
    if not (codes_valid and "opp_code" in hist.columns):
        hist["opp_code"] = id_codes(hist["opportunity_id"], opps["opportunity_id"]).astype(
            index_dtype(len(opps)))
    if settings.stages and len(hist):
        positions = id_codes(hist["stage"], pd.Series(list(settings.stages), dtype="str"))
    else:
        positions = np.full(len(hist), -1)
    hist["position"] = positions.astype("int16")  # funnel positions: a few dozen at most
    return hist


_CANONICAL = {
    "opportunity_id", "owner", "created_at", "status", "closed_at", "amount", "stage",
    "lost_reason", "team", "account", "product", "source", "currency", *HISTORY_COLUMNS,
}


class Snapshot:
    """A dataset as known at one moment, ``as_of``: what had happened by then, nothing after.

    Build it with :meth:`SalesData.at`. Opportunities created after ``as_of`` did not
    exist yet; a closing after ``as_of`` has not happened (the deal is still open);
    a stage entry after ``as_of`` has not happened either. The tables are computed on
    first use and kept with the snapshot, together with at most :data:`DERIVED_KEPT`
    derived tables the KPI functions build from them (stage visits, the rows of a
    window...): they live and go with the snapshot.

    Attributes
    ----------
    data : SalesData
        The whole dataset.
    as_of : Timestamp
        The moment, timezone-aware in the dataset's time zone.
    """

    def __init__(self, data: SalesData, as_of: pd.Timestamp):
        if as_of.tz is None:
            raise SalesnbError("a snapshot needs a timezone-aware as_of (use SalesData.at)")
        self.data = data
        self.as_of = as_of
        self._derived: BoundedCache[Any, Any] = BoundedCache(DERIVED_KEPT)

    def __repr__(self) -> str:
        return f"Snapshot(as_of={self.as_of.isoformat()}, source={self.data.source!r})"

    @functools.cached_property
    def _known(self) -> pd.DataFrame:
        opps = self.data.opportunities
        existed = (opps["created_at"] <= self.as_of).to_numpy()
        # Taking every column of a million rows costs; most replays see every row.
        opps = opps.copy(deep=False) if existed.all() else opps[existed]
        closed_known = (opps["closed_at"] <= self.as_of).fillna(False).to_numpy(dtype=bool)
        opps["status_asof"] = opps["status"].where(closed_known, "open")
        opps["closed_asof"] = opps["closed_at"].where(closed_known)
        return opps

    @property
    def opportunities(self) -> pd.DataFrame:
        """The opportunities that existed at ``as_of``, with ``status_asof`` and ``closed_asof``.

        ``status_asof`` is the status known then (``open`` while the closing is after
        ``as_of``) and ``closed_asof`` the closing time known then (NaT while open). The
        index is the row of each opportunity in ``data.opportunities`` (the
        ``opp_code`` of the stage history). A shallow copy: callers may add columns.
        """
        return self._known.copy(deep=False)

    @functools.cached_property
    def history(self) -> pd.DataFrame:
        """The stage-history entries entered at or before ``as_of`` (sorted, with ``seq``)."""
        hist = self.data.stage_history
        entered = (hist["entered_at"] <= self.as_of).to_numpy()
        return hist if entered.all() else hist[entered]

    def derived(self, key: Any, compute: Callable[[], T]) -> T:
        """Return the derived table ``key`` of this snapshot, computing it on first use.

        The KPI functions keep what they build from a snapshot here (one of at most
        :data:`DERIVED_KEPT`), so the functions of one window share it.
        """
        return self._derived.get(key, compute)  # type: ignore[no-any-return]

    def kept(self, key: Any) -> Any:
        """Return the derived table ``key`` when this snapshot holds it, else None (never computes)."""
        return self._derived.peek(key)
