"""The report layer: notebooks run headlessly into a dated HTML report set.

* :mod:`~salesnb.report.period` — a report period (``last-month``, ``1404-08``...) as a window;
* :mod:`~salesnb.report.runner` — checks the parameters, runs the notebooks with papermill,
  publishes the report folder;
* :mod:`~salesnb.report.export` — HTML pages without code, PDF through headless Chromium;
* :mod:`~salesnb.report.index` — the index page: headline KPIs, sections, data quality.

It imports every layer below it; only the command line imports it.
"""
