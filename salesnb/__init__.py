"""salesnb: sales-team effectiveness metrics from CRM data.

Load a dataset, then call the KPI functions::

    import salesnb as sn
    data = sn.load(sn.sample_path())
    sn.win_rate(data, start="1404-01-01", end="1405-01-01")

The package is layered, each layer importing only those below it (an import-linter
contract checks it; see ``docs/architecture.md``)::

    cli  →  report  →  presentation  →  metrics  →  data  →  base modules

This module re-exports the public API listed in :data:`_EXPORTS` (the one table of
exports: ``__all__`` is made from it). The names are imported on first use (PEP 562),
so that ``salesnb kpi`` does not pay for SQLAlchemy, SciPy or the notebook machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from salesnb._version import __version__

if TYPE_CHECKING:
    from salesnb.data.bundled import sample_path
    from salesnb.data.dataset import SalesData
    from salesnb.data.loading import load
    from salesnb.data.mapping_apply import MappingReport, apply_mapping
    from salesnb.data.rates import load_rates
    from salesnb.data.recognise import recognise_export
    from salesnb.data.settings import FunnelSettings, load_settings
    from salesnb.data.sql import load_sql
    from salesnb.data.targets import Targets, load_targets
    from salesnb.exceptions import (
        DatabaseError,
        DataFileError,
        DataSchemaError,
        OptionError,
        SalesnbError,
        SalesnbWarning,
        SettingsError,
        WindowError,
    )
    from salesnb.metrics.backtesting import backtest
    from salesnb.metrics.cycle import cycle_comparison, cycle_durations, cycle_survival, sales_cycle
    from salesnb.metrics.deal_risk import risk
    from salesnb.metrics.flow import funnel, stage_transitions, time_in_stage
    from salesnb.metrics.forecasting import forecast, forecast_backtest
    from salesnb.metrics.movement import overdue_deals, pipeline_movement, stage_movement
    from salesnb.metrics.opportunities import new_opportunities, open_opportunities, open_over_time
    from salesnb.metrics.outcomes import lost_reasons, won_lost
    from salesnb.metrics.pipeline_health import pipeline_coverage, sales_velocity
    from salesnb.metrics.quota import attainment
    from salesnb.metrics.stages import stage_visits
    from salesnb.metrics.stalled import slowest_movers, stuck_opportunities
    from salesnb.metrics.summary import kpi_summary
    from salesnb.metrics.volume import deal_size_bands, deal_size_flags, sales_volume
    from salesnb.metrics.winrate import win_rate
    from salesnb.periods import parse_date, period_bounds, period_table
    from salesnb.presentation import notebook

#: The public API: name -> the module it lives in (a submodule: the module itself).
_EXPORTS: dict[str, str] = {
    # data
    "load": "salesnb.data.loading",
    "load_sql": "salesnb.data.sql",
    "apply_mapping": "salesnb.data.mapping_apply",
    "MappingReport": "salesnb.data.mapping_apply",
    "recognise_export": "salesnb.data.recognise",
    "load_rates": "salesnb.data.rates",
    "SalesData": "salesnb.data.dataset",
    "FunnelSettings": "salesnb.data.settings",
    "load_settings": "salesnb.data.settings",
    "sample_path": "salesnb.data.bundled",
    "load_targets": "salesnb.data.targets",
    "Targets": "salesnb.data.targets",
    # calendars and periods
    "parse_date": "salesnb.periods",
    "period_bounds": "salesnb.periods",
    "period_table": "salesnb.periods",
    # metrics, one module per question
    "open_opportunities": "salesnb.metrics.opportunities",
    "open_over_time": "salesnb.metrics.opportunities",
    "new_opportunities": "salesnb.metrics.opportunities",
    "won_lost": "salesnb.metrics.outcomes",
    "lost_reasons": "salesnb.metrics.outcomes",
    "sales_volume": "salesnb.metrics.volume",
    "deal_size_flags": "salesnb.metrics.volume",
    "deal_size_bands": "salesnb.metrics.volume",
    "win_rate": "salesnb.metrics.winrate",
    "funnel": "salesnb.metrics.flow",
    "stage_transitions": "salesnb.metrics.flow",
    "time_in_stage": "salesnb.metrics.flow",
    "stage_visits": "salesnb.metrics.stages",
    "stuck_opportunities": "salesnb.metrics.stalled",
    "slowest_movers": "salesnb.metrics.stalled",
    "sales_cycle": "salesnb.metrics.cycle",
    "cycle_durations": "salesnb.metrics.cycle",
    "cycle_survival": "salesnb.metrics.cycle",
    "cycle_comparison": "salesnb.metrics.cycle",
    "risk": "salesnb.metrics.deal_risk",
    "backtest": "salesnb.metrics.backtesting",
    "pipeline_movement": "salesnb.metrics.movement",
    "stage_movement": "salesnb.metrics.movement",
    "overdue_deals": "salesnb.metrics.movement",
    "sales_velocity": "salesnb.metrics.pipeline_health",
    "pipeline_coverage": "salesnb.metrics.pipeline_health",
    "kpi_summary": "salesnb.metrics.summary",
    # targets and forecasts
    "attainment": "salesnb.metrics.quota",
    "forecast": "salesnb.metrics.forecasting",
    "forecast_backtest": "salesnb.metrics.forecasting",
    # notebooks: the parameters contract and context (a public submodule)
    "notebook": "salesnb.presentation.notebook",
    # errors and warnings
    "SalesnbError": "salesnb.exceptions",
    "SalesnbWarning": "salesnb.exceptions",
    "DataFileError": "salesnb.exceptions",
    "DataSchemaError": "salesnb.exceptions",
    "DatabaseError": "salesnb.exceptions",
    "SettingsError": "salesnb.exceptions",
    "WindowError": "salesnb.exceptions",
    "OptionError": "salesnb.exceptions",
}

__all__ = sorted(_EXPORTS, key=str.lower)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'salesnb' has no attribute {name!r}") from None
    found = import_module(module)
    # A name that is its module's own name and not defined in it is the module (``notebook``).
    is_module = module.rsplit(".", 1)[1] == name and not hasattr(found, name)
    value = found if is_module else getattr(found, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
