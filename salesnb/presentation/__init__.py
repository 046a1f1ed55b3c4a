"""The presentation layer: what people see — text, plots, notebook sections, widgets.

* :mod:`~salesnb.presentation.i18n` — English and Persian text, Persian shaping;
* :mod:`~salesnb.presentation.text` — readable numbers, the headline KPIs, the text summary;
* :mod:`~salesnb.presentation.plotting` — one plot function per KPI table;
* :mod:`~salesnb.presentation.notebook` — the notebooks' parameters and context;
* :mod:`~salesnb.presentation.views` — notebook sections: KPI tables glued to plots;
* :mod:`~salesnb.presentation.widgets` — filter controls that re-run a view.

It imports the metrics and data layers and the base modules, never the report layer or
the command line.
"""
