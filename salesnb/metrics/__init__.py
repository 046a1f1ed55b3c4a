"""The metrics layer: the KPI functions, one module per question.

Every public function takes a :class:`~salesnb.SalesData` and keyword-only options,
resolves its window once (:mod:`~salesnb.metrics.window`), reads the data as known at
``as_of`` through one snapshot (:meth:`salesnb.SalesData.at`) and returns a tidy
pandas DataFrame (``kpi_summary``: a JSON-ready dict).

* :mod:`~salesnb.metrics.window` — :class:`~salesnb.metrics.window.Window`, resolved once;
* :mod:`~salesnb.metrics.opportunities` — question 1: open and new opportunities;
* :mod:`~salesnb.metrics.outcomes` — question 2: won, lost, lost reasons;
* :mod:`~salesnb.metrics.volume` — question 3: won amounts, deal-size flags and bands;
* :mod:`~salesnb.metrics.winrate` — question 4a: win rate with Wilson intervals;
* :mod:`~salesnb.metrics.flow` — question 4b: funnel, transitions, time in stage;
* :mod:`~salesnb.metrics.stalled` — question 4b: stuck deals, slowest movers;
* :mod:`~salesnb.metrics.cycle` — question 5: sales cycle, Kaplan–Meier, comparison;
* :mod:`~salesnb.metrics.deal_risk` — open-deal risk (landmark Aalen–Johansen);
* :mod:`~salesnb.metrics.backtesting` — scoring that estimate at past moments;
* :mod:`~salesnb.metrics.pipeline_health` — sales velocity, pipeline coverage;
* :mod:`~salesnb.metrics.movement` — pipeline movement between two moments, stage
  movement, overdue and pushed deals;
* :mod:`~salesnb.metrics.summary` — ``kpi_summary`` (the ``salesnb kpi --json`` document);
* :mod:`~salesnb.metrics.stages` — stage-history machinery and ``stage_visits``;
* :mod:`~salesnb.metrics.statistics` — Wilson, Kaplan–Meier, Aalen–Johansen.

It imports the data layer and the base modules, never presentation, report or CLI.
"""
