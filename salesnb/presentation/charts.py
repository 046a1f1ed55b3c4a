"""Charts drawn by the browser: HTML and inline SVG for the dashboard app and the report index.

matplotlib renders a chart to pixels in Python (about a quarter of a second per figure);
the dashboard redraws on every filter change, so its charts are small SVG and HTML
strings instead, built in well under a millisecond and drawn by the browser: text in any
script (Persian is laid out right to left by the browser itself, no shaping), sharp at
any zoom, a few kilobytes, nothing fetched. Each chart has a fixed aspect ratio, so its
box has its final size before it is painted (nothing below it moves).

Like the plot functions, these take KPI tables (or plain numbers) and compute nothing:
the callers pass the values, labels and flags. Every function returns HTML text; the
numbers in it are written in the language's digits.

* :func:`sparkline` — a small line of a KPI per period, partial periods hollow;
* :func:`kpi_tiles` — the headline numbers with their change and sparkline;
* :func:`won_lost_bars` — won and lost per period, partial periods hatched;
* :func:`funnel_bars` — reached, lost and conversion per stage;
* :func:`waterfall` — a walk from a start value to an end value (pipeline movement);
* :func:`progress_bars` — actual against target per group (attainment);
* :func:`html_table` — a table for people, right to left in Persian, long text wrapped.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salesnb.presentation import i18n

__all__ = [
    "COLORS",
    "Tile",
    "direction",
    "funnel_bars",
    "html_table",
    "kpi_tiles",
    "progress_bars",
    "sparkline",
    "waterfall",
    "won_lost_bars",
]

#: The plots' colour-blind-safe colours (seaborn's "colorblind" palette), same meanings.
COLORS = {"base": "#0173b2", "won": "#029e73", "lost": "#d55e00", "flag": "#de8f05",
          "muted": "#6b7280", "grid": "#e5e7eb", "text": "#1f2937", "up": "#027a55",
          "down": "#b42318"}


def direction(language: str) -> str:
    """Return the text direction of ``language``: ``rtl`` for Persian, else ``ltr``.

    Examples
    --------
    >>> direction("fa"), direction("en")
    ('rtl', 'ltr')
    """
    return "rtl" if i18n.check_language(language) == "fa" else "ltr"


def _esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _digits(text: object, language: str) -> str:
    return i18n.persian_digits(text) if language == "fa" else str(text)


def _finite(values: Sequence[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


# --------------------------------------------------------------------------- sparkline
def sparkline(values: Sequence[float | None], *, partial: Sequence[bool] | None = None,
              width: int = 120, height: int = 30, color: str = COLORS["base"],
              label: str = "") -> str:
    """Draw a small line of one value per period as inline SVG.

    Parameters
    ----------
    values : sequence of float or None
        One value per period, oldest first; None or NaN leaves a gap.
    partial : sequence of bool, optional
        Per period: True for a period the window covers only in part. Its point is
        drawn hollow and the line into it dashed, so a short period does not read as a
        drop.
    width, height : int
        Size of the drawing in CSS pixels.
    color : str
        Line colour.
    label : str
        Accessible name (``aria-label``).

    Returns
    -------
    str
        An ``<svg>`` element (empty drawing when fewer than two values are known).

    Examples
    --------
    >>> svg = sparkline([3, 5, 4, 6], partial=[True, False, False, False])
    >>> svg.startswith("<svg") and svg.count("<circle") == 4
    True
    """
    n = len(values)
    flags = list(partial) if partial is not None else [False] * n
    known = _finite(values)
    head = (f'<svg class="salesnb-spark" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{_esc(label)}" style="direction:ltr">')
    if n < 2 or len(known) < 2:
        return head + "</svg>"
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    pad = 3.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + i * (width - 2 * pad) / (n - 1)
        y = height - pad - (v - lo) / span * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    parts = []
    points: list[tuple[int, float, float] | None] = []
    for i, v in enumerate(values):
        f = _finite([v])
        points.append((i, *xy(i, f[0])) if f else None)
    for a, b in itertools.pairwise(points):
        if a is None or b is None:
            continue
        dash = ' stroke-dasharray="3 2"' if flags[a[0]] or flags[b[0]] else ""
        parts.append(f'<line x1="{a[1]}" y1="{a[2]}" x2="{b[1]}" y2="{b[2]}" stroke="{color}" '
                     f'stroke-width="1.6"{dash}/>')
    for p in points:
        if p is None:
            continue
        fill = "white" if flags[p[0]] else color
        parts.append(f'<circle cx="{p[1]}" cy="{p[2]}" r="2.2" fill="{fill}" stroke="{color}" '
                     f'stroke-width="1"/>')
    return head + "".join(parts) + "</svg>"


# --------------------------------------------------------------------------- KPI tiles
@dataclass(frozen=True)
class Tile:
    """One headline number: label, value, change against the previous window, sparkline.

    ``good`` says whether the change is good news (True), bad news (False) or neither
    (None); it only colours the change.
    """

    key: str
    label: str
    value: str
    change: str = ""
    good: bool | None = None
    spark: str = ""
    hint: str = ""


def kpi_tiles(tiles: Sequence[Tile], *, language: str = "en") -> str:
    """Lay out headline tiles in a wrapping row (right to left in Persian).

    Examples
    --------
    >>> out = kpi_tiles([Tile("won", "Won", "28", "+3", True)])
    >>> 'data-kpi="won"' in out and 'dir="ltr"' in out
    True
    """
    cells = []
    for t in tiles:
        tone = "" if t.good is None else (" up" if t.good else " down")
        change = f'<div class="salesnb-change{tone}">{_esc(t.change)}</div>' if t.change else ""
        hint = f' title="{_esc(t.hint)}"' if t.hint else ""
        cells.append(
            f'<div class="salesnb-tile" data-kpi="{_esc(t.key)}"{hint}>'
            f'<div class="salesnb-tile-label">{_esc(t.label)}</div>'
            f'<div class="salesnb-tile-value">{_esc(t.value)}</div>{change}'
            f'<div class="salesnb-tile-spark">{t.spark}</div></div>')
    return (f'<div class="salesnb-tiles" dir="{direction(language)}" lang="{language}">'
            f'{"".join(cells)}</div>')


# --------------------------------------------------------------------------- bars
def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """HTML legend: (swatch style, label, extra class)."""
    return '<div class="salesnb-legend">' + "".join(
        f'<span class="{extra}"><i style="{style}"></i>{_esc(text)}</span>'
        for style, text, extra in items) + "</div>"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def won_lost_bars(periods: Sequence[str], won: Sequence[float], lost: Sequence[float], *,
                  partial: Sequence[bool] | None = None, language: str = "en",
                  title: str = "", width: int = 640, height: int = 230) -> str:
    """Draw won and lost deals per period as grouped bars (inline SVG with an HTML legend).

    Time runs left to right in both languages (as in the plots); labels and digits follow
    ``language``. Partial periods (``partial``) are hatched and their label ends with
    ``*``.

    Parameters
    ----------
    periods : sequence of str
        Period labels, oldest first.
    won, lost : sequence of float
        Deals won and lost per period.
    partial : sequence of bool, optional
        Per period: True when the window covers it only in part.
    language : {"en", "fa"}
    title : str
        Shown above the chart.
    width, height : int
        Size of the drawing's coordinate system (it scales to the page width).

    Examples
    --------
    >>> svg = won_lost_bars(["1404-01", "1404-02"], [3, 4], [5, 1], partial=[False, True])
    >>> svg.count('class="bar won"'), svg.count('class="bar lost partial"')
    (1, 1)
    """
    n = len(periods)
    flags = list(partial) if partial is not None else [False] * n
    t = lambda key: i18n.translate(key, language)  # noqa: E731
    legend = [(f"background:{COLORS['won']}", t("won"), ""), (f"background:{COLORS['lost']}", t("lost"), "")]
    if any(flags):
        legend.append((f"background:repeating-linear-gradient(45deg,{COLORS['muted']} 0 2px,#fff 2px 4px)",
                       t("partial_period_legend"), ""))
    top = _nice_max(max(_finite([*won, *lost]) or [0.0]))
    left, right, bottom, upper = 40, 8, 34, 10
    plot_w, plot_h = width - left - right, height - bottom - upper
    out = [f'<svg class="salesnb-chart" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" '
           f'role="img" aria-label="{_esc(title)}" style="direction:ltr;width:100%;max-width:{width}px;'
           f'aspect-ratio:{width}/{height}">',
           '<defs><pattern id="salesnb-hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="2" height="4" fill="white" opacity=".55"/></pattern></defs>']
    for k in range(5):
        v = top * k / 4
        y = upper + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["grid"]}"/>'
                   f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" font-size="10" fill="{COLORS["muted"]}">'
                   f'{_esc(_digits(f"{v:,.0f}", language))}</text>')
    if n == 0:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{COLORS["muted"]}">'
                   f'{_esc(t("no_data"))}</text>')
    step = plot_w / max(n, 1)
    bar = min(step * 0.38, 26.0)
    every = max(1, math.ceil(n / 14))
    for i in range(n):
        cx = left + step * (i + 0.5)
        for offset, vals, cls in ((-bar / 2, won, "won"), (bar / 2, lost, "lost")):
            known = _finite([vals[i]])
            h = plot_h * (known[0] / top) if known else 0.0
            x = cx + offset - bar / 2
            y = upper + plot_h - h
            label = f"{periods[i]}: {t(cls)} {known[0] if known else 0:,.0f}"
            extra = " partial" if flags[i] else ""
            out.append(f'<rect class="bar {cls}{extra}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                       f'fill="{COLORS[cls]}"><title>{_esc(_digits(label, language))}</title></rect>')
            if flags[i] and h > 0:
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                           f'fill="url(#salesnb-hatch)"/>')
            if known and n <= 16:
                out.append(f'<text x="{cx + offset:.1f}" y="{y - 2:.1f}" text-anchor="middle" font-size="9" '
                           f'fill="{COLORS["text"]}">{_esc(_digits(f"{known[0]:,.0f}", language))}</text>')
        if i % every == 0:
            text = periods[i] + ("*" if flags[i] else "")
            out.append(f'<text x="{cx:.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="10" '
                       f'fill="{COLORS["text"]}">{_esc(_digits(text, language))}</text>')
    out.append("</svg>")
    return (f'<figure class="salesnb-figure" dir="{direction(language)}">'
            + (f'<figcaption>{_esc(title)}</figcaption>' if title else "")
            + _legend(legend) + "".join(out) + "</figure>")


def funnel_bars(stages: Sequence[str], reached: Sequence[float], lost_here: Sequence[float],
                conversion: Sequence[float | None], *, won: float | None = None,
                language: str = "en", title: str = "") -> str:
    """Draw the funnel as horizontal bars, one per stage (HTML; bars start at the reading side).

    Each row: the stage, a bar as long as the share of the cohort that reached it, the
    count, the deals lost there and the conversion to the next stage.

    Examples
    --------
    >>> out = funnel_bars(["lead", "won"], [10, 4], [6, 0], [0.4, None])
    >>> out.count('class="salesnb-funnel-row"')
    2
    """
    t = lambda key, **kw: i18n.translate(key, language, **kw)  # noqa: E731
    d = lambda text: _esc(_digits(text, language))  # noqa: E731
    first = (_finite(reached[:1]) or [0.0])[0] or 1.0
    rows = []
    for stage, r, lost, conv in zip(stages, reached, lost_here, conversion, strict=True):
        share = (_finite([r]) or [0.0])[0] / first
        conv_text = "—" if conv is None or not _finite([conv]) else f"{100 * float(conv):.0f}%"
        rows.append(
            f'<div class="salesnb-funnel-row"><span class="stage">{_esc(stage)}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * share:.1f}%"></span></span>'
            f'<span class="num">{d(f"{float(r):,.0f}")}</span>'
            f'<span class="lost">{_esc(t("lost_here_note", n=_digits(f"{float(lost):,.0f}", language)))}</span>'
            f'<span class="conv">{_esc(t("to_next", pct=_digits(conv_text, language)))}</span></div>')
    tail = ""
    if won is not None:
        tail = f'<div class="salesnb-funnel-won">{_esc(t("won"))}: {d(f"{won:,.0f}")}</div>'
    return (f'<figure class="salesnb-figure salesnb-funnel" dir="{direction(language)}">'
            + (f'<figcaption>{_esc(title)}</figcaption>' if title else "")
            + "".join(rows) + tail + "</figure>")


def funnel_panels(table: Any, *, language: str = "en") -> str:
    """The funnel(s) of a :func:`~salesnb.funnel` table: one :func:`funnel_bars` per pipeline.

    Each pipeline has its own stages and its own cohort, so a table with a ``pipeline``
    column gives one funnel per pipeline, captioned with its name (``attrs["pipelines"]``
    holds each one's won count); a table without one gives a single funnel.

    Examples
    --------
    >>> import pandas as pd
    >>> fun = pd.DataFrame({"pipeline": ["New", "New", "Renewal"], "stage": ["lead", "demo", "review"],
    ...                     "reached": [4, 3, 4], "lost_here": [1, 2, 1],
    ...                     "conversion_to_next": [0.75, None, None]})
    >>> fun.attrs = {"won": 2, "pipelines": {"New": {"won": 1}, "Renewal": {"won": 1}}}
    >>> out = funnel_panels(fun)
    >>> out.count('class="salesnb-figure salesnb-funnel"'), out.count("<figcaption>")
    (2, 2)
    """
    def one(part: Any, won: Any, title: str) -> str:
        return funnel_bars([i18n.translate_value(s, language) for s in part["stage"]],
                           part["reached"].tolist(), part["lost_here"].tolist(),
                           part["conversion_to_next"].tolist(),
                           won=won, language=language, title=title)

    if "pipeline" not in table.columns:
        return one(table, table.attrs.get("won"), "")
    per = table.attrs.get("pipelines", {})
    names = list(dict.fromkeys(table["pipeline"].astype(str)))
    return "".join(one(table[table["pipeline"].astype(str) == name], per.get(name, {}).get("won"),
                       i18n.translate_value(name, language)) for name in names)


def waterfall(steps: Sequence[tuple[str, float, str]], *, language: str = "en", title: str = "",
              value_text: Any = None, width: int = 640, height: int = 230) -> str:
    """Draw a walk from a start total to an end total (inline SVG): the pipeline movement.

    Parameters
    ----------
    steps : sequence of (label, value, kind)
        ``kind`` is ``total`` (a bar from zero: the start and the end), ``up`` (added)
        or ``down`` (taken away; give the value as a positive number).
    value_text : callable, optional
        Formats a value for its label (default: thousands separators).

    Examples
    --------
    >>> svg = waterfall([("open", 10, "total"), ("created", 5, "up"), ("won", 3, "down"),
    ...                  ("open", 12, "total")])
    >>> svg.count('class="step')
    4
    """
    fmt = value_text or (lambda v: f"{v:,.0f}")
    running, tops = 0.0, [0.0]
    spans = []
    for _, value, kind in steps:
        v = float(value)
        if kind == "total":
            lo, hi, running = 0.0, v, v
        elif kind == "up":
            lo, hi = running, running + v
            running += v
        else:
            lo, hi = running - v, running
            running -= v
        spans.append((min(lo, hi), max(lo, hi)))
        tops.append(max(lo, hi))
    top = _nice_max(max(tops))
    left, right, bottom, upper = 10, 10, 38, 16
    plot_w, plot_h = width - left - right, height - bottom - upper
    n = len(steps)
    step = plot_w / max(n, 1)
    colours = {"total": COLORS["base"], "up": COLORS["won"], "down": COLORS["lost"]}
    out = [f'<svg class="salesnb-chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" '
           f'style="direction:ltr;width:100%;max-width:{width}px;aspect-ratio:{width}/{height}">']
    for i, ((label, value, kind), (lo, hi)) in enumerate(zip(steps, spans, strict=True)):
        x = left + step * i + step * 0.15
        y = upper + plot_h - plot_h * hi / top
        h = max(plot_h * (hi - lo) / top, 1.0)
        out.append(f'<rect class="step {kind}" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                   f'fill="{colours.get(kind, COLORS["muted"])}"/>')
        sign = "" if kind == "total" else ("+" if kind == "up" else "−")
        out.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10" '
                   f'fill="{COLORS["text"]}">{_esc(_digits(sign + fmt(float(value)), language))}</text>')
        out.append(f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                   f'font-size="10" fill="{COLORS["text"]}">{_esc(label)}</text>')
    out.append("</svg>")
    return (f'<figure class="salesnb-figure" dir="{direction(language)}">'
            + (f'<figcaption>{_esc(title)}</figcaption>' if title else "") + "".join(out) + "</figure>")


def progress_bars(rows: Sequence[tuple[str, float | None, str]], *, language: str = "en",
                  title: str = "") -> str:
    """Draw attainment: one bar per group, filled to its share of the target (capped at 150%).

    Parameters
    ----------
    rows : sequence of (label, share, text)
        ``share`` is actual ÷ target (None when there is no target), ``text`` what to
        print beside the bar.

    Examples
    --------
    >>> progress_bars([("Sara", 0.8, "80%")]).count('class="salesnb-progress-row"')
    1
    """
    out = []
    for label, share, text in rows:
        width = 0.0 if share is None or not _finite([share]) else min(float(share), 1.5) / 1.5 * 100
        tone = "down" if share is not None and _finite([share]) and float(share) < 1 else "up"
        out.append(f'<div class="salesnb-progress-row"><span class="stage">{_esc(label)}</span>'
                   f'<span class="track"><span class="fill {tone}" style="width:{width:.1f}%"></span>'
                   f'<span class="target" style="inset-inline-start:{100 / 1.5:.1f}%"></span></span>'
                   f'<span class="num">{_esc(_digits(text, language))}</span></div>')
    return (f'<figure class="salesnb-figure salesnb-funnel" dir="{direction(language)}">'
            + (f'<figcaption>{_esc(title)}</figcaption>' if title else "") + "".join(out) + "</figure>")


# --------------------------------------------------------------------------- tables
def html_table(frame: Any, *, language: str = "en", wrap: Sequence[str] = (),
               caption: str = "", classes: str = "salesnb-table") -> str:
    """Render a table already formatted for people (:func:`~salesnb.presentation.views.present`).

    Persian tables are ``dir="rtl"``: the first column is on the right and the columns
    read right to left. Columns named in ``wrap`` (a reasons column) wrap inside the
    page width instead of widening the table.

    Examples
    --------
    >>> import pandas as pd
    >>> out = html_table(pd.DataFrame({"a": ["x"], "b": ["long text"]}), language="fa", wrap=["b"])
    >>> 'dir="rtl"' in out and 'class="wrap"' in out
    True
    """
    cols = [str(c) for c in frame.columns]
    wrapped = set(wrap)
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for c, v in zip(cols, row, strict=True):
            text = "—" if v is None or (isinstance(v, float) and math.isnan(v)) else v
            cls = ' class="wrap"' if c in wrapped else ""
            cells.append(f"<td{cls}>{_esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (f'<table class="{classes}" dir="{direction(language)}" lang="{language}">{cap}'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


#: The styles of everything above and of the sections, filter bar and app (one copy).
CSS = """
.salesnb-section, .salesnb-app { font-family: Vazirmatn, "DejaVu Sans", Tahoma, sans-serif; color: #1f2937; }
.salesnb-section h3, .salesnb-app h3 { margin: .4em 0 .2em; }
.salesnb-section[dir=rtl] p, .salesnb-section[dir=rtl] li { unicode-bidi: plaintext; }
.salesnb-caption { color: #4b5563; font-size: .9em; margin: 0 0 .4em; }
.salesnb-note { color: #374151; font-size: .9em; margin: .2em 0; border-inline-start: 3px solid #cbd5e1;
  padding-inline-start: .5em; }
.salesnb-plot img { display: block; }
.salesnb-scroll { max-width: 100%; overflow-x: auto; }
table.salesnb-table { border-collapse: collapse; margin: .3em 0 .8em; font-size: .88em; width: auto; }
table.salesnb-table th { background: #f1f5f9; text-align: start; font-weight: 600; }
table.salesnb-table th, table.salesnb-table td { padding: .25em .6em; border-bottom: 1px solid #e5e7eb;
  text-align: start; white-space: nowrap; }
table.salesnb-table td.wrap { white-space: normal; min-width: 14em; max-width: 30em; line-height: 1.35; }
.salesnb-tiles { display: flex; flex-wrap: wrap; gap: .6em; margin: .4em 0; }
.salesnb-tile { flex: 1 1 10em; min-width: 10em; max-width: 15em; border: 1px solid #d1d5db;
  border-radius: 8px; background: #f8fafc; padding: .55em .8em; }
.salesnb-tile-label { font-size: .82em; color: #4b5563; }
.salesnb-tile-value { font-size: 1.45em; font-weight: 650; margin: .1em 0; }
.salesnb-change { font-size: .8em; color: #4b5563; min-height: 1.2em; }
.salesnb-change.up { color: #027a55; } .salesnb-change.down { color: #b42318; }
.salesnb-tile-spark { height: 30px; }
.salesnb-figure { margin: .3em 0 .8em; }
.salesnb-figure figcaption { font-weight: 600; margin-bottom: .2em; }
.salesnb-legend { display: flex; gap: 1em; font-size: .82em; color: #374151; }
.salesnb-legend i { display: inline-block; width: .9em; height: .9em; margin-inline-end: .3em;
  vertical-align: -.1em; border-radius: 2px; }
.salesnb-funnel-row, .salesnb-progress-row { display: grid; grid-template-columns: minmax(5em, 8em) minmax(4em, 1fr) 3.5em minmax(0, 10em) minmax(0, 8em);
  gap: .5em; align-items: center; font-size: .9em; margin: .15em 0; }
.salesnb-progress-row { grid-template-columns: 9em 1fr 10em; }
.salesnb-funnel-row .track, .salesnb-progress-row .track { position: relative; background: #eef2f7;
  height: 1.1em; border-radius: 3px; overflow: hidden; }
.salesnb-funnel-row .fill, .salesnb-progress-row .fill { position: absolute; inset-block: 0;
  inset-inline-start: 0; background: #0173b2; }
.salesnb-progress-row .fill.down { background: #de8f05; } .salesnb-progress-row .fill.up { background: #029e73; }
.salesnb-progress-row .target { position: absolute; inset-block: 0; width: 2px; background: #111827; }
.salesnb-funnel-row .num { text-align: end; font-variant-numeric: tabular-nums; }
.salesnb-funnel-row .lost, .salesnb-funnel-row .conv { color: #4b5563; font-size: .9em; }
.salesnb-funnel-won { font-weight: 600; margin-top: .3em; }
.salesnb-stale { opacity: .35; }
.salesnb-bar { border: 1px solid #cbd5e1; border-radius: 8px; padding: .5em .7em; background: #f8fafc; }
.salesnb-bar .salesnb-label { font-weight: 600; font-size: .85em; color: #334155; }
.salesnb-bar select option:checked { background: #0173b2 linear-gradient(#0173b2, #0173b2); color: #fff; }
.salesnb-error { color: #b42318; font-weight: 600; }
.salesnb-rtl, .salesnb-rtl .widget-hbox, .salesnb-rtl .widget-vbox { direction: rtl; }
.salesnb-rtl .widget-label, .salesnb-rtl .widget-checkbox label { text-align: right; }
.salesnb-app-grid { display: grid; grid-template-columns: minmax(0, 1.2fr) minmax(0, 1fr); gap: 1.2em; }
@media (max-width: 900px) { .salesnb-app-grid { grid-template-columns: 1fr; } }
.salesnb-app-title h2 { margin: .2em 0; } .salesnb-app-title p { margin: 0 0 .5em; color: #4b5563; }
"""
