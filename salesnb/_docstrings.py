"""Parameter descriptions written once and formatted into the docstrings (seaborn's pattern).

A docstring decorated with :func:`fill_doc` may hold, on a line of its own, a
placeholder ``{name}`` naming one of :data:`FRAGMENTS`; it is replaced by that
fragment, indented like the placeholder. Only such whole-line placeholders are
touched: braces elsewhere (sets of choices, dicts in examples) stay as written, and an
unknown name is an error when the module is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = ["FRAGMENTS", "fill_doc"]

F = TypeVar("F", bound=Callable[..., object])

#: Shared numpydoc fragments: a parameter line at column 0, its description indented 4.
FRAGMENTS: dict[str, str] = {
    "data": """\
data : SalesData
    The dataset (:func:`salesnb.load`, :meth:`salesnb.SalesData.from_frames`).""",
    "window": """\
start, end : str, date or Timestamp, optional
    The half-open window ``[start, end)``. Text is read in ``calendar`` and the
    dataset's time zone. Default: from the first creation to the midnight after the
    last event.
as_of : str, date or Timestamp, optional
    The moment the window is seen from: what happened after it has not happened
    (default ``end``; not before it).""",
    "as_of_moment": """\
as_of : str, date or Timestamp, optional
    The moment to look from: what happened after it has not happened. Text is read in
    ``calendar`` (default: the last event in the data).""",
    "calendar": """\
calendar : {"gregorian", "jalali"}, optional
    Calendar of date strings and of periods, any case (default: the dataset's).""",
    "period": """\
period : {"day", "week", "month", "quarter", "year"} or None
    Split by period, in ``calendar`` (weeks start on the dataset's ``week_start``);
    None for one row per group over the whole window.""",
    "period_required": """\
period : {"day", "week", "month", "quarter", "year"}, default "month"
    The periods, in ``calendar`` (weeks start on the dataset's ``week_start``).""",
    "by": """\
by : str or None, default "owner"
    Column of the opportunities to group by (any case); None for the team total.""",
    "pipelines": """\
pipelines : list of str, optional
    Only the deals of these pipelines (values of the ``pipeline`` column); None or
    empty: every deal. An unknown name, or no ``pipeline`` column, is an error.""",
    "by_none": """\
by : str or None, default None
    Column of the opportunities to group by (any case); None for the team total.""",
    "band": """\
band : float, default 0.5
    Relative distance from the mean won amount beyond which an open deal's amount is
    flagged: above ``mean * (1 + band)``, below ``mean * (1 - band)``.""",
    "confidence": """\
confidence : float, default 0.95
    Confidence level of the intervals.""",
    "cycle_events": """\
start_event : str, default "created"
    Where the cycle starts: ``created``, or a stage name (its first entry).
end_event : str, default "won"
    Where it ends: ``won`` (the closing of a won deal), or a stage name (its first
    entry).
business_days : bool, default False
    Count only business days (weekend and holidays from the settings).""",
    "period_columns": """\
With a ``period``, every row starts with ``period``, ``period_start`` and
``period_end``; a row for every period × group known at ``as_of``, zeros included.""",
    "risk_horizon": """\
horizon_days : float, default 90
    Horizon of ``p_win_horizon``, in days.""",
    "risk_model": """\
size_bands : int, default 3
    Number of deal-size bands (amount quantiles) the estimate is stratified by;
    1: no size stratification (deals without an amount still form a band of their
    own).
prior_strength : float, default 20
    Pseudo-count of the shrinkage toward coarser comparable sets (in effective
    deals); 0: no pooling unless a set is empty.
min_comparable : float, default 10
    Fewest effective comparable deals at the deal's age before the age is lowered.
min_at_risk : int, default 1
    Each comparable set's curve is followed while at least this many of its deals
    are still open; the share undecided then is extrapolated with ``π``. Raising it
    steadies the tail but leans more on ``π`` (on the synthetic test data, where
    late closings are mostly losses, 1 was the most accurate).""",
    "risk_min_closed": """\
min_closed : int, default 200
    Fewest won and fewest lost deals closed by ``as_of`` for the model to be used;
    below, the stage baseline (the won share of the closed deals that reached the
    deal's stage) stands in for it, and the output says so. 0: always the model.""",
    "target_period": """\
period : str or (start, end)
    The period: a label in ``calendar`` (``1404-07``, ``1404-Q3``, ``1404``, ``2025-10``,
    ``2025-W07``...) or a ``(start, end)`` pair.""",
    "as_of_period": """\
as_of : str, date or Timestamp, optional
    The moment the period is seen from, with what was known then; it may lie inside
    the period or before it (default: its end or the last event in the data, whichever
    comes first).""",
    "new_deals": """\
new_deals : bool, default True
    Add the deals not created yet at ``as_of`` that will be won within the period: as
    many, with amounts like them, as the same stretch of time brought in up to 6 past
    stretches (False: only the deals open at ``as_of``, the issue's bare formula).""",
    "draws": """\
draws : int, default 10000
    Draws of the simulation of the won amount.
seed : int, default 16
    Seed of the simulation's random generator (the same data give the same interval).""",
    "load_sample": """\
>>> import salesnb as sn
>>> data = sn.load(sn.sample_path())""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>[a-z_]+)\}[ \t]*$", re.MULTILINE)


def fill_doc(func: F) -> F:
    """Replace the whole-line ``{name}`` placeholders of ``func``'s docstring by fragments.

    Examples
    --------
    >>> @fill_doc
    ... def f(data):
    ...     '''Do nothing.
    ...
    ...     Parameters
    ...     ----------
    ...     {data}
    ...     '''
    >>> print(f.__doc__.splitlines()[4].strip())
    data : SalesData
    """
    doc = func.__doc__ or ""

    def replace(match: re.Match[str]) -> str:
        name, indent = match["name"], match["indent"]
        if name not in FRAGMENTS:
            raise KeyError(f"{func.__qualname__}: no docstring fragment {name!r} "
                           f"(known: {', '.join(FRAGMENTS)})")
        return "\n".join(indent + line if line else line for line in FRAGMENTS[name].splitlines())

    func.__doc__ = _PLACEHOLDER.sub(replace, doc)
    return func
