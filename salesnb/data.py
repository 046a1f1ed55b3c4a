"""The validated dataset every KPI function takes: :class:`SalesData`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.exceptions import SalesnbWarning
from salesnb.memory import release_memory
from salesnb.settings import FunnelSettings, coerce_settings
from salesnb.validation import (
    HISTORY_COLUMNS,
    RowLabel,
    check_stage_column,
    clean_history,
    clean_opportunities,
    id_codes,
    index_dtype,
    infer_stage_order,
    position_labels,
)

__all__ = ["SalesData"]

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
    """

    opportunities: pd.DataFrame
    stage_history: pd.DataFrame
    settings: FunnelSettings
    source: str = "DataFrame"
    has_history: bool = False
    notes: tuple[str, ...] = field(default=())
    #: Memo of derived tables (per ``as_of``) shared by the KPI functions; never copied
    #: by ``dataclasses.replace``, so a subset starts with an empty one.
    cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        return cls(opps, hist, resolved, source, history is not None, tuple(all_notes))

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
        return sorted(self.opportunities["owner"].dropna().unique().tolist())

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last event time in the data (creation, closing or stage entry)."""
        cached = self.cache.get("span")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        opps = self.opportunities
        times = [opps["created_at"].min(), opps["closed_at"].max(), opps["created_at"].max()]
        if len(self.stage_history):
            times.append(self.stage_history["entered_at"].max())
        valid = [t for t in times if pd.notna(t)]
        self.cache["span"] = (min(valid), max(valid))
        return self.cache["span"]  # type: ignore[no-any-return]

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
    :func:`~salesnb.validation.clean_history` computed it against these very rows);
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
