"""Pipelines (issue 12, item 5): the funnel family per pipeline, ``pipelines=``, ``by="pipeline"``.

A small hand-made dataset with two pipelines whose stage orders differ::

    funnel.yml  pipelines: {New: [lead, demo, proposal], Renewal: [review, proposal]}
    overall order (merged): lead → demo → review → proposal

The overall order puts ``review`` between ``demo`` and ``proposal``: a New deal going
demo → proposal *skips* a stage there, and a Renewal deal in ``proposal`` would count
as having reached ``lead`` and ``demo``. Per pipeline neither happens. Every number
below is counted by hand from the table in :func:`two_pipelines`.
"""

from __future__ import annotations

import inspect
import json

import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import OptionError, WindowError

WINDOW = {"start": "2025-01-01", "end": "2025-07-01"}
SETTINGS = {"pipelines": {"New": ["lead", "demo", "proposal"], "Renewal": ["review", "proposal"]}}

# id, pipeline, owner, created, status, closed, stage, amount; then the history.
DEALS = [
    ("N1", "New", "Sara", "2025-01-05", "won", "2025-03-01", "proposal", 100.0),
    ("N2", "New", "Ali", "2025-01-10", "lost", "2025-02-15", "demo", 200.0),
    ("N3", "New", "Sara", "2025-02-01", "open", "", "lead", 300.0),
    ("N4", "New", "Ali", "2025-02-05", "lost", "2025-03-10", "proposal", 400.0),
    ("R1", "Renewal", "Sara", "2025-01-03", "won", "2025-04-01", "proposal", 50.0),
    ("R2", "Renewal", "Ali", "2025-01-15", "lost", "2025-03-01", "review", 60.0),
    ("R3", "Renewal", "Sara", "2025-03-01", "open", "", "proposal", 70.0),
    ("R4", "Renewal", "Ali", "2025-04-20", "open", "", "proposal", 80.0),
]
HISTORY = [
    ("N1", "lead", "2025-01-05"), ("N1", "demo", "2025-01-20"), ("N1", "proposal", "2025-02-10"),
    ("N1", "won", "2025-03-01"),
    ("N2", "lead", "2025-01-10"), ("N2", "demo", "2025-01-25"), ("N2", "lost", "2025-02-15"),
    ("N3", "lead", "2025-02-01"),
    ("N4", "lead", "2025-02-05"), ("N4", "demo", "2025-02-12"), ("N4", "proposal", "2025-03-01"),
    ("R1", "review", "2025-01-03"), ("R1", "proposal", "2025-02-01"), ("R1", "won", "2025-04-01"),
    ("R2", "review", "2025-01-15"),
    ("R3", "review", "2025-03-01"), ("R3", "proposal", "2025-04-01"),
    ("R4", "review", "2025-04-20"), ("R4", "proposal", "2025-05-10"),
]


def two_pipelines(with_pipeline: bool = True) -> sn.SalesData:
    opps = pd.DataFrame(DEALS, columns=["opportunity_id", "pipeline", "owner", "created_at", "status",
                                        "closed_at", "stage", "amount"])
    if not with_pipeline:
        opps = opps.drop(columns="pipeline")
    hist = pd.DataFrame(HISTORY, columns=["opportunity_id", "stage", "entered_at"])
    settings = SETTINGS if with_pipeline else {"stages": ["lead", "demo", "review", "proposal"]}
    return sn.SalesData.from_frames(opps, hist, settings)


def rows(frame: pd.DataFrame, pipeline: str, column: str) -> dict:
    part = frame[frame["pipeline"] == pipeline]
    return dict(zip(part["stage"], part[column], strict=True))


def test_the_overall_order_differs_from_each_pipelines():
    assert two_pipelines().settings.stages == ("lead", "demo", "review", "proposal")


# --------------------------------------------------------------------------- funnel
def test_funnel_per_pipeline_uses_each_pipelines_own_stage_order():
    fun = sn.funnel(two_pipelines(), **WINDOW)
    assert fun.columns[0] == "pipeline"
    assert list(zip(fun["pipeline"], fun["stage"], fun["position"], strict=True)) == [
        ("New", "lead", 1), ("New", "demo", 2), ("New", "proposal", 3),
        ("Renewal", "review", 1), ("Renewal", "proposal", 2)]
    # New: cohort N1..N4. Deepest: N1 proposal (won), N2 demo (lost), N3 lead (open),
    # N4 proposal (lost). reached: lead 4; demo 3 (N1 N2 N4); proposal 2 (N1 N4).
    assert rows(fun, "New", "reached") == {"lead": 4, "demo": 3, "proposal": 2}
    assert rows(fun, "New", "lost_here") == {"lead": 0, "demo": 1, "proposal": 1}
    assert rows(fun, "New", "open_here") == {"lead": 1, "demo": 0, "proposal": 0}
    assert list(rows(fun, "New", "conversion_to_next").values()) == pytest.approx([3 / 4, 2 / 3, 1 / 2])
    # Renewal: cohort R1..R4. Deepest: R1 proposal (won), R2 review (lost), R3 and R4
    # proposal (open). reached: review 4; proposal 3. In the overall order a Renewal deal
    # in proposal would also have "reached" lead and demo: here those rows do not exist.
    assert rows(fun, "Renewal", "reached") == {"review": 4, "proposal": 3}
    assert rows(fun, "Renewal", "lost_here") == {"review": 1, "proposal": 0}
    assert rows(fun, "Renewal", "open_here") == {"review": 0, "proposal": 2}
    assert list(rows(fun, "Renewal", "conversion_to_next").values()) == pytest.approx([3 / 4, 1 / 3])
    assert list(rows(fun, "Renewal", "cumulative_conversion").values()) == pytest.approx([1, 3 / 4])
    # Time in stage of the cohort, per pipeline (the stage "proposal" is in both):
    # New proposal: N1 02-10 -> 03-01 = 19 d, N4 03-01 -> 03-10 = 9 d: median 14.
    # Renewal proposal: R1 02-01 -> 04-01 = 59 d; R3 and R4 censored at 07-01.
    assert rows(fun, "New", "median_days_in_stage")["proposal"] == 14.0
    assert rows(fun, "Renewal", "median_days_in_stage")["proposal"] == 59.0
    assert rows(fun, "Renewal", "completed_visits") == {"review": 4, "proposal": 1}
    assert rows(fun, "Renewal", "censored_visits") == {"review": 0, "proposal": 2}
    assert (fun.attrs["cohort"], fun.attrs["won"], fun.attrs["lost"], fun.attrs["open"]) == (8, 2, 3, 3)
    assert fun.attrs["pipelines"]["Renewal"]["cohort"] == 4
    assert fun.attrs["off_pipeline_history"] == 0


def test_funnel_without_a_pipeline_column_is_unchanged():
    # The same deals as one funnel in the overall order: no pipeline column, and a
    # Renewal deal in proposal counts as having reached lead and demo.
    fun = sn.funnel(two_pipelines(with_pipeline=False), **WINDOW)
    assert "pipeline" not in fun.columns
    assert fun["stage"].tolist() == ["lead", "demo", "review", "proposal"]
    # Deepest: N1 proposal(3) N2 demo(1) N3 lead(0) N4 proposal(3) R1 proposal(3)
    # R2 review(2) R3 proposal(3) R4 proposal(3); won N1 R1.
    assert fun["reached"].tolist() == [8, 7, 6, 5]


def test_history_at_a_stage_of_another_pipeline_is_counted_not_used():
    data = two_pipelines()
    opps = data.opportunities.drop(columns=["team", "account", "product", "source", "currency",
                                            "lost_reason"], errors="ignore")
    hist = pd.DataFrame([*HISTORY, ("N3", "review", "2025-02-03")],
                        columns=["opportunity_id", "stage", "entered_at"])
    fun = sn.funnel(sn.SalesData.from_frames(opps, hist, SETTINGS), **WINDOW)
    # N3's review entry is not a New stage: its deepest New stage stays lead.
    assert rows(fun, "New", "reached") == {"lead": 4, "demo": 3, "proposal": 2}
    assert fun.attrs["pipelines"]["New"]["off_pipeline_history"] == 1
    assert fun.attrs["off_pipeline_history"] == 1


# --------------------------------------------------------------------------- time, moves, stuck
def test_time_in_stage_per_pipeline():
    t = sn.time_in_stage(two_pipelines(), **WINDOW)
    assert list(zip(t["pipeline"], t["stage"], strict=True)) == [
        ("New", "lead"), ("New", "demo"), ("New", "proposal"), ("Renewal", "review"), ("Renewal", "proposal")]
    # New lead: N1 15 d, N2 15 d, N4 7 d; N3 censored. demo: N1 21, N2 21, N4 17.
    assert rows(t, "New", "visits") == {"lead": 4, "demo": 3, "proposal": 2}
    assert rows(t, "New", "censored") == {"lead": 1, "demo": 0, "proposal": 0}
    assert rows(t, "New", "median_days") == {"lead": 15.0, "demo": 21.0, "proposal": 14.0}
    # Renewal review: R1 29, R2 45 (to its closing), R3 31, R4 20 -> median 30, mean 31.25.
    assert rows(t, "Renewal", "median_days")["review"] == 30.0
    assert rows(t, "Renewal", "mean_days")["review"] == pytest.approx(31.25)
    assert rows(t, "Renewal", "completed") == {"review": 4, "proposal": 1}
    # by="pipeline" is the same table (one block per pipeline already).
    by = sn.time_in_stage(two_pipelines(), **WINDOW, by="pipeline")
    pd.testing.assert_frame_equal(by, t)
    # With another `by`, rows per pipeline, stage and owner.
    by_owner = sn.time_in_stage(two_pipelines(), **WINDOW, by="owner")
    part = by_owner[(by_owner["pipeline"] == "Renewal") & (by_owner["stage"] == "review")]
    assert dict(zip(part["owner"], part["visits"], strict=True)) == {"Ali": 2, "Sara": 2}


def test_stage_transitions_are_judged_in_each_pipelines_order():
    t = sn.stage_transitions(two_pipelines(), **WINDOW)
    got = {(p, f, to): (k, n) for p, f, to, k, n in t[["pipeline", "from_stage", "to_stage", "kind",
                                                        "count"]].itertuples(index=False)}
    assert got == {
        ("New", "lead", "demo"): ("forward", 3),
        # demo -> proposal skips review in the overall order; in New it is the next stage.
        ("New", "demo", "proposal"): ("forward", 2),
        ("New", "demo", "lost"): ("lost", 1),
        ("New", "proposal", "won"): ("won", 1),
        ("New", "proposal", "lost"): ("lost", 1),
        ("Renewal", "review", "proposal"): ("forward", 3),
        ("Renewal", "review", "lost"): ("lost", 1),
        ("Renewal", "proposal", "won"): ("won", 1),
    }
    assert t["pipeline"].tolist()[:1] == ["New"] and t["pipeline"].tolist()[-1] == "Renewal"
    single = sn.stage_transitions(two_pipelines(with_pipeline=False), **WINDOW)
    kinds = {(f, to): k for f, to, k in single[["from_stage", "to_stage", "kind"]].itertuples(index=False)}
    assert kinds[("demo", "proposal")] == "skip"  # the overall order, without pipelines


def test_stuck_thresholds_are_per_pipeline():
    # Open at 07-01: N3 (New, lead since 02-01: 150 d), R3 (Renewal, proposal since
    # 04-01: 91 d), R4 (Renewal, proposal since 05-10: 52 d).
    # Completed visits known at 07-01: New lead 15, 15, 7 -> p90 (linear) 15;
    # Renewal proposal: R1 59 -> p90 59. New proposal: 19, 9.
    # Per pipeline R4 (52 d < 59) is not stuck; pooling proposal over both pipelines
    # (9, 19, 59 -> p90 51) would have called it stuck.
    t = sn.stuck_opportunities(two_pipelines(), as_of="2025-07-01", min_visits=1)
    assert t["opportunity_id"].tolist() == ["N3", "R3"]
    assert t["pipeline"].tolist() == ["New", "Renewal"]
    assert t["threshold_days"].tolist() == pytest.approx([15.0, 59.0])
    assert t.attrs["open"] == 3
    pooled = sn.stuck_opportunities(two_pipelines(with_pipeline=False), as_of="2025-07-01", min_visits=1)
    assert "R4" in pooled["opportunity_id"].tolist() and "pipeline" not in pooled.columns
    slow = sn.slowest_movers(two_pipelines(), as_of="2025-07-01", min_visits=1)
    # medians: New lead 15 -> N3 150/15 = 10; Renewal proposal 59 -> R3 91/59, R4 52/59.
    assert slow["opportunity_id"].tolist() == ["N3", "R3", "R4"]
    assert slow["pace_ratio"].tolist() == pytest.approx([10.0, 91 / 59, 52 / 59])


# --------------------------------------------------------------------------- filters and by
def test_pipelines_filter_and_by_pipeline():
    data = two_pipelines()
    wl = sn.won_lost(data, **WINDOW, by="pipeline", period=None)
    assert dict(zip(wl["pipeline"], zip(wl["won"], wl["lost"], strict=True), strict=True)) == {
        "New": (1, 2), "Renewal": (1, 1)}
    renewal = sn.won_lost(data, **WINDOW, by=None, period=None, pipelines=["Renewal"])
    assert (int(renewal["won"].iloc[0]), int(renewal["lost"].iloc[0])) == (1, 1)
    rate = sn.win_rate(data, **WINDOW, by=None, pipelines=["New"])
    assert float(rate["win_rate"].iloc[0]) == pytest.approx(1 / 3)
    fun = sn.funnel(data, **WINDOW, pipelines=["Renewal"])
    assert fun["pipeline"].unique().tolist() == ["Renewal"]
    assert fun["reached"].tolist() == [4, 3]
    opened = sn.open_opportunities(data, as_of="2025-07-01", pipelines=["Renewal"])
    assert int(opened["open_count"].sum()) == 2  # R3, R4
    vol = sn.sales_volume(data, **WINDOW, by="pipeline")
    assert dict(zip(vol["pipeline"], vol["total_amount"], strict=True)) == {"New": 100.0, "Renewal": 50.0}
    doc = sn.kpi_summary(data, **WINDOW, pipelines=["New"])
    assert doc["won"]["total"] == 1 and doc["lost"]["total"] == 2


def test_pipelines_filter_errors_name_the_values_and_the_fix():
    with pytest.raises(WindowError, match=r"(?s)unknown pipeline value\(s\) \['Upsell'\] in `pipelines`"
                                          r".*choose among: New, Renewal"):
        sn.funnel(two_pipelines(), **WINDOW, pipelines=["Upsell"])
    with pytest.raises(WindowError, match=r"(?s)no pipeline column.*leave `pipelines` empty"):
        sn.won_lost(two_pipelines(with_pipeline=False), **WINDOW, pipelines=["New"])
    with pytest.raises(OptionError):
        sn.won_lost(two_pipelines(with_pipeline=False), **WINDOW, by="pipeline")


KPIS = ["open_opportunities", "open_over_time", "new_opportunities", "won_lost", "lost_reasons",
        "sales_volume", "deal_size_flags", "deal_size_bands", "win_rate", "funnel", "stage_transitions",
        "time_in_stage", "stage_visits", "stuck_opportunities", "slowest_movers", "sales_cycle",
        "cycle_durations", "cycle_survival", "cycle_comparison", "risk", "backtest", "sales_velocity",
        "pipeline_coverage", "kpi_summary", "attainment", "forecast", "forecast_backtest",
        "pipeline_movement", "stage_movement", "overdue_deals"]


@pytest.mark.parametrize("name", KPIS)
def test_every_public_kpi_takes_pipelines(name):
    func = getattr(sn, name)
    param = inspect.signature(func).parameters["pipelines"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None
    assert "pipelines : list of str, optional" in (func.__doc__ or "")


@pytest.mark.parametrize("name", ["open_opportunities", "new_opportunities", "lost_reasons", "sales_cycle",
                                  "deal_size_flags", "stage_visits", "sales_velocity"])
def test_pipelines_filter_equals_the_subset(name):
    data = two_pipelines()
    func = getattr(sn, name)
    options = {"as_of": "2025-07-01"} if name in ("open_opportunities", "stage_visits") else dict(WINDOW)
    got = func(data, **options, pipelines=["Renewal"])
    want = func(data.subset(pipelines=["Renewal"]), **options)
    pd.testing.assert_frame_equal(got, want)
    everybody = func(data, **options)
    assert not everybody.equals(got)


# --------------------------------------------------------------------------- kpi --json
def test_kpi_json_funnel_rows_carry_their_pipeline(tmp_path):
    doc = sn.kpi_summary(two_pipelines(), **WINDOW)
    assert [(r["pipeline"], r["stage"], r["reached"]) for r in doc["funnel"]] == [
        ("New", "lead", 4), ("New", "demo", 3), ("New", "proposal", 2),
        ("Renewal", "review", 4), ("Renewal", "proposal", 3)]
    assert list(doc["funnel"][0]) == ["pipeline", "stage", "reached", "lost_here", "conversion_to_next",
                                      "median_days_in_stage"]
    single = sn.kpi_summary(two_pipelines(with_pipeline=False), **WINDOW)
    assert all("pipeline" not in r for r in single["funnel"])
    json.dumps(doc)


def test_cli_kpi_json_reads_a_pipelines_folder(tmp_path, capsys):
    from salesnb.cli import main

    opps = pd.DataFrame(DEALS, columns=["opportunity_id", "pipeline", "owner", "created_at", "status",
                                        "closed_at", "stage", "amount"])
    opps.to_csv(tmp_path / "opportunities.csv", index=False)
    pd.DataFrame(HISTORY, columns=["opportunity_id", "stage", "entered_at"]).to_csv(
        tmp_path / "stage_history.csv", index=False)
    (tmp_path / "funnel.yml").write_text(
        "pipelines:\n  New: [lead, demo, proposal]\n  Renewal: [review, proposal]\n", encoding="utf-8")
    assert main(["kpi", str(tmp_path), "--start", WINDOW["start"], "--end", WINDOW["end"], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["pipeline"], r["stage"], r["reached"], r["lost_here"]) for r in doc["funnel"]] == [
        ("New", "lead", 4, 0), ("New", "demo", 3, 1), ("New", "proposal", 2, 1),
        ("Renewal", "review", 4, 1), ("Renewal", "proposal", 3, 0)]


def test_the_text_summary_shows_one_funnel_per_pipeline():
    from salesnb.presentation.text import format_summary

    text = format_summary(sn.kpi_summary(two_pipelines(), **WINDOW), calendar="gregorian")
    new, renewal = text.index("   pipeline New:"), text.index("   pipeline Renewal:")
    assert new < text.index("   lead ") < renewal < text.index("   review ")


# --------------------------------------------------------------------------- pictures
def test_plot_funnel_draws_one_pipeline_and_refuses_to_mix_them():
    import matplotlib.pyplot as plt

    from salesnb.presentation import plotting

    fun = sn.funnel(two_pipelines(), **WINDOW)
    with pytest.raises(plotting.PlotInputError, match=r"2 pipelines \(New, Renewal\).*pipeline="):
        plotting.plot_funnel(fun)
    with pytest.raises(plotting.PlotInputError, match="'Other' is not in the table"):
        plotting.plot_funnel(fun, pipeline="Other")
    ax = plotting.plot_funnel(fun, pipeline="Renewal")
    # Renewal: review 4, proposal 3, then its own won count (R1): 1 — not the total 2.
    assert [p.get_width() for p in ax.containers[0]] == [4, 3, 1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["review", "proposal", "Won"]
    assert "Renewal" in ax.get_title()
    plt.close("all")


def test_the_funnel_section_and_the_summary_page_show_one_funnel_per_pipeline():
    import matplotlib.pyplot as plt

    from salesnb.presentation import charts, views
    from salesnb.presentation.notebook import prepare

    ctx = prepare(start=WINDOW["start"], end=WINDOW["end"], calendar="gregorian", interactive=False,
                  data=two_pipelines())
    section = views.funnel_view(ctx)
    funnels = [ax for ax in section.figures[0].axes if ax.get_visible()]
    assert sorted(ax.get_title().split(" · ")[-1] for ax in funnels) == ["New", "Renewal"]
    widths = {ax.get_title().split(" · ")[-1]: [p.get_width() for p in ax.containers[0]] for ax in funnels}
    assert widths == {"New": [4, 3, 2, 1], "Renewal": [4, 3, 1]}
    html = charts.funnel_panels(sn.funnel(two_pipelines(), **WINDOW))
    assert html.count("<figcaption>") == 2 and html.index("New") < html.index("Renewal")
    # One pipeline (filtered, or a dataset without pipelines): one funnel beside time in stage.
    one = prepare(start=WINDOW["start"], end=WINDOW["end"], calendar="gregorian", interactive=False,
                  data=two_pipelines(with_pipeline=False))
    assert len(views.funnel_view(one).figures[0].axes) == 2
    plt.close("all")


def test_the_notebooks_run_on_pipelines_in_several_currencies(tmp_path):
    """A new user's dataset: two pipelines, three currencies, no rates. Every notebook runs
    (its checks hold per pipeline and per currency) and the summary page draws one funnel
    per pipeline and no mean won amount across currencies."""
    from salesnb.report.runner import run_report

    opps = pd.DataFrame(DEALS, columns=["opportunity_id", "pipeline", "owner", "created_at", "status",
                                        "closed_at", "stage", "amount"])
    opps["currency"] = ["USD", "EUR", "USD", "IRR", "EUR", "USD", "IRR", "USD"]
    opps.to_csv(tmp_path / "opportunities.csv", index=False)
    pd.DataFrame(HISTORY, columns=["opportunity_id", "stage", "entered_at"]).to_csv(
        tmp_path / "stage_history.csv", index=False)
    (tmp_path / "funnel.yml").write_text(
        "calendar: gregorian\ncurrency: USD\n"
        "pipelines:\n  New: [lead, demo, proposal]\n  Renewal: [review, proposal]\n", encoding="utf-8")
    result = run_report(tmp_path, period="2025-03", out=tmp_path / "out", jobs=2, progress=lambda _: None)
    assert result.ok, [r for r in result.runs if not r.ok]
    index = (result.folder / "index.html").read_text(encoding="utf-8")
    assert index.count('class="salesnb-figure salesnb-funnel"') == 2
    assert "never added or averaged across currencies" in index
