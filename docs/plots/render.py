"""Render every salesnb plot for the bundled sample, in English and Persian, for review.

Run from the repository root::

    MPLBACKEND=Agg python docs/plots/render.py            # writes docs/plots/*.png
    MPLBACKEND=Agg python docs/plots/render.py --out /tmp/plots

The window is the first half of 1404 (Jalali), seen from its end; the sample is in
Iranian Rial, so amounts are shown in million / billion Rial.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import salesnb as sn
from salesnb.presentation import plotting
from salesnb.metrics.window import resolve_window

START, END = "1404-01-01", "1404-07-01"


def plots(data: sn.SalesData) -> dict[str, Callable[..., Any]]:
    """Return name -> function(language) drawing one plot on a new figure."""
    kw: dict[str, Any] = {"start": START, "end": END}
    money = {"currency": data.settings.currency, "amount_unit": data.settings.amount_unit}
    stages = list(data.settings.stages)
    window = resolve_window(data, START, END)
    visits = sn.stage_visits(data, window.as_of)
    visits = visits[(visits["entered_at"] >= window.start) & (visits["entered_at"] < window.end)]
    flags = sn.deal_size_flags(data, **kw)
    won = sn.cycle_durations(data, **kw)
    return {
        "open_pipeline": lambda lang: plotting.plot_open_pipeline(
            sn.open_opportunities(data, as_of=END), language=lang),
        "open_pipeline_value": lambda lang: plotting.plot_open_pipeline(
            sn.open_opportunities(data, as_of=END), language=lang, measure="value", **money),
        "open_over_time": lambda lang: plotting.plot_open_over_time(
            sn.open_over_time(data, **kw), language=lang),
        "open_over_time_owner": lambda lang: plotting.plot_open_over_time(
            sn.open_over_time(data, **kw, by="owner"), language=lang),
        "won_lost": lambda lang: plotting.plot_won_lost(
            sn.won_lost(data, **kw, by=None), language=lang),
        "won_lost_owner": lambda lang: plotting.plot_won_lost(
            sn.won_lost(data, **kw, period=None, by="owner"), language=lang),
        "lost_reasons": lambda lang: plotting.plot_lost_reasons(sn.lost_reasons(data, **kw), language=lang),
        "lost_reason_stage": lambda lang: plotting.plot_lost_reason_stage(
            sn.lost_reasons(data, **kw, by="stage"), language=lang, stages=stages),
        "deal_sizes": lambda lang: plotting.plot_deal_sizes(won["amount"], flags, language=lang, **money),
        "win_rate": lambda lang: plotting.plot_win_rate(sn.win_rate(data, **kw), language=lang),
        "funnel": lambda lang: plotting.plot_funnel(sn.funnel(data, **kw), language=lang),
        "time_in_stage": lambda lang: plotting.plot_time_in_stage(visits, language=lang, stages=stages),
        "time_in_stage_summary": lambda lang: plotting.plot_time_in_stage(
            sn.time_in_stage(data, **kw), language=lang, stages=stages),
        "cycle_distribution": lambda lang: plotting.plot_cycle_distribution(won, language=lang),
        "survival": lambda lang: plotting.plot_survival(sn.cycle_survival(data, **kw), language=lang),
        "survival_team": lambda lang: plotting.plot_survival(
            sn.cycle_survival(data, **kw, by="team"), language=lang),
        "size_bands": lambda lang: plotting.plot_size_bands(sn.deal_size_bands(data, **kw),
                                                            language=lang, **money),
        "empty": lambda lang: plotting.plot_won_lost(
            sn.won_lost(data, start="1390-01-01", end="1390-02-01", by=None), language=lang),
    }


def main(argv: list[str] | None = None) -> list[Path]:
    """Render the plots; return the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--only", nargs="*", help="names of plots to render (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = sn.load(sn.sample_path())
    written = []
    for name, draw in plots(data).items():
        if args.only and name not in args.only:
            continue
        for lang in ("en", "fa"):
            ax = draw(lang)
            path = args.out / f"{name}_{lang}.png"
            ax.figure.savefig(path, dpi=90)
            plt.close(ax.figure)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in main():
        print(p)
