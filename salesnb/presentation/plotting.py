"""Plots of KPI tables: each function takes a table a KPI function returned and draws it.

Every plot function has the form ``plot_x(table, *, ax=None, language="en", **kwargs)``
and returns the :class:`~matplotlib.axes.Axes` it drew on. It draws on ``ax`` (a new
figure when ``ax`` is None), never calls ``plt.show()`` and computes no KPI: it only
reorders, sums rows for display (documented where it does) and reads statistics the
table already holds. Extra keyword arguments go to the main matplotlib or seaborn call
and override the defaults chosen here (``color=``, ``bins=``, ``cmap=``...).

Text is English (``language="en"``) or Persian (``"fa"``, with Persian digits); any
string with Persian letters — an owner name in an English plot too — is shaped so that
matplotlib shows it joined and right to left (:mod:`salesnb.presentation.i18n`). Amounts are shown
in a readable unit (million / billion Rial, or Toman with ``amount_unit="toman"``) with
thousands separators; pass ``currency=data.settings.currency`` and
``amount_unit=data.settings.amount_unit`` where a function accepts them. A table with no
rows (a window with no data) gives an empty axes with a "no data for this window" note.

=========================== ================================================
function                    table
=========================== ================================================
plot_open_pipeline          ``open_opportunities``
plot_open_over_time         ``open_over_time`` (``by=None`` or a column)
plot_won_lost               ``won_lost`` (with or without ``period``)
plot_lost_reasons           ``lost_reasons`` (``by=None``)
plot_lost_reason_stage      ``lost_reasons(by="stage")``
plot_deal_sizes             won amounts (``cycle_durations()["amount"]``) and ``deal_size_flags``
plot_win_rate               ``win_rate`` (``period=None``)
plot_funnel                 ``funnel``
plot_time_in_stage          ``stage_visits`` (or the ``time_in_stage`` summary)
plot_cycle_distribution     ``cycle_durations``
plot_survival               ``cycle_survival``
plot_size_bands             ``deal_size_bands``
plot_attainment             ``attainment`` (and optionally ``forecast``)
plot_forecast_fan           ``salesnb.metrics.forecasting.forecast_fan``
plot_forecast_accuracy      ``forecast_backtest`` (``by=None``)
plot_pipeline_movement      ``pipeline_movement`` (one row, or the sum of the rows)
plot_stage_movement         ``stage_movement``
=========================== ================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker as mticker
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.text import Text

from salesnb._options import check_option
from salesnb.exceptions import SalesnbError
from salesnb.presentation import i18n
from salesnb.presentation.text import amount_scale, format_amount

__all__ = [
    "MOVEMENT_STEPS",
    "PlotInputError",
    "movement_steps",
    "plot_attainment",
    "plot_cycle_distribution",
    "plot_deal_sizes",
    "plot_forecast_accuracy",
    "plot_forecast_fan",
    "plot_funnel",
    "plot_lost_reason_stage",
    "plot_lost_reasons",
    "plot_open_over_time",
    "plot_open_pipeline",
    "plot_pipeline_movement",
    "plot_size_bands",
    "plot_stage_movement",
    "plot_survival",
    "plot_time_in_stage",
    "plot_win_rate",
    "plot_won_lost",
]

#: Colour-blind-safe colours (seaborn's "colorblind" palette).
COLORS = {
    "base": "#0173b2",
    "flag": "#de8f05",
    "won": "#029e73",
    "lost": "#d55e00",
    "above": "#d55e00",
    "below": "#cc78bc",
    "within": "#949494",
    "accent": "#333333",
    "light": "#b8c4d6",
    "muted": "#777777",
}

#: Columns of KPI tables that are values, not the group column.
_NOT_GROUP = frozenset({
    "period", "period_start", "period_end", "snapshot_at", "open_count", "open_value",
    "open_without_amount", "team_median", "too_few", "won", "lost", "closed", "won_value",
    "lost_reason", "share", "lost_value", "stage", "days", "survival", "ci_low", "ci_high",
    "at_risk", "events", "censored", "n", "open", "win_rate", "open_share", "created",
    "created_value", "window", "start", "end", "partial",
})


class PlotInputError(SalesnbError, ValueError):
    """A plot function was given a table it cannot draw (wrong KPI table, missing columns)."""


# =========================================================================== machinery
def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """Return ``ax``, or the axes of a new figure of ``size`` inches."""
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _require(table: Any, columns: Sequence[str], func: str, producer: str) -> pd.DataFrame:
    """Check that ``table`` is a DataFrame with ``columns``; raise naming what it has."""
    if not isinstance(table, pd.DataFrame):
        raise PlotInputError(f"{func}() takes the DataFrame returned by {producer}, "
                             f"got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PlotInputError(
            f"{func}(): the table has no column {', '.join(map(repr, missing))} (it has: "
            f"{', '.join(map(str, table.columns)) or 'no columns'}). Pass the table returned by {producer}.")
    return table


def _group_col(table: pd.DataFrame, default: str = "group") -> str:
    """Return the group column of a KPI table: the first column that is not a value column."""
    for col in table.columns:
        if col not in _NOT_GROUP:
            return str(col)
    return default


def _esc(text: object) -> str:
    """Escape ``$`` so that names from the data are never read as mathtext."""
    return str(text).replace("$", r"\$")


def _t(key: str, language: str, **values: object) -> str:
    """Catalogue text ready for matplotlib (placeholders filled, shaped, digits)."""
    return i18n.label(key, language, **{k: _esc(v) if isinstance(v, str) else v
                                        for k, v in values.items()})


def _d(value: object, language: str) -> str:
    """A data value (owner, reason, stage, period) ready for matplotlib."""
    return i18n.plot_text(_esc(i18n.translate_value(value, language)), language)


def _group_noun(col: str, language: str) -> str:
    """``owner`` -> ``salesperson`` (lower case in English, to sit inside a sentence)."""
    try:
        text = i18n.translate(col, language)
    except i18n.LanguageError:
        return col
    return text.lower() if language == "en" else text


def _num(value: float, language: str, decimals: int = 0, percent: bool = False) -> str:
    """A number as plain text, Persian digits for ``fa``."""
    return i18n.number(value, language, decimals, percent=percent)


def _amount(value: float, currency: str | None, unit: str, language: str) -> str:
    """One amount, e.g. ``2.49 billion IRR`` (``text.format_amount``, unit words translated)."""
    return i18n.unit_label(format_amount(value, currency, unit), language)


def _scale(values: Any, currency: str | None, unit: str, language: str) -> tuple[float, str]:
    """Divisor and translated unit label for axes of these amounts (``text.amount_scale``)."""
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    arr = arr[np.isfinite(arr)]
    top = float(np.abs(arr).max()) if len(arr) else 0.0
    div, label = amount_scale(top, currency, unit)
    label = i18n.unit_label(label, language) if label else ""
    return div, label


def _unit_text(label: str, language: str) -> str:
    """The unit for an axis label; ``amount`` when there is no currency."""
    return label or i18n.translate("amount", language).lower()


def _days(value: float, language: str) -> str:
    """A number of days, e.g. ``45.2 d`` / ``۴۵٫۲ روز``."""
    return f"{_num(value, language, 1)} {i18n.translate('days_unit', language)}"


class _NumberFormatter(mticker.Formatter):
    """Tick labels with thousands separators and as few decimals as the ticks need.

    ``scale`` divides the values (amounts in billions...), ``percent`` shows shares as
    percentages, ``log`` picks the decimals of each tick on its own (log axes), and
    ``fa`` writes Persian digits and separators.
    """

    def __init__(self, language: str = "en", *, scale: float = 1.0, percent: bool = False,
                 log: bool = False):
        self.language = language
        self.scale = scale
        self.percent = percent
        self.log = log

    def _values(self, values: Any) -> np.ndarray:
        v = np.asarray(values, dtype="float64") / self.scale
        return v * 100.0 if self.percent else v

    @staticmethod
    def _decimals(values: np.ndarray) -> int:
        finite = values[np.isfinite(values)]
        if not len(finite):
            return 0
        tol = 1e-9 * max(1.0, float(np.abs(finite).max()))
        for d in range(5):
            if np.allclose(np.round(finite, d), finite, atol=tol, rtol=0):
                return d
        return 4

    def _text(self, v: float, decimals: int) -> str:
        if not math.isfinite(v):
            return ""
        if round(v, decimals) == 0:
            v = 0.0
        text = f"{v:,.{decimals}f}" + ("%" if self.percent else "")
        return i18n.persian_digits(text) if self.language == "fa" else text

    def __call__(self, x: float, pos: int | None = None) -> str:
        v = float(self._values([x])[0])
        return self._text(v, self._decimals(np.array([v])))

    def format_ticks(self, values: Any) -> list[str]:
        vals = self._values(values)
        if self.log:
            return [self._text(v, self._decimals(np.array([v]))) for v in vals]
        d = self._decimals(vals)
        return [self._text(v, d) for v in vals]


def _number_axis(axis: Any, language: str, *, integer: bool = False, scale: float = 1.0,
                 percent: bool = False) -> None:
    """Give a numeric axis readable tick labels (and whole-number ticks for counts)."""
    if integer:
        axis.set_major_locator(mticker.MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(_NumberFormatter(language, scale=scale, percent=percent))


def _finish(ax: Axes, language: str, *, title: str | None = None, xlabel: str | None = None,
            ylabel: str | None = None, others: Sequence[Axes] = ()) -> Axes:
    """Set title and labels, readable number ticks and Persian-capable fonts on every text."""
    if title is not None:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    families = i18n.font_families(language)
    for a in (ax, *others):
        for axis in (a.xaxis, a.yaxis):
            if type(axis.get_major_formatter()) is mticker.ScalarFormatter:
                axis.set_major_formatter(_NumberFormatter(language))
        a.tick_params(labelfontfamily=families)
        for text in a.findobj(Text):
            text.set_fontfamily(families)
    return ax


def _note(ax: Axes, text: str) -> None:
    """Write a grey note in the middle of the axes."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=COLORS["muted"], fontsize="large", gid="no-data")


def _empty(ax: Axes, language: str, *, title: str, xlabel: str, ylabel: str) -> Axes:
    """An empty axes with the "no data for this window" note (titles and labels kept)."""
    _note(ax, _t("no_data_window", language))
    ax.set_xticks([])
    ax.set_yticks([])
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def _legend(ax: Axes, handles: Sequence[Any] | None = None, *, outside: bool = False,
            **kwargs: Any) -> None:
    """A small legend, outside on the right when there are many entries."""
    opts: dict[str, Any] = {"fontsize": "small", "frameon": False}
    if outside:
        opts.update(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    opts.update(kwargs)
    if handles is None:
        ax.legend(**opts)
    else:
        ax.legend(handles=list(handles), **opts)


def _legend_below(ax: Axes, handles: Sequence[Any], *, ncols: int = 2, drop: float = 40.0) -> None:
    """A legend centred under the axes, ``drop`` points below them (clear of ticks and xlabel).

    Used where the data can fill any part of the axes, so that a legend inside would
    hide some of it; constrained layout makes room for it.
    """
    from matplotlib.transforms import ScaledTranslation

    shift = ScaledTranslation(0, -drop / 72, ax.figure.dpi_scale_trans)
    ax.legend(handles=list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.0),
              bbox_transform=ax.transAxes + shift, ncols=ncols, fontsize="small", frameon=False)


def _period_order(table: pd.DataFrame) -> list[Any]:
    """The periods of a table in time order (by ``period_start`` when present)."""
    if "period_start" in table.columns:
        first = table.drop_duplicates("period").sort_values("period_start", kind="stable")
        return first["period"].tolist()
    return list(pd.unique(table["period"]))


def _partial_flags(table: pd.DataFrame, keys: Sequence[Any]) -> list[bool]:
    """Per period of ``keys``: whether the table's ``partial`` column marks it (any of its rows).

    The column is written by :func:`salesnb.presentation.views.mark_partial`; a table
    without it has no partial periods to show.
    """
    if "partial" not in table.columns or "period" not in table.columns:
        return [False] * len(keys)
    marked = table.groupby("period", sort=False)["partial"].any()
    return [bool(marked.get(k, False)) for k in keys]


def _partial_handle(language: str) -> Patch:
    """The legend entry of the partial periods (hatched, as their bars)."""
    return Patch(facecolor="white", edgecolor=COLORS["muted"], hatch="///",
                 label=_t("partial_period_legend", language))


def _category_ticks(axis: Any, labels: Sequence[str], *, max_labels: int = 14) -> None:
    """Put text labels on positions 0..n-1, showing every k-th one when there are many."""
    n = len(labels)
    step = max(1, math.ceil(n / max_labels))
    positions = list(range(0, n, step))
    axis.set_ticks(positions, labels=[labels[i] for i in positions])


#: What a plot of counts can show instead: the count of deals or their value.
MEASURES = ("count", "value")


def _check_measure(measure: str) -> str:
    return check_option("measure", measure, MEASURES)


# =========================================================================== question 1
def plot_open_pipeline(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    measure: str = "count",
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw the open opportunities per salesperson, those holding too few highlighted.

    One horizontal bar per row of :func:`~salesnb.open_opportunities` (largest on top),
    labelled with its value; bars of the rows flagged ``too_few`` are orange. The
    comparison point ``team_median`` is drawn as a dashed line when it is one value for
    everybody, else as a diamond on each bar (each person's own team median).

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.open_opportunities`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
        Language of titles, labels and digits.
    measure : {"count", "value"}, default "count"
        Draw ``open_count`` or ``open_value`` (sorted by value; the team median applies
        to counts only, so it is drawn for counts only).
    currency, amount_unit : str, optional
        For ``measure="value"``: the dataset's currency and amount unit
        (``data.settings.currency``, ``data.settings.amount_unit``).
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import salesnb as sn
    >>> from salesnb.presentation import plotting
    >>> data = sn.load(sn.sample_path())
    >>> ax = plotting.plot_open_pipeline(sn.open_opportunities(data, as_of="1404-07-01"))
    >>> len(ax.containers[0])
    9
    """
    language = i18n.check_language(language)
    measure = _check_measure(measure)
    _require(table, ["open_count", "too_few"], "plot_open_pipeline", "open_opportunities()")
    col = _group_col(table)
    n = len(table)
    ax = _axes(ax, (8.0, max(3.0, 0.38 * n + 1.6)))
    noun = _group_noun(col, language)
    div, unit = (1.0, "")
    if measure == "value":
        div, unit = _scale(table["open_value"], currency, amount_unit, language)
        title = _t("title_open_value", language, group=noun)
        xlabel = _t("axis_open_value", language, unit=_unit_text(unit, language))
    else:
        title = _t("title_open_pipeline", language, group=noun)
        xlabel = _t("axis_open_count", language)
    ylabel = _d(i18n.translate(col, language) if col in ("owner", "team", "group") else col, language)
    if n == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)

    if measure == "value":  # the table is sorted by count: show the largest value on top
        table = table.sort_values("open_value", ascending=False, kind="stable")
    raw = table["open_value"] if measure == "value" else table["open_count"]
    values = pd.to_numeric(raw, errors="coerce").fillna(0).to_numpy(dtype="float64") / div
    if not values.any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    flagged = table["too_few"].fillna(False).to_numpy(dtype=bool)
    y = np.arange(n)[::-1]
    opts: dict[str, Any] = {"color": [COLORS["flag"] if f else COLORS["base"] for f in flagged],
                            "height": 0.7, "gid": "bars"}
    ax.barh(y, values, **{**opts, **kwargs})
    # Values at the base of each bar (the team-median markers sit near the bar ends).
    vmax = float(values.max()) if len(values) else 0.0
    for yi, v in zip(y, values, strict=True):
        text = _num(v, language, 0 if measure == "count" else _sig_decimals(v))
        inside = vmax > 0 and v >= 0.12 * vmax
        ax.text(0.01 * vmax if inside else v + 0.01 * vmax, yi, text, va="center", ha="left",
                fontsize="small", color="white" if inside else COLORS["accent"],
                fontweight="bold" if inside else "normal")
    ax.set_yticks(y, labels=[_d(v, language) for v in table[col]])
    handles: list[Any] = [Patch(color=COLORS["base"], label=_t("legend_enough", language)),
                          Patch(color=COLORS["flag"], label=_t("legend_too_few", language))]
    if measure == "count" and "team_median" in table.columns:
        med = pd.to_numeric(table["team_median"], errors="coerce").to_numpy(dtype="float64")
        finite = med[np.isfinite(med)]
        if len(finite) and np.allclose(finite, finite[0]):
            line = ax.axvline(finite[0], color=COLORS["accent"], linestyle="--", linewidth=1.2,
                              gid="team-median")
            handles.append(Line2D([], [], color=line.get_color(), linestyle="--",
                                  label=f"{_t('legend_team_median', language)}: "
                                        f"{_num(finite[0], language, 1 if finite[0] % 1 else 0)}"))
        elif len(finite):
            ax.plot(med, y, linestyle="none", marker="D", markersize=5, color=COLORS["accent"],
                    gid="team-median")
            handles.append(Line2D([], [], linestyle="none", marker="D", markersize=5,
                                  color=COLORS["accent"], label=_t("legend_team_median", language)))
    ax.margins(x=0.12)
    ax.set_xlim(left=0)
    _number_axis(ax.xaxis, language, integer=measure == "count")
    _legend_below(ax, handles, ncols=len(handles))
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_open_over_time(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    measure: str = "count",
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw the open opportunities at the end of each period, one line per group.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.open_over_time` (``by=None``: one line for
        the team; ``by="owner"``: one line per salesperson).
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    measure : {"count", "value"}, default "count"
        Draw ``open_count`` or ``open_value``.
    currency, amount_unit : str, optional
        For ``measure="value"``: the dataset's currency and amount unit.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot` (each line).

    Returns
    -------
    Axes

    Notes
    -----
    A table marked by :func:`salesnb.presentation.views.mark_partial` (a boolean
    ``partial`` column) has its partial periods' points hollow, with a legend entry.
    """
    language = i18n.check_language(language)
    measure = _check_measure(measure)
    _require(table, ["period", "open_count"], "plot_open_over_time", "open_over_time()")
    ax = _axes(ax, (9.0, 4.5))
    col = _group_col(table)
    div, unit = (1.0, "")
    if measure == "value":
        div, unit = _scale(table.get("open_value", []), currency, amount_unit, language)
        title = _t("title_open_value_over_time", language)
        ylabel = _t("axis_open_value", language, unit=_unit_text(unit, language))
    else:
        title = _t("title_open_over_time", language)
        ylabel = _t("axis_open_count", language)
    xlabel = _t("period", language)
    if len(table) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    value_col = "open_value" if measure == "value" else "open_count"
    if not pd.to_numeric(table[value_col], errors="coerce").fillna(0).any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    periods = _period_order(table)
    x = np.arange(len(periods))
    groups = list(pd.unique(table[col])) if col in table.columns else [None]
    flags = _partial_flags(table, periods)
    for name in groups:
        rows = table if name is None else table[table[col] == name]
        series = rows.groupby("period", sort=False)[value_col].sum().reindex(periods) / div
        opts: dict[str, Any] = {"marker": "o", "markersize": 3.5, "linewidth": 1.6, "gid": "series",
                                "label": _d(name if name is not None else "(all)", language)}
        if len(groups) == 1:
            opts["color"] = COLORS["base"]
        line, = ax.plot(x, series.to_numpy(dtype="float64"), **{**opts, **kwargs})
        if any(flags):  # partial periods: hollow points (their value covers part of the period)
            pick = np.flatnonzero(flags)
            ax.plot(x[pick], series.to_numpy(dtype="float64")[pick], linestyle="none", marker="o",
                    markersize=5.5, markerfacecolor="white", markeredgecolor=line.get_color(), gid="partial")
    _category_ticks(ax.xaxis, [_d(p, language) for p in periods])
    if len(periods) > 8:
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_ylim(bottom=0)
    _number_axis(ax.yaxis, language, integer=measure == "count")
    ax.grid(axis="y", alpha=0.3)
    if len(groups) > 1 or any(flags):
        handles, _ = ax.get_legend_handles_labels()
        if len(groups) == 1:
            handles = []
        if any(flags):
            handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                                  markeredgecolor=COLORS["muted"], label=_t("partial_period_legend", language)))
        _legend(ax, handles, outside=len(groups) > 4)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


# =========================================================================== question 2
def plot_won_lost(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    **kwargs: Any,
) -> Axes:
    """Draw the deals won and lost, side by side, per period (or per group).

    With a ``period`` column the bars are per period and, when the table is split by a
    group (``by="owner"``), the groups are **summed** per period (the team's won and lost;
    to compare people use ``won_lost(..., period=None)``). Without periods
    (``period=None``) the bars are per group, busiest first.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.won_lost`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    **kwargs
        Passed to both :meth:`~matplotlib.axes.Axes.bar` calls.

    Returns
    -------
    Axes
        Its first two containers are the won and the lost bars.

    Notes
    -----
    A table marked by :func:`salesnb.presentation.views.mark_partial` (a boolean
    ``partial`` column) has its partial periods' bars lighter and hatched, with a
    legend entry: their counts cover only part of the period.
    """
    language = i18n.check_language(language)
    _require(table, ["won", "lost"], "plot_won_lost", "won_lost()")
    col = _group_col(table)
    by_period = "period" in table.columns
    ax = _axes(ax, (9.0, 4.5))
    if by_period:
        title, xlabel = _t("title_won_lost", language), _t("period", language)
    else:
        noun = _group_noun(col, language)
        title = _t("title_won_lost_group", language, group=noun)
        xlabel = _d(i18n.translate(col, language) if col in ("owner", "team", "group") else col, language)
    ylabel = _t("axis_deals", language)
    if len(table) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    if by_period:
        keys = _period_order(table)
        sums = table.groupby("period", sort=False)[["won", "lost"]].sum().reindex(keys).fillna(0)
    else:
        sums = table.groupby(col, sort=False)[["won", "lost"]].sum()
        sums = sums.assign(_t=sums["won"] + sums["lost"]).sort_values("_t", ascending=False,
                                                                      kind="stable")
        keys = sums.index.tolist()
    won = sums["won"].to_numpy(dtype="float64")
    lost = sums["lost"].to_numpy(dtype="float64")
    if float(won.sum() + lost.sum()) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    x = np.arange(len(keys))
    width = 0.4
    bars_won = ax.bar(x - width / 2, won, width, **{"color": COLORS["won"], "gid": "won",
                                                     "label": _t("won", language), **kwargs})
    bars_lost = ax.bar(x + width / 2, lost, width, **{"color": COLORS["lost"], "gid": "lost",
                                                       "label": _t("lost", language), **kwargs})
    flags = _partial_flags(table, keys) if by_period else [False] * len(keys)
    for i, partial in enumerate(flags):  # partial periods: lighter and hatched
        if partial:
            for bar in (bars_won[i], bars_lost[i]):
                bar.set_alpha(0.55)
                bar.set_hatch("///")
                bar.set_edgecolor("white")
    if len(keys) <= 16:
        for bars, vals in ((bars_won, won), (bars_lost, lost)):
            ax.bar_label(bars, labels=[_num(v, language) for v in vals], padding=2, fontsize="x-small")
    _category_ticks(ax.xaxis, [_d(k, language) for k in keys], max_labels=24)
    if len(keys) > 8 or not by_period:
        plt.setp(ax.get_xticklabels(), rotation=35 if not by_period else 45, ha="right",
                 rotation_mode="anchor")
    _number_axis(ax.yaxis, language, integer=True)
    ax.margins(y=0.1)
    ax.grid(axis="y", alpha=0.3)
    if any(flags):
        handles, _ = ax.get_legend_handles_labels()
        _legend(ax, [*handles, _partial_handle(language)])
    else:
        _legend(ax)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_lost_reasons(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    measure: str = "count",
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw the lost deals per reason as horizontal bars, most frequent on top.

    Each bar is labelled with its count and share of all lost deals. A table split by
    another column (``by="owner"``) is summed per reason; for reason × stage use
    :func:`plot_lost_reason_stage`.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.lost_reasons`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    measure : {"count", "value"}, default "count"
        Bars of ``lost`` (deals) or ``lost_value`` (amounts).
    currency, amount_unit : str, optional
        For ``measure="value"``: the dataset's currency and amount unit.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    Axes
    """
    language = i18n.check_language(language)
    measure = _check_measure(measure)
    _require(table, ["lost_reason", "lost"], "plot_lost_reasons", "lost_reasons()")
    sums = table.groupby("lost_reason", sort=False)[
        [c for c in ("lost", "share", "lost_value") if c in table.columns]].sum()
    n = len(sums)
    ax = _axes(ax, (8.0, max(3.0, 0.42 * n + 1.6)))
    div, unit = (1.0, "")
    if measure == "value":
        div, unit = _scale(table.get("lost_value", []), currency, amount_unit, language)
        xlabel = _t("axis_lost_value", language, unit=_unit_text(unit, language))
    else:
        xlabel = _t("axis_lost_deals", language)
    title = _t("title_lost_reasons", language)
    ylabel = _t("lost_reason", language)
    value_col = "lost_value" if measure == "value" else "lost"
    if n == 0 or not sums[value_col].fillna(0).any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    sums = sums.sort_values(value_col, ascending=False, kind="stable")
    values = sums[value_col].to_numpy(dtype="float64") / div
    y = np.arange(n)[::-1]
    bars = ax.barh(y, values, **{"color": COLORS["lost"], "height": 0.7, "gid": "bars", **kwargs})
    if measure == "count":
        shares = sums["share"] if "share" in sums.columns else pd.Series(np.nan, index=sums.index)
        texts = [f"{_num(v, language)} ({_num(s, language, 1, percent=True)})" if pd.notna(s)
                 else _num(v, language) for v, s in zip(values, shares, strict=True)]
    else:
        texts = [_num(v, language, 2 if v < 10 else 1 if v < 100 else 0) for v in values]
    ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, labels=[_d(r, language) for r in sums.index])
    ax.margins(x=0.2)
    ax.set_xlim(left=0)
    _number_axis(ax.xaxis, language, integer=measure == "count")
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def _count_colorbar(ax: Axes, label: str, language: str) -> list[Axes]:
    """Give a count heatmap's colour bar whole-number ticks in the language's digits and a
    label; return its axes (for :func:`_finish`), none when the heatmap has no bar."""
    colorbar = ax.collections[0].colorbar if ax.collections else None
    if colorbar is None:
        return []
    colorbar.ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    colorbar.ax.yaxis.set_major_formatter(_NumberFormatter(language))
    colorbar.set_label(label)
    return [colorbar.ax]


def plot_lost_reason_stage(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    stages: Sequence[str] | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw a heatmap of lost deals, reason (rows) × stage where lost (columns).

    Parameters
    ----------
    table : DataFrame
        The table returned by ``lost_reasons(..., by="stage")``.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    stages : list of str, optional
        The funnel's open stages in order (``data.settings.stages``): columns follow it
        (every stage shown, zeros included), other labels such as ``(unknown)`` last.
        Without it, stages are in alphabetical order.
    **kwargs
        Passed to :func:`seaborn.heatmap` (``cmap=``, ``annot=False``...).

    Returns
    -------
    Axes
        With one QuadMesh in ``ax.collections`` and a colour bar beside it.
    """
    import seaborn as sns

    language = i18n.check_language(language)
    _require(table, ["lost_reason", "stage", "lost"], "plot_lost_reason_stage",
             'lost_reasons(..., by="stage")')
    ax = _axes(ax, (8.0, 4.8))
    title = _t("title_lost_reason_stage", language)
    xlabel, ylabel = _t("axis_stage_lost", language), _t("lost_reason", language)
    if len(table) == 0 or not pd.to_numeric(table["lost"], errors="coerce").fillna(0).any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    grid = table.pivot_table(index="lost_reason", columns="stage", values="lost", aggfunc="sum",
                             fill_value=0)
    present = [str(c) for c in grid.columns]
    if stages is not None:
        order = [*[str(s) for s in stages], *sorted(c for c in present if c not in set(map(str, stages)))]
    else:
        order = sorted(present, key=lambda s: (s.startswith("("), s))
    grid = grid.reindex(columns=order, fill_value=0)
    grid = grid.loc[grid.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    counts = grid.to_numpy(dtype="float64")
    annot = np.array([[_num(v, language) if v else "" for v in row] for row in counts], dtype=object)
    opts: dict[str, Any] = {
        "annot": annot, "fmt": "", "cmap": "Reds", "linewidths": 0.5, "linecolor": "white",
        "cbar_kws": {"label": _t("axis_lost_deals", language)},
        "xticklabels": [_d(s, language) for s in grid.columns],
        "yticklabels": [_d(r, language) for r in grid.index],
    }
    sns.heatmap(counts, ax=ax, **{**opts, **kwargs})
    ax.tick_params(axis="x", labelrotation=0)
    ax.tick_params(axis="y", labelrotation=0)
    others = _count_colorbar(ax, _t("axis_lost_deals", language), language)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel, others=others)


# =========================================================================== question 3
def plot_deal_sizes(
    won_amounts: pd.Series | pd.DataFrame | Sequence[float],
    flags: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
    language: str = "en",
    band: float | None = None,
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw the won deal amounts (log scale) with the mean, the band and the open deals.

    A histogram of the won amounts on a logarithmic x axis (log-spaced bins); the mean
    as a solid line and the band ``mean × (1 ± band)`` shaded. Below the histogram a
    strip shows each open deal of ``flags`` at its amount, coloured by its flag (above,
    within or below the band). Amounts that a log axis cannot show (missing or zero) and
    open deals flagged ``no amount`` / ``no reference`` are counted in a note.

    Parameters
    ----------
    won_amounts : Series or DataFrame
        The amounts of the won deals of the window, e.g. ``cycle_durations(...)["amount"]``
        (a DataFrame with an ``amount`` column is accepted too).
    flags : DataFrame, optional
        The table returned by :func:`~salesnb.deal_size_flags` for the same window.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    band : float, optional
        Relative band (default: the one ``flags`` was computed with, else 0.5).
    currency, amount_unit : str, optional
        The dataset's currency and amount unit (``data.settings``).
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.hist` (``bins=`` a number of bins...).

    Returns
    -------
    Axes

    Notes
    -----
    The mean is the ``reference_mean`` of ``flags`` (the mean won amount the flags were
    computed against); without ``flags``, the mean of ``won_amounts``.
    """
    language = i18n.check_language(language)
    if isinstance(won_amounts, pd.DataFrame):
        _require(won_amounts, ["amount"], "plot_deal_sizes", 'cycle_durations()["amount"]')
        won_amounts = won_amounts["amount"]
    amounts = pd.to_numeric(pd.Series(won_amounts, dtype="object"), errors="coerce").astype("float64")
    if flags is not None:
        _require(flags, ["amount", "flag"], "plot_deal_sizes", "deal_size_flags()")
    shown = amounts[np.isfinite(amounts) & (amounts > 0)].to_numpy(dtype="float64")
    hidden_won = int(len(amounts) - len(shown))
    open_amounts = (pd.to_numeric(flags["amount"], errors="coerce").astype("float64")
                    if flags is not None else pd.Series(dtype="float64"))
    mean = float("nan")
    if flags is not None:
        mean = float(flags.attrs.get("reference_mean", float("nan")))
        if not math.isfinite(mean) and "reference_mean" in flags.columns and len(flags):
            mean = float(pd.to_numeric(flags["reference_mean"], errors="coerce").dropna().iloc[0]) \
                if flags["reference_mean"].notna().any() else float("nan")
    if not math.isfinite(mean) and amounts.notna().any():
        mean = float(amounts.mean())
    if band is None:
        band = float(flags.attrs.get("band", 0.5)) if flags is not None else 0.5
    everything = np.concatenate([shown, open_amounts[open_amounts > 0].to_numpy(dtype="float64")])
    div, unit = _scale(everything, currency, amount_unit, language)
    ax = _axes(ax, (9.0, 4.8))
    title = _t("title_deal_sizes", language)
    xlabel = _t("axis_won_amount", language, unit=_unit_text(unit, language))
    ylabel = _t("axis_won_deals", language)
    if len(everything) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)

    lo, hi = float(everything.min()), float(everything.max())
    if lo == hi:
        lo, hi = lo / 1.5, hi * 1.5
    n_bins = int(np.clip(round(math.sqrt(max(len(shown), 1)) * 1.5), 10, 40))
    opts: dict[str, Any] = {"bins": np.geomspace(lo, hi, n_bins + 1) / div, "color": COLORS["base"],
                            "alpha": 0.85, "edgecolor": "white", "linewidth": 0.5, "gid": "won-hist",
                            "label": _t("axis_won_deals", language) + f" ({_num(len(shown), language)})"}
    opts.update(kwargs)
    if isinstance(opts["bins"], int):
        opts["bins"] = np.geomspace(lo, hi, opts["bins"] + 1) / div
    counts, _, _ = ax.hist(shown / div, **opts)
    ax.set_xscale("log")
    top = float(max(np.max(counts) if len(counts) else 0.0, 1.0))
    if math.isfinite(mean) and mean > 0:
        low_edge = mean * (1 - band)
        left = low_edge / div if low_edge > 0 else lo / div / 2
        ax.axvspan(left, mean * (1 + band) / div, color=COLORS["within"], alpha=0.18, linewidth=0,
                   gid="band", zorder=0, label=_t("legend_band", language, pct=_num(band, language, 0, percent=True)))
        ax.axvline(mean / div, color=COLORS["accent"], linewidth=1.8, gid="mean",
                   label=_t("legend_mean", language,
                            value=_amount(mean, currency, amount_unit, language)))
    # The open deals, as a strip under the histogram (negative y, no ticks there).
    hidden_open = 0
    if flags is not None and len(flags):
        rng = np.random.default_rng(0)
        flag = flags["flag"].astype("str")
        for name in ("above", "within", "below"):
            sel = (flag == name).to_numpy() & np.isfinite(open_amounts.to_numpy()) & \
                (open_amounts > 0).to_numpy()
            if not sel.any():
                continue
            xs = open_amounts.to_numpy()[sel] / div
            ys = rng.uniform(-0.26, -0.06, size=len(xs)) * top
            ax.scatter(xs, ys, s=14, alpha=0.75, color=COLORS[name], edgecolors="none", gid=f"open-{name}",
                       label=_t("legend_open_flag", language, flag=i18n.translate(name, language).lower()
                                if language == "en" else i18n.translate(name, language),
                                n=_num(int(sel.sum()), language)))
        hidden_open = int(len(flags) - sum(
            ((flag == k).to_numpy() & (open_amounts > 0).to_numpy()).sum() for k in ("above", "within", "below")))
        ax.axhline(0, color=COLORS["muted"], linewidth=0.8)
        ax.text(0.01, -0.16 * top, _t("open_deals", language), transform=ax.get_yaxis_transform(),
                ha="left", va="center", fontsize="x-small", color=COLORS["muted"],
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
        ax.set_ylim(-0.3 * top, top * 1.08)
    else:
        ax.set_ylim(0, top * 1.08)
    ticks = mticker.MaxNLocator(nbins=5, integer=True).tick_values(0, top)
    ax.yaxis.set_major_locator(mticker.FixedLocator([t for t in ticks if 0 <= t <= top * 1.05]))
    ax.yaxis.set_major_formatter(_NumberFormatter(language))
    ax.xaxis.set_major_formatter(_NumberFormatter(language, log=True))
    if hi / lo < 40:  # fewer than ~1.5 decades: label 2 and 5 too
        ax.xaxis.set_minor_locator(mticker.LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(_NumberFormatter(language, log=True))
    else:
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    # What a log axis cannot show is counted in the legend (no silent drop).
    handles = ax.get_legend_handles_labels()[0]
    if hidden_won:
        handles.append(Patch(color="none", label=_t("not_shown_no_amount", language,
                                                    n=_num(hidden_won, language))))
    if hidden_open:
        handles.append(Patch(color="none", label=_t("open_not_shown", language,
                                                    n=_num(hidden_open, language))))
    _legend_below(ax, handles, ncols=2)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


# =========================================================================== question 4
def plot_win_rate(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    reference: float | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the win rate per group as points with their Wilson interval, n annotated.

    Groups are sorted by win rate, highest on top. A group with no deal in the
    denominator (``n == 0``, rate undefined) is listed at the bottom with "no data",
    never drawn as 0.

    Parameters
    ----------
    table : DataFrame
        The table returned by ``win_rate(..., by="owner")`` (no ``period``, or a single one).
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    reference : float, optional
        A rate to draw as a dashed line, e.g. the team's ``win_rate(..., by=None)``.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.errorbar`.

    Returns
    -------
    Axes
        ``ax.containers[0]`` is the ErrorbarContainer of the groups with data.
    """
    language = i18n.check_language(language)
    _require(table, ["win_rate", "ci_low", "ci_high", "n"], "plot_win_rate", "win_rate()")
    if "period" in table.columns and table["period"].nunique() > 1:
        raise PlotInputError(
            "plot_win_rate() draws one rate per group, but the table has several periods "
            f"({table['period'].nunique()}). Pass win_rate(..., period=None), or one period: "
            "table[table['period'] == '...'].")
    col = _group_col(table)
    n_rows = len(table)
    ax = _axes(ax, (8.0, max(3.0, 0.4 * n_rows + 1.6)))
    noun = _group_noun(col, language)
    key = "title_win_rate_cohort" if table.attrs.get("basis") == "created" else "title_win_rate"
    title = _t(key, language, group=noun)
    xlabel = _t("win_rate", language)
    ylabel = _d(i18n.translate(col, language) if col in ("owner", "team", "group") else col, language)
    n = pd.to_numeric(table["n"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    rate = pd.to_numeric(table["win_rate"], errors="coerce").to_numpy(dtype="float64")
    has = (n > 0) & np.isfinite(rate)
    if n_rows == 0 or not has.any():
        out = _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
        if n_rows:
            y = np.arange(n_rows)[::-1]
            out.set_yticks(y, labels=[_d(v, language) for v in table[col]])
            _finish(out, language)
        return out
    order = np.lexsort((np.arange(n_rows), -np.where(has, rate, -1.0)))
    t = table.iloc[order]
    n, rate, has = n[order], rate[order], has[order]
    low = pd.to_numeric(t["ci_low"], errors="coerce").to_numpy(dtype="float64")
    high = pd.to_numeric(t["ci_high"], errors="coerce").to_numpy(dtype="float64")
    y = np.arange(n_rows)[::-1].astype("float64")
    err = np.vstack([np.clip(rate - low, 0, None), np.clip(high - rate, 0, None)])[:, has]
    opts: dict[str, Any] = {"fmt": "o", "color": COLORS["base"], "ecolor": COLORS["base"],
                            "elinewidth": 1.5, "capsize": 3, "markersize": 6,
                            "label": _t("win_rate_point", language)}
    ax.errorbar(rate[has], y[has], xerr=err, **{**opts, **kwargs})
    right = float(np.nanmax(np.where(has, high, 0.0)))
    for yi, ni, hi, ok in zip(y, n, high, has, strict=True):
        if ok:
            ax.text((hi if np.isfinite(hi) else 0) + 0.015, yi, _t("n_note", language, n=_num(ni, language)),
                    va="center", ha="left", fontsize="x-small", color=COLORS["muted"])
        else:
            ax.text(0.01, yi, _t("no_data", language), va="center", ha="left", fontsize="small",
                    color=COLORS["muted"], gid="no-data-row")
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color=COLORS["accent"], linestyle="--", linewidth=1,
                   label=_t("reference_rate", language, value=_num(reference, language, 1, percent=True)))
        right = max(right, reference)
    ax.set_xlim(0, min(1.0, right + 0.15) if right < 0.9 else 1.05)
    ax.set_yticks(y, labels=[_d(v, language) for v in t[col]])
    ax.set_ylim(-0.7, n_rows - 0.3)
    _number_axis(ax.xaxis, language, percent=True)
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, loc="lower right")
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_funnel(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    pipeline: str | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the funnel: centred bars narrowing with the opportunities reaching each stage.

    One centred horizontal bar per stage (funnel order, first on top), plus a last green
    bar for the deals won when the table's ``attrs`` hold ``won`` (as
    :func:`~salesnb.funnel` sets). Light trapezoids join the bars. On the right of each
    stage: the conversion to the next stage (for the last stage: the share won) and the
    deals lost at that stage.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.funnel`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    pipeline : str, optional
        With a per-pipeline funnel (a ``pipeline`` column, as :func:`~salesnb.funnel`
        returns when the dataset has pipelines), the pipeline to draw: each pipeline has
        its own stages, so they are never drawn in one funnel. Required when the table
        holds more than one pipeline; the title names it.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    Axes
        ``ax.containers[0]`` holds the bars (stages, then won).
    """
    language = i18n.check_language(language)
    _require(table, ["stage", "reached"], "plot_funnel", "funnel()")
    attrs = dict(table.attrs)
    title = _t("title_funnel", language)
    if "pipeline" in table.columns:
        names = list(dict.fromkeys(table["pipeline"].astype(str)))
        if pipeline is None and len(names) > 1:
            raise PlotInputError(
                f"plot_funnel: the table holds {len(names)} pipelines ({', '.join(names)}), each "
                "with its own stages; pass pipeline=<one of them>, or draw one funnel per "
                "pipeline (salesnb's report does)")
        if pipeline is not None:
            if pipeline not in names:
                raise PlotInputError(f"plot_funnel: pipeline={pipeline!r} is not in the table; "
                                  f"it holds {', '.join(names) or 'no rows'}")
            attrs = dict(attrs.get("pipelines", {}).get(pipeline, {}))
            table = table[table["pipeline"].astype(str) == pipeline]
            title = f"{_t('funnel', language)} · {_d(pipeline, language)}"
    elif pipeline is not None:
        raise PlotInputError(f"plot_funnel: pipeline={pipeline!r} given, but the table has no "
                          "pipeline column (the dataset has one pipeline)")
    k = len(table)
    won = attrs.get("won")
    cohort = attrs.get("cohort")
    reached = pd.to_numeric(table["reached"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    if cohort is None:
        cohort = int(reached[0]) if k else 0
    ax = _axes(ax, (8.5, max(3.2, 0.75 * (k + 1) + 1.4)))
    xlabel = _t("axis_reached", language, n=_num(cohort, language))
    ylabel = _t("stage", language)
    if k == 0 or reached.sum() == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    labels = [_d(s, language) for s in table["stage"]]
    values = list(reached)
    colors = [COLORS["base"]] * k
    if won is not None:
        labels.append(_t("won", language))
        values.append(float(won))
        colors.append(COLORS["won"])
    vals = np.asarray(values, dtype="float64")
    m = len(vals)
    y = np.arange(m)[::-1].astype("float64")
    height = 0.62
    vmax = float(vals.max())
    opts: dict[str, Any] = {"color": colors, "height": height, "gid": "funnel-bars"}
    ax.barh(y, vals, left=-vals / 2, **{**opts, **kwargs})
    for i in range(m - 1):
        top_w, bottom_w = vals[i] / 2, vals[i + 1] / 2
        ax.add_patch(Polygon(
            [(-top_w, y[i] - height / 2), (top_w, y[i] - height / 2),
             (bottom_w, y[i + 1] + height / 2), (-bottom_w, y[i + 1] + height / 2)],
            closed=True, facecolor=COLORS["light"], alpha=0.45, edgecolor="none", gid="connector"))
    for yi, v in zip(y, vals, strict=True):
        inside = v >= 0.18 * vmax
        ax.text(0 if inside else v / 2 + 0.02 * vmax, yi, _num(v, language), va="center",
                ha="center" if inside else "left", color="white" if inside else COLORS["accent"],
                fontweight="bold", fontsize="small")
    conv = pd.to_numeric(table.get("conversion_to_next", pd.Series(np.nan, index=table.index)),
                         errors="coerce").to_numpy(dtype="float64")
    lost = pd.to_numeric(table.get("lost_here", pd.Series(np.nan, index=table.index)),
                         errors="coerce").to_numpy(dtype="float64")
    x_note = vmax / 2 + 0.06 * vmax
    note: dict[str, Any] = {"va": "center", "ha": "left", "fontsize": "x-small", "color": COLORS["accent"]}
    for i in range(k):
        if np.isfinite(lost[i]):
            ax.text(x_note, y[i] + (0.12 if i + 1 == m else 0), _t("lost_here_note", language,
                                                                     n=_num(lost[i], language)),
                    **{**note, "color": COLORS["lost"]})
        if np.isfinite(conv[i]):
            key = "won_of_last" if i == k - 1 else "to_next"
            text = "↓ " + i18n.translate(key, language, pct=_num(conv[i], language, 0, percent=True))
            # Between this bar and the next (beside the connector); the last stage's share
            # won sits beside its bar when there is no won bar below it.
            if i + 1 < m:
                x_text, y_text = (vals[i] + vals[i + 1]) / 4 + 0.04 * vmax, y[i] - 0.5
            else:
                x_text, y_text = x_note, y[i] - 0.22
            ax.text(x_text, y_text, i18n.plot_text(text, language), **note)
    ax.set_yticks(y, labels=labels)
    ax.set_xticks([])
    ax.set_xlim(-vmax / 2 * 1.04, vmax / 2 + 0.5 * vmax)
    ax.set_ylim(-0.6, m - 0.4)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_time_in_stage(
    visits: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    stages: Sequence[str] | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw how long opportunities stay in each stage, stages in funnel order.

    Preferred input: the visits of :func:`~salesnb.stage_visits` (one row per visit):
    one box per stage of the **completed** visits' days (whiskers at 1.5 IQR, outliers as
    dots); visits still running at ``as_of`` (censored) are kept out of the boxes and
    counted in the stage's tick label. The summary of :func:`~salesnb.time_in_stage`
    (``by=None``) is accepted too: a bar of the median per stage, the mean and the 90th
    percentile marked.

    Parameters
    ----------
    visits : DataFrame
        ``stage_visits(data, as_of=...)`` (filtered as wished), or ``time_in_stage(data, ...)``.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    stages : list of str, optional
        The open stages in funnel order (``data.settings.stages``); by default the order
        of the ``position`` column, else of first appearance.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.boxplot` (or ``bar`` for the summary).

    Returns
    -------
    Axes
    """
    language = i18n.check_language(language)
    summary = "days" not in visits.columns and "median_days" in visits.columns
    if summary:
        _require(visits, ["stage", "median_days", "completed", "censored"], "plot_time_in_stage",
                 "time_in_stage()")
        if visits["stage"].duplicated().any():
            raise PlotInputError("plot_time_in_stage() draws one row per stage; the time_in_stage "
                                 "table has several per stage (by=...). Pass time_in_stage(..., by=None).")
    else:
        _require(visits, ["stage", "days", "censored"], "plot_time_in_stage", "stage_visits()")
    if stages is not None:
        extra = [s for s in pd.unique(visits["stage"]) if s not in set(stages)]
        order = [*stages, *extra]
    elif "position" in visits.columns:
        order = visits.drop_duplicates("stage").sort_values("position", kind="stable")["stage"].tolist()
    else:
        order = list(pd.unique(visits["stage"]))
    k = len(order)
    ax = _axes(ax, (max(6.0, 1.6 * k + 2.0), 4.6))
    title = _t("title_time_in_stage", language)
    xlabel = _t("stage", language)
    ylabel = _t("axis_days_in_stage", language)
    if summary:
        rows = visits.set_index("stage").reindex(order)
        done = rows["completed"].fillna(0).to_numpy(dtype="int64")
        ongoing = rows["censored"].fillna(0).to_numpy(dtype="int64")
    else:
        censored = visits["censored"].fillna(False).to_numpy(dtype=bool)
        days = pd.to_numeric(visits["days"], errors="coerce")
        complete = visits[~censored & days.notna().to_numpy()]
        groups = [complete.loc[complete["stage"] == s, "days"].to_numpy(dtype="float64") for s in order]
        done = np.array([len(g) for g in groups], dtype="int64")
        ongoing = np.array([int(((visits["stage"] == s).to_numpy() & censored).sum()) for s in order],
                           dtype="int64")
    if k == 0 or done.sum() == 0:
        out = _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
        if k and ongoing.sum():
            out.set_xticks(np.arange(1, k + 1), labels=[
                _t("stage_tick", language, stage=str(s), n=_num(d, language), c=_num(c, language))
                for s, d, c in zip(order, done, ongoing, strict=True)])
            out.set_xlim(0.5, k + 0.5)
            _finish(out, language)
        return out
    positions = np.arange(1, k + 1)
    if summary:
        med = rows["median_days"].to_numpy(dtype="float64")
        ax.bar(positions, np.nan_to_num(med), **{"width": 0.6, "color": COLORS["light"], "gid": "median",
                                                  "label": _t("median_bar", language), **kwargs})
        if "mean_days" in rows.columns:
            ax.plot(positions, rows["mean_days"].to_numpy(dtype="float64"), linestyle="none",
                    marker="D", color=COLORS["base"], label=_t("mean_days_marker", language))
        if "p90_days" in rows.columns:
            ax.plot(positions, rows["p90_days"].to_numpy(dtype="float64"), linestyle="none",
                    marker="_", markersize=18, markeredgewidth=2, color=COLORS["lost"],
                    label=_t("p90_marker", language))
        _legend(ax, loc="upper right")
    else:
        keep = [i for i, g in enumerate(groups) if len(g)]
        opts: dict[str, Any] = {
            "positions": positions[keep], "widths": 0.55, "patch_artist": True,
            "boxprops": {"facecolor": COLORS["light"], "edgecolor": COLORS["base"]},
            "medianprops": {"color": COLORS["lost"], "linewidth": 1.8},
            "whiskerprops": {"color": COLORS["base"]}, "capprops": {"color": COLORS["base"]},
            "flierprops": {"marker": ".", "markersize": 3, "markerfacecolor": COLORS["muted"],
                           "markeredgecolor": "none", "alpha": 0.5},
            "manage_ticks": False,
        }
        ax.boxplot([groups[i] for i in keep], **{**opts, **kwargs})
    ax.set_xticks(positions, labels=[
        _t("stage_tick", language, stage=str(s), n=_num(d, language), c=_num(c, language))
        for s, d, c in zip(order, done, ongoing, strict=True)])
    ax.set_xlim(0.4, k + 0.6)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    _number_axis(ax.yaxis, language)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


# =========================================================================== question 5
def plot_cycle_distribution(
    durations: pd.DataFrame | pd.Series,
    *,
    ax: Axes | None = None,
    language: str = "en",
    **kwargs: Any,
) -> Axes:
    """Draw the histogram of sales-cycle days with the mean and median marked.

    Parameters
    ----------
    durations : DataFrame or Series
        The table returned by :func:`~salesnb.cycle_durations` (its ``days``), or the
        days as a Series.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.hist` (``bins=`` ...).

    Returns
    -------
    Axes
        The bars are ``ax.patches``; the mean and median are ``ax.lines``.
    """
    language = i18n.check_language(language)
    if isinstance(durations, pd.DataFrame):
        _require(durations, ["days"], "plot_cycle_distribution", "cycle_durations()")
        days = durations["days"]
    else:
        days = pd.Series(durations)
    numbers = pd.to_numeric(days, errors="coerce").astype("float64")
    d = numbers[np.isfinite(numbers)].to_numpy(dtype="float64")
    ax = _axes(ax, (8.0, 4.5))
    title = _t("title_cycle_distribution", language)
    xlabel = _t("axis_cycle_days", language)
    ylabel = _t("axis_won_deals", language)
    if len(d) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    title = f"{title} ({_t('n_note', language, n=_num(len(d), language))})"
    opts: dict[str, Any] = {"bins": "auto" if len(d) > 1 else 1, "color": COLORS["base"], "alpha": 0.85,
                            "edgecolor": "white", "linewidth": 0.5, "gid": "cycle-hist"}
    ax.hist(d, **{**opts, **kwargs})
    mean, median = float(np.mean(d)), float(np.median(d))
    ax.axvline(mean, color=COLORS["accent"], linewidth=1.8, gid="mean",
               label=_t("legend_mean", language, value=_days(mean, language)))
    ax.axvline(median, color=COLORS["lost"], linewidth=1.8, linestyle="--", gid="median",
               label=_t("legend_median", language, value=_days(median, language)))
    ax.set_xlim(left=0)
    _number_axis(ax.yaxis, language, integer=True)
    _number_axis(ax.xaxis, language)
    _legend(ax, loc="upper right")
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_survival(
    curve: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    ci: bool | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw Kaplan–Meier curves of the share of deals not yet won, with the median marked.

    One step curve per group, starting at 100 % on day 0, with its pointwise confidence
    band, and a marker where it crosses 50 % (the median time to win; the median of
    ``attrs["medians"]`` when the table has it). The legend gives each group's deals and
    how many are still open (censored).

    Parameters
    ----------
    curve : DataFrame
        The table returned by :func:`~salesnb.cycle_survival`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    ci : bool, optional
        Draw the confidence bands (default: when there are at most three curves).
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.step` (each curve).

    Returns
    -------
    Axes
        Curves have ``gid="km-curve"``, median markers ``gid="km-median"``.
    """
    language = i18n.check_language(language)
    _require(curve, ["days", "survival"], "plot_survival", "cycle_survival()")
    col = _group_col(curve)
    ax = _axes(ax, (8.0, 4.6))
    title = _t("title_survival", language)
    xlabel = _t("axis_days_since_start", language)
    ylabel = _t("survival", language)
    if len(curve) == 0:
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    medians = curve.attrs.get("medians")
    med_by = (medians.set_index(col) if isinstance(medians, pd.DataFrame) and col in medians.columns
              else None)
    names = list(pd.unique(curve[col])) if col in curve.columns else [None]
    show_ci = (len(names) <= 3) if ci is None else ci
    ax.axhline(0.5, color=COLORS["muted"], linewidth=0.8, linestyle="--")
    palette = [COLORS["base"], COLORS["lost"], COLORS["won"], COLORS["flag"], COLORS["below"]]
    for i, name in enumerate(names):
        g = curve if name is None else curve[curve[col] == name]
        g = g.sort_values("days", kind="stable")
        x = np.concatenate([[0.0], g["days"].to_numpy(dtype="float64")])
        s = np.concatenate([[1.0], g["survival"].to_numpy(dtype="float64")])
        if med_by is not None and name in med_by.index:
            row = med_by.loc[name]
            n_deals, n_open = int(row.get("n", 0)), int(row.get("censored", 0))
            med = float(row.get("median_days", float("nan")))
        else:
            n_deals = int(g["at_risk"].iloc[0]) if "at_risk" in g.columns and len(g) else len(g)
            n_open = int(g["censored"].sum()) if "censored" in g.columns else 0
            below = np.flatnonzero(s <= 0.5)
            med = float(x[below[0]]) if len(below) else float("nan")
        group = i18n.translate_value(name if name is not None else "(all)", language)
        label = i18n.translate("km_curve", language, group=_esc(group), n=_num(n_deals, language),
                               c=_num(n_open, language))
        if len(names) > 1:  # one annotation per curve would collide: the median goes in the legend
            median_text = (i18n.translate("median_marker", language, value=_days(med, language))
                           if math.isfinite(med) else i18n.translate("no_median", language))
            label = f"{label}{'؛' if language == 'fa' else ';'} {median_text}"
        label = i18n.plot_text(label, language)
        opts: dict[str, Any] = {"where": "post", "linewidth": 1.8, "gid": "km-curve", "label": label}
        if len(names) <= len(palette):
            opts["color"] = palette[i]
        (line,) = ax.step(x, s, **{**opts, **kwargs})
        color = line.get_color()
        if show_ci and {"ci_low", "ci_high"} <= set(g.columns):
            low = np.concatenate([[1.0], g["ci_low"].to_numpy(dtype="float64")])
            high = np.concatenate([[1.0], g["ci_high"].to_numpy(dtype="float64")])
            low = np.where(np.isfinite(low), low, s)
            high = np.where(np.isfinite(high), high, s)
            ax.fill_between(x, low, high, step="post", color=color, alpha=0.12 if len(names) > 1 else 0.15,
                            linewidth=0,
                            gid="km-ci")
        if math.isfinite(med):
            ax.plot([med, med], [0, 0.5], color=color, linestyle=":", linewidth=1)
            ax.plot([med], [0.5], marker="o", color=color, markersize=6, linestyle="none", gid="km-median")
            if len(names) == 1:
                ax.annotate(_t("median_marker", language, value=_days(med, language)), (med, 0.5),
                            xytext=(6, 6), textcoords="offset points", fontsize="small", color=color)
    if show_ci:
        handles, _ = ax.get_legend_handles_labels()
        handles.append(Patch(color=COLORS["muted"], alpha=0.25, label=_t("legend_ci", language)))
        _legend(ax, handles, loc="upper right", outside=len(names) > 4)
    else:
        _legend(ax, loc="upper right", outside=len(names) > 4)
    ax.set_ylim(0, 1.03)
    ax.set_xlim(left=0)
    _number_axis(ax.yaxis, language, percent=True)
    _number_axis(ax.xaxis, language)
    ax.grid(alpha=0.3)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_size_bands(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw win rate (with its interval) and median cycle days per deal-size band.

    One x position per band (smallest first, ``(no amount)`` last), labelled with the
    band's amount range. The win rate is drawn as points with Wilson error bars on the
    given axes (left axis, 0–100 %); the median cycle of the won deals as grey bars on a
    **twin axis** (right, days) made with ``ax.twinx()``, drawn behind the points. So the
    question "do large deals close less often and more slowly?" reads off one chart.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.deal_size_bands`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    currency, amount_unit : str, optional
        The dataset's currency and amount unit, for the band ranges.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.errorbar` (the win rates).

    Returns
    -------
    Axes
        The win-rate axes; the twin axes holding the bars is in ``ax.figure.axes``.
    """
    language = i18n.check_language(language)
    _require(table, ["label", "win_rate", "ci_low", "ci_high", "median_cycle_days"], "plot_size_bands",
             "deal_size_bands()")
    n = len(table)
    ax = _axes(ax, (max(6.5, 1.4 * n + 2.5), 4.6))
    amounts = pd.concat([table.get("amount_min", pd.Series(dtype="float64")),
                         table.get("amount_max", pd.Series(dtype="float64"))])
    div, unit = _scale(amounts, currency, amount_unit, language)
    title = _t("title_size_bands", language)
    xlabel = _t("axis_size_band", language, unit=_unit_text(unit, language))
    ylabel = _t("win_rate", language)
    closed = pd.to_numeric(table.get("closed", pd.Series(np.nan, index=table.index)),
                           errors="coerce").to_numpy(dtype="float64")
    if n == 0 or (np.isfinite(closed).any() and np.nansum(closed) == 0):
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    x = np.arange(n, dtype="float64")
    twin = ax.twinx()
    cycle = pd.to_numeric(table["median_cycle_days"], errors="coerce").to_numpy(dtype="float64")
    twin.bar(x, np.nan_to_num(cycle), width=0.55, color=COLORS["light"], alpha=0.7, gid="cycle-bars",
             label=_t("median_cycle_bar", language))
    twin.set_ylabel(_t("axis_median_cycle", language))
    twin.set_ylim(0, (np.nanmax(cycle) if np.isfinite(cycle).any() else 1.0) * 1.25)
    _number_axis(twin.yaxis, language)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    rate = pd.to_numeric(table["win_rate"], errors="coerce").to_numpy(dtype="float64")
    low = pd.to_numeric(table["ci_low"], errors="coerce").to_numpy(dtype="float64")
    high = pd.to_numeric(table["ci_high"], errors="coerce").to_numpy(dtype="float64")
    has = np.isfinite(rate)
    err = np.vstack([np.clip(rate - low, 0, None), np.clip(high - rate, 0, None)])[:, has]
    opts: dict[str, Any] = {"fmt": "o", "color": COLORS["base"], "elinewidth": 1.5, "capsize": 4,
                            "markersize": 7, "label": _t("win_rate_point", language)}
    ax.errorbar(x[has], rate[has], yerr=err, **{**opts, **kwargs})
    for xi, hi, ok, c in zip(x, high, has, closed, strict=True):
        if ok and np.isfinite(c):
            ax.text(xi, hi + 0.02, _t("n_note", language, n=_num(c, language)), ha="center",
                    va="bottom", fontsize="x-small", color=COLORS["muted"])
        elif not ok:
            ax.text(xi, 0.05, _t("no_data", language), ha="center", fontsize="small",
                    color=COLORS["muted"])
    labels = []
    lo_col = table.get("amount_min", pd.Series(np.nan, index=table.index))
    hi_col = table.get("amount_max", pd.Series(np.nan, index=table.index))
    for name, a, b in zip(table["label"], lo_col, hi_col, strict=True):
        text = i18n.translate_value(name, language)
        if pd.notna(a) and pd.notna(b):
            lo_s = _num(a / div, language, _sig_decimals(a / div))
            hi_s = _num(b / div, language, _sig_decimals(b / div))
            text = f"{text}\n{lo_s}–{hi_s}"
        labels.append(i18n.plot_text(_esc(text), language))
    ax.set_xticks(x, labels=labels)
    ax.set_xlim(-0.6, n - 0.4)
    top = float(np.nanmax(np.where(has, high, 0.0))) if has.any() else 1.0
    ax.set_ylim(0, min(1.0, top + 0.15) if top < 0.85 else 1.08)
    _number_axis(ax.yaxis, language, percent=True)
    ax.grid(axis="y", alpha=0.3)
    h1, _ = ax.get_legend_handles_labels()
    h2, _ = twin.get_legend_handles_labels()
    # Below the axes: points and bars can reach any height inside.
    _legend_below(ax, [*h1, *h2], ncols=2, drop=52.0)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel, others=[twin])


def _sig_decimals(value: float) -> int:
    """Decimals showing 3 significant digits, at most 2 (``0.48``, ``4.16``, ``50.0``, ``588``)."""
    v = abs(float(value))
    if v == 0 or v >= 100:
        return 0
    return int(min(2, max(0, 2 - math.floor(math.log10(v)))))


# =========================================================================== targets and forecasts
def plot_attainment(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    forecast: pd.DataFrame | None = None,
    measure: str = "won_amount",
    **kwargs: Any,
) -> Axes:
    """Draw each group's attainment: actual ÷ target, with the pace and the forecast range.

    One horizontal bar per group (best attainment on top), green when the actual is at
    or ahead of the expected-by-now pace, orange when behind; a solid line at 100 % (the
    target) and a dashed one at the share of business days elapsed (the pace: where
    everybody should be by now). With ``forecast`` (a :func:`~salesnb.forecast` table of
    the same groups), a diamond at the expected outcome ÷ target and a whisker over its
    10–90 % range. Groups without a target are listed at the bottom with "no target".

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.attainment` (by owner or team).
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    forecast : DataFrame, optional
        A :func:`~salesnb.forecast` table of the same period and groups.
    measure : str, default "won_amount"
        The measure drawn (the rows of ``table`` with it).
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    Axes
    """
    language = i18n.check_language(language)
    _require(table, ["measure", "target", "actual", "expected_by_now"], "plot_attainment", "attainment()")
    t = table[table["measure"] == measure].reset_index(drop=True)
    col = next((c for c in t.columns if c not in {"period", "period_start", "period_end", "measure", "target",
                                                  "actual", "attainment", "expected_by_now", "gap",
                                                  "remaining", "pipeline", "coverage"}), "group")
    n = len(t)
    ax = _axes(ax, (8.5, max(3.0, 0.45 * n + 1.8)))
    title = _t("title_attainment", language, group=_group_noun(col, language))
    xlabel = _t("axis_share_of_target", language)
    ylabel = _d(i18n.translate(col, language) if col in ("owner", "team", "group") else col, language)
    target = t["target"].to_numpy(dtype="float64")
    has = np.isfinite(target) & (target > 0)
    if n == 0 or not has.any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    share = np.where(has, t["actual"].to_numpy(dtype="float64") / np.where(has, target, 1.0), np.nan)
    pace = np.where(has, t["expected_by_now"].to_numpy(dtype="float64") / np.where(has, target, 1.0), np.nan)
    order = np.lexsort((np.arange(n), -np.where(has, share, -np.inf)))
    t, share, pace, has = t.iloc[order].reset_index(drop=True), share[order], pace[order], has[order]
    y = np.arange(n)[::-1].astype("float64")
    ahead = share >= pace - 1e-12
    colors = [COLORS["won"] if a else COLORS["flag"] for a in ahead]
    opts: dict[str, Any] = {"height": 0.6, "color": colors}
    ax.barh(y[has], share[has], **{**opts, "color": [c for c, h in zip(colors, has, strict=True) if h], **kwargs})
    right = float(np.nanmax(share[has]))
    cap = 3.0  # the axis ends at 300 % at most: longer bars end at the edge, labelled there
    for yi, s, ok in zip(y, share, has, strict=True):
        if ok and s > cap * 1.1:
            ax.text(cap * 1.1 * 0.99, yi, _num(s, language, 0, percent=True) + " ▸", va="center", ha="right",
                    fontsize="small", color="white", fontweight="bold")
        elif ok:
            ax.text(s + 0.01, yi, _num(s, language, 0, percent=True), va="center", ha="left", fontsize="small")
        else:
            ax.text(0.01, yi, _t("no_target", language), va="center", ha="left", fontsize="small",
                    color=COLORS["muted"], gid="no-target-row")
    ax.axvline(1.0, color=COLORS["accent"], linewidth=1.2)
    elapsed = float(np.nanmax(pace)) if np.isfinite(pace).any() else np.nan
    handles: list[Any] = [Line2D([], [], color=COLORS["accent"], linewidth=1.2, label=_t("legend_target", language))]
    if np.isfinite(elapsed) and elapsed < 1.0 - 1e-9:
        ax.axvline(elapsed, color=COLORS["muted"], linestyle="--", linewidth=1.2)
        handles.append(Line2D([], [], color=COLORS["muted"], linestyle="--", linewidth=1.2,
                              label=_t("legend_pace", language, pct=_num(elapsed, language, 0, percent=True))))
    handles += [Patch(color=COLORS["won"], label=_t("legend_on_pace", language)),
                Patch(color=COLORS["flag"], label=_t("legend_behind", language))]
    if forecast is not None and len(forecast):
        _require(forecast, ["expected_amount", "amount_low", "amount_high"], "plot_attainment",
                 "forecast()")
        f = forecast.set_index(col) if col in forecast.columns else None
        if f is not None:
            kind = "amount" if measure == "won_amount" else "count"
            exp_col = "expected_amount" if kind == "amount" else "expected_count"
            names = t[col].astype(str)
            ex = names.map(f[exp_col]).to_numpy(dtype="float64") / np.where(has, target, np.nan)
            lo = names.map(f[f"{kind}_low"]).to_numpy(dtype="float64") / np.where(has, target, np.nan)
            hi = names.map(f[f"{kind}_high"]).to_numpy(dtype="float64") / np.where(has, target, np.nan)
            ok = has & np.isfinite(ex)
            ax.errorbar(ex[ok], y[ok] - 0.0, xerr=np.vstack([np.clip(ex - lo, 0, None), np.clip(hi - ex, 0, None)])[:, ok],
                        fmt="D", color=COLORS["base"], markersize=5, elinewidth=1.4, capsize=3, gid="forecast")
            handles.append(Line2D([], [], color=COLORS["base"], marker="D", markersize=5,
                                  label=_t("legend_forecast", language)))
            if ok.any():
                right = max(right, float(np.nanmax(hi[ok])))
    ax.set_xlim(0, max(1.15, min(right * 1.12, cap * 1.1)))
    ax.set_yticks(y, labels=[_d(v, language) for v in t[col]])
    ax.set_ylim(-0.7, n - 0.3)
    _number_axis(ax.xaxis, language, percent=True)
    ax.grid(axis="x", alpha=0.3)
    _legend_below(ax, handles, ncols=2, drop=36.0)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def _date_ticks(ax: Axes, times: pd.Series, calendar: str, language: str, n: int = 6) -> None:
    """Label a time axis with a few dates written in ``calendar``."""
    from salesnb import periods

    times = pd.Series(times).dropna().sort_values()
    if not len(times):
        return
    picks = times.iloc[np.unique(np.linspace(0, len(times) - 1, min(n, len(times))).round().astype(int))]
    labels = [i18n.plot_text(periods.format_date(ts, calendar=calendar), language) for ts in picks]
    ax.set_xticks([ts.to_pydatetime() for ts in picks], labels=labels)


def plot_forecast_fan(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    currency: str | None = None,
    amount_unit: str = "auto",
    calendar: str = "gregorian",
    **kwargs: Any,
) -> Axes:
    """Draw the won amount of a period: so far, the forecast fan to the end, the target and its pace.

    The amount won by each day up to ``as_of`` (a step line), then salesnb's expected
    outcome (dashed) inside its 10–90 % band widening to the period's end; the target as
    a horizontal line and its pace by business days (flat over weekends and holidays).

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`salesnb.metrics.forecasting.forecast_fan`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    currency, amount_unit : str, optional
        The dataset's currency and amount unit.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        Calendar of the dates on the time axis.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.fill_between` (the band).

    Returns
    -------
    Axes
    """
    language = i18n.check_language(language)
    _require(table, ["at", "actual", "expected", "low", "high", "pace"], "plot_forecast_fan", "forecast_fan()")
    ax = _axes(ax, (9.0, 4.6))
    target = float(table.attrs.get("target", np.nan))
    values = np.concatenate([table[c].to_numpy(dtype="float64") for c in ("actual", "high", "pace")] + [[target]])
    div, unit = _scale(values, currency, amount_unit, language)
    title = _t("title_fan", language, period=_d(table.attrs.get("label", ""), language))
    ylabel = _t("axis_won_in_period", language, unit=_unit_text(unit, language))
    if not len(table):
        return _empty(ax, language, title=title, xlabel="", ylabel=ylabel)
    at = pd.to_datetime(table["at"])
    x = np.array([ts.to_pydatetime() for ts in at])
    actual = table["actual"].to_numpy(dtype="float64") / div
    seen = np.isfinite(actual)
    handles: list[Any] = []
    if seen.any():
        ax.step(x[seen], actual[seen], where="post", color=COLORS["won"], linewidth=2)
        handles.append(Line2D([], [], color=COLORS["won"], linewidth=2, label=_t("legend_actual", language)))
    fan = np.isfinite(table["expected"].to_numpy(dtype="float64"))
    if fan.sum() > 1:
        lo = table["low"].to_numpy(dtype="float64")[fan] / div
        hi = table["high"].to_numpy(dtype="float64")[fan] / div
        ex = table["expected"].to_numpy(dtype="float64")[fan] / div
        ax.fill_between(x[fan], lo, hi, **{"color": COLORS["base"], "alpha": 0.2, "linewidth": 0, **kwargs})
        ax.plot(x[fan], ex, color=COLORS["base"], linestyle="--", linewidth=1.8, marker="o", markersize=3)
        handles += [Line2D([], [], color=COLORS["base"], linestyle="--", label=_t("legend_expected", language)),
                    Patch(color=COLORS["base"], alpha=0.2, label=_t("legend_fan", language))]
    pace = table["pace"].to_numpy(dtype="float64")
    if np.isfinite(target):
        ax.plot(x, pace / div, color=COLORS["muted"], linestyle=":", linewidth=1.5)
        ax.axhline(target / div, color=COLORS["accent"], linewidth=1.2)
        handles += [Line2D([], [], color=COLORS["muted"], linestyle=":", label=_t("legend_pace_line", language)),
                    Line2D([], [], color=COLORS["accent"], label=_t("legend_target_line", language))]
    as_of = table.attrs.get("as_of")
    if as_of is not None:
        ax.axvline(pd.Timestamp(as_of).to_pydatetime(), color=COLORS["light"], linewidth=1)  # type: ignore[arg-type]
    _date_ticks(ax, at, calendar, language)
    ax.set_ylim(bottom=0)
    _number_axis(ax.yaxis, language)
    ax.grid(axis="y", alpha=0.3)
    _legend(ax, handles, loc="upper left")
    return _finish(ax, language, title=title, ylabel=ylabel)


def plot_forecast_accuracy(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw past forecasts of the won amount against what happened, period by period.

    Per period: the actual (black dot), salesnb's forecast with its 10–90 % range
    (blue), the stage-weighted pipeline (orange cross) and the CRM's commit (purple,
    when present). A forecast far above the rest (more than three times the largest
    actual or range) is drawn as a triangle at the top edge, its value in the table.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.forecast_backtest` (``by=None``).
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    currency, amount_unit : str, optional
        The dataset's currency and amount unit.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.errorbar` (salesnb's forecasts).

    Returns
    -------
    Axes
    """
    language = i18n.check_language(language)
    _require(table, ["period", "method", "forecast_amount", "amount_low", "amount_high", "actual_amount"],
             "plot_forecast_accuracy", "forecast_backtest()")
    order = _period_order(table) if len(table) else []
    n = len(order)
    ax = _axes(ax, (max(6.5, 0.8 * n + 3), 4.6))
    days = table.attrs.get("lead_days", 0)
    title = _t("title_accuracy", language, days=_num(days, language))
    div, unit = _scale(np.concatenate([table["actual_amount"].to_numpy(dtype="float64"),
                                       table["amount_high"].to_numpy(dtype="float64")]), currency, amount_unit,
                       language)
    ylabel = _t("axis_won_in_period", language, unit=_unit_text(unit, language))
    if n == 0:
        return _empty(ax, language, title=title, xlabel="", ylabel=ylabel)
    pos = {p: i for i, p in enumerate(order)}
    first = table.drop_duplicates("period").set_index("period")
    x = np.arange(n, dtype="float64")
    actual = first.loc[order, "actual_amount"].to_numpy(dtype="float64") / div
    ours = table[table["method"] == "salesnb"].set_index("period").reindex(order)
    ex = ours["forecast_amount"].to_numpy(dtype="float64") / div
    lo = ours["amount_low"].to_numpy(dtype="float64") / div
    hi = ours["amount_high"].to_numpy(dtype="float64") / div
    top = float(np.nanmax(np.concatenate([actual, hi, [0.0]]))) * 1.15 or 1.0
    handles: list[Any] = []
    ok = np.isfinite(ex)
    opts: dict[str, Any] = {"fmt": "o", "color": COLORS["base"], "elinewidth": 2, "capsize": 4, "markersize": 6}
    ax.errorbar(x[ok] - 0.12, ex[ok], yerr=np.vstack([np.clip(ex - lo, 0, None), np.clip(hi - ex, 0, None)])[:, ok],
                **{**opts, **kwargs})
    handles.append(Line2D([], [], color=COLORS["base"], marker="o", label=_t("legend_salesnb", language)))
    off = False
    for method, color, marker, key in (("stage_weighted", COLORS["flag"], "X", "legend_stage_weighted"),
                                       ("forecast_category", COLORS["below"], "s", "legend_commit")):
        part = table[table["method"] == method]
        if not len(part):
            continue
        xs = np.array([pos[p] for p in part["period"]], dtype="float64") + 0.12
        ys = part["forecast_amount"].to_numpy(dtype="float64") / div
        inside = ys <= top
        ax.scatter(xs[inside], ys[inside], color=color, marker=marker, s=45, zorder=3)
        if (~inside).any():
            off = True
            ax.scatter(xs[~inside], np.full((~inside).sum(), top * 0.97), color=color, marker="^", s=55, zorder=3,
                       gid=f"off-scale-{method}")
        handles.append(Line2D([], [], color=color, marker=marker, linestyle="", label=_t(key, language)))
    ax.scatter(x, actual, color=COLORS["accent"], s=40, zorder=4)
    handles.append(Line2D([], [], color=COLORS["accent"], marker="o", linestyle="",
                          label=_t("legend_actual_outcome", language)))
    if off:
        handles.append(Line2D([], [], color=COLORS["muted"], marker="^", linestyle="",
                              label=_t("off_scale", language)))
    ax.set_ylim(0, top)
    ax.set_xticks(x, labels=[_d(p, language) for p in order])
    ax.set_xlim(-0.6, n - 0.4)
    _number_axis(ax.yaxis, language)
    ax.grid(axis="y", alpha=0.3)
    _legend_below(ax, handles, ncols=3, drop=30.0)
    return _finish(ax, language, title=title, ylabel=ylabel)


# =========================================================================== pipeline movement
#: The steps of the pipeline walk, in order: (flow, kind). ``total`` bars stand on zero,
#: ``up`` adds to the running total, ``down`` takes away; the amount changes
#: (``increased``, ``decreased``) are steps of the walk by value only.
MOVEMENT_STEPS = (("open_start", "total"), ("created", "up"), ("reassigned_in", "up"),
                  ("reassigned_out", "down"), ("increased", "up"), ("decreased", "down"),
                  ("won", "down"), ("lost", "down"), ("open_end", "total"))
_PERIOD_COLUMNS = frozenset({"period", "period_start", "period_end"})


def movement_steps(row: Any, measure: str = "count") -> list[tuple[str, float, str]]:
    """The steps of one row of a :func:`~salesnb.pipeline_movement` table: ``(flow, value, kind)``.

    Examples
    --------
    >>> row = {"open_start_count": 10, "created_count": 4, "reassigned_in_count": 0,
    ...        "reassigned_out_count": 0, "won_count": 3, "lost_count": 2, "open_end_count": 9}
    >>> [(f, v) for f, v, _ in movement_steps(row)][-3:]
    [('won', 3.0), ('lost', 2.0), ('open_end', 9.0)]
    """
    measure = _check_measure(measure)
    suffix = "_count" if measure == "count" else "_value"
    return [(flow, float(row[f"{flow}{suffix}"]), kind) for flow, kind in MOVEMENT_STEPS
            if measure == "value" or flow not in ("increased", "decreased")]


def plot_pipeline_movement(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    measure: str = "count",
    group: str | None = None,
    currency: str | None = None,
    amount_unit: str = "auto",
    **kwargs: Any,
) -> Axes:
    """Draw the walk of the open pipeline as a waterfall: open at start, the flows, open at end.

    One bar per step of :data:`MOVEMENT_STEPS`: the open pipeline at the start (from
    zero), then each flow floating on the running total — created and reassigned in
    added (green), reassigned out, won and lost taken away (orange); by value also the
    amount increases and decreases — and the open pipeline at the end (from zero). The
    table balances, so the running total after the last flow is the top of the last
    bar. Each bar is labelled with its signed value.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.pipeline_movement` (without ``period``, or
        with one period).
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    measure : {"count", "value"}, default "count"
        The walk by number of deals or by amount.
    group : str, optional
        The row (a value of the group column) to draw; default: the sum of the rows
        shown (a table per team gives the team total).
    currency, amount_unit : str, optional
        For ``measure="value"``: the dataset's currency and amount unit. When the table
        is split by currency (a ``currency`` column: several currencies and no rates),
        the value walk draws one currency's rows — ``currency`` when the table has it,
        else the currency with the most deals — and the title names it (counts add
        across currencies; amounts never do).
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.bar`.

    Returns
    -------
    Axes
        The bars are ``ax.containers[0]`` (``gid="steps"``), in step order.
    """
    language = i18n.check_language(language)
    measure = _check_measure(measure)
    suffix = "_count" if measure == "count" else "_value"
    needed = [f"{flow}{suffix}" for flow, _ in MOVEMENT_STEPS
              if measure == "value" or flow not in ("increased", "decreased")]
    _require(table, needed, "plot_pipeline_movement", "pipeline_movement()")
    if "period" in table.columns and table["period"].nunique() > 1:
        raise PlotInputError("plot_pipeline_movement() draws one window: pass the table of "
                             "pipeline_movement() without period, or one period's rows")
    col = next((str(c) for c in table.columns if not str(c).endswith(("_count", "_value"))
                and c not in _PERIOD_COLUMNS and c not in ("balanced", "currency")), "group")
    split_code = None
    if measure == "value" and "currency" in table.columns:
        deals = table.assign(_n=table["open_start_count"] + table["created_count"])
        deals = deals[deals["currency"].astype(str) != ""]
        codes = deals.groupby("currency", sort=True)["_n"].sum().sort_values(ascending=False, kind="stable")
        if len(codes) > 1 or (len(codes) == 1 and codes.index[0] != currency):
            split_code = currency if currency in codes.index else str(codes.index[0])
            table = table[table["currency"].astype(str) == split_code]
            currency = split_code
    rows = table
    if group is not None:
        if col not in table.columns or not (table[col] == group).any():
            shown = sorted(map(str, table[col])) if col in table.columns else []
            raise PlotInputError(f"plot_pipeline_movement(): no row {group!r} in the table (its "
                                 f"{col} values: {', '.join(shown) or 'none'})")
        rows = table[table[col] == group]
    label = group if group is not None else (str(rows[col].iloc[0]) if len(rows) == 1 and col in rows else "(all)")
    ax = _axes(ax, (9.0, 4.2))
    div, unit = (1.0, "")
    if measure == "value":
        div, unit = _scale(rows[needed].to_numpy().ravel() if len(rows) else [], currency, amount_unit, language)
        ylabel = _t("axis_movement_value", language, unit=_unit_text(unit, language))
    else:
        ylabel = _t("axis_deals", language)
    title = _t(f"title_movement_{measure}", language, group=i18n.translate_value(label, language))
    if split_code is not None:
        title = f"{title} · {split_code}"
    xlabel = _t("axis_walk", language)
    total = rows[needed].sum()
    steps = movement_steps(total, measure)
    if not len(rows) or not any(v for _, v, _ in steps):
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    bottoms, heights, colours = [], [], []
    colour = {"total": COLORS["base"], "up": COLORS["won"], "down": COLORS["lost"]}
    running = 0.0
    for _, value, kind in steps:
        if kind == "total":
            bottom, running = 0.0, value
        elif kind == "up":
            bottom, running = running, running + value
        else:
            bottom, running = running - value, running - value
        bottoms.append(bottom / div)
        heights.append(value / div)
        colours.append(colour[kind])
    x = np.arange(len(steps))
    opts: dict[str, Any] = {"color": colours, "width": 0.65, "gid": "steps", "edgecolor": "white"}
    bars = ax.bar(x, heights, bottom=bottoms, **{**opts, **kwargs})
    # Connectors: the running total carried from one bar to the next.
    for i in range(len(steps) - 1):
        kind = steps[i][2]
        level = bottoms[i] + heights[i] if kind in ("total", "up") else bottoms[i]
        ax.plot([i + 0.33, i + 0.67], [level, level], color=COLORS["muted"], linewidth=0.8,
                linestyle=":", gid="connector")
    texts = []
    for (_, _, kind), h in zip(steps, heights, strict=True):
        sign = "" if kind == "total" else ("+" if kind == "up" else "−")
        d = 0 if measure == "count" else (2 if abs(h) < 10 else 1 if abs(h) < 100 else 0)
        texts.append(sign + _num(h, language, d))
    ax.bar_label(bars, labels=texts, padding=2, fontsize="small")
    ax.set_xticks(x, labels=[_t(f"step_{flow}", language) for flow, _, _ in steps])
    ax.tick_params(axis="x", labelsize="small")
    if len(steps) > 7:  # nine steps (the walk by value) in a half-width panel: slanted, or neighbours touch
        for tick in ax.get_xticklabels():
            tick.set(rotation=30, ha="right", rotation_mode="anchor", fontsize="x-small")
    # Explicit limits: a falling bar drawn down from the top leaves a sticky edge there,
    # which stops matplotlib's margin, so the tallest bar and its label would touch the title.
    top = max((b + max(h, 0.0) for b, h in zip(bottoms, heights, strict=True)), default=0.0)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    _number_axis(ax.yaxis, language, integer=measure == "count")
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)


def plot_stage_movement(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    language: str = "en",
    stages: Sequence[str] | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the stage-movement matrix: deals by stage at the start (rows) × at the end (columns).

    Rows: ``(new)`` (created in the window), the funnel's stages, ``(unknown)``;
    columns: the stages, then ``(won)``, ``(lost)``, ``(unknown)``. Cells right of the
    diagonal advanced, left of it slipped back, on it did not move. A table split by a
    group column is summed per cell.

    Parameters
    ----------
    table : DataFrame
        The table returned by :func:`~salesnb.stage_movement`.
    ax : Axes, optional
        Axes to draw on (default: a new figure).
    language : {"en", "fa"}, default "en"
    stages : list of str, optional
        The funnel's open stages in order (``data.settings.stages``); without it, the
        stages found, alphabetically.
    **kwargs
        Passed to :func:`seaborn.heatmap`.

    Returns
    -------
    Axes
        With one QuadMesh in ``ax.collections`` (and a colour bar beside it).
    """
    import seaborn as sns

    language = i18n.check_language(language)
    _require(table, ["from_stage", "to_stage", "count"], "plot_stage_movement", "stage_movement()")
    ax = _axes(ax, (8.0, 4.8))
    title = _t("title_stage_movement", language)
    xlabel, ylabel = _t("axis_stage_end", language), _t("axis_stage_start", language)
    if not len(table) or not pd.to_numeric(table["count"], errors="coerce").fillna(0).any():
        return _empty(ax, language, title=title, xlabel=xlabel, ylabel=ylabel)
    grid = table.pivot_table(index="from_stage", columns="to_stage", values="count", aggfunc="sum",
                             fill_value=0)
    found = {str(s) for s in (*grid.index, *grid.columns)}
    extra = {"(new)", "(won)", "(lost)", "(unknown)"}
    order = [str(s) for s in stages] if stages is not None else sorted(found - extra)
    order += sorted(s for s in found - extra - set(order))
    rows = [s for s in ["(new)", *order, "(unknown)"] if s in set(map(str, grid.index)) or s in order]
    cols = [*order, "(won)", "(lost)", *(["(unknown)"] if "(unknown)" in set(map(str, grid.columns)) else [])]
    grid = grid.reindex(index=rows, columns=cols, fill_value=0)
    counts = grid.to_numpy(dtype="float64")
    annot = np.array([[_num(v, language) if v else "" for v in row] for row in counts], dtype=object)
    opts: dict[str, Any] = {
        "annot": annot, "fmt": "", "cmap": "Blues", "linewidths": 0.5, "linecolor": "white",
        "xticklabels": [_d(s, language) for s in grid.columns],
        "yticklabels": [_d(s, language) for s in grid.index],
    }
    sns.heatmap(counts, ax=ax, **{**opts, **kwargs})
    ax.tick_params(axis="x", labelrotation=0, labelsize="small")
    ax.tick_params(axis="y", labelrotation=0)
    others = _count_colorbar(ax, _t("axis_deals", language), language)
    return _finish(ax, language, title=title, xlabel=xlabel, ylabel=ylabel, others=others)
