"""salesnb: sales-team effectiveness metrics from CRM data.

Load a dataset, then call the KPI functions::

    import salesnb as sn
    data = sn.load(sn.sample_path())
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salesnb import notebook
    from salesnb.cycle import cycle_comparison, cycle_durations, cycle_survival, sales_cycle
    from salesnb.data import SalesData
    from salesnb.exceptions import (
        DatabaseError,
        DataFileError,
        DataSchemaError,
        SalesnbError,
        SalesnbWarning,
        SettingsError,
        WindowError,
    )
    from salesnb.funnel import (
        funnel,
        slowest_movers,
        stage_transitions,
        stuck_opportunities,
        time_in_stage,
    )
    from salesnb.io import load
    from salesnb.mapping import MappingReport, apply_mapping
    from salesnb.outcomes import lost_reasons, won_lost
    from salesnb.paths import sample_path
    from salesnb.periods import parse_date, period_bounds, period_table
    from salesnb.pipeline import new_opportunities, open_opportunities, open_over_time
    from salesnb.risk import backtest, pipeline_coverage, risk, sales_velocity
    from salesnb.settings import FunnelSettings, load_settings
    from salesnb.sql import load_sql
    from salesnb.stages import stage_visits
    from salesnb.summary import kpi_summary
    from salesnb.volume import deal_size_bands, deal_size_flags, sales_volume
    from salesnb.winrate import win_rate

# `funnel` and `risk` are also the names of their modules: importing the module would
# bind the module over the lazily resolved function, so these two are imported now.
from salesnb.funnel import funnel
from salesnb.risk import risk

# Public names and the module each lives in. They are imported on first use (PEP 562)
# so that `salesnb kpi` does not pay for SQLAlchemy, SciPy or the notebook machinery.
_EXPORTS = {
    "apply_mapping": "salesnb.mapping",
    "backtest": "salesnb.risk",
    "cycle_comparison": "salesnb.cycle",
    "cycle_durations": "salesnb.cycle",
    "cycle_survival": "salesnb.cycle",
    "DatabaseError": "salesnb.exceptions",
    "DataFileError": "salesnb.exceptions",
    "DataSchemaError": "salesnb.exceptions",
    "deal_size_bands": "salesnb.volume",
    "deal_size_flags": "salesnb.volume",
    "FunnelSettings": "salesnb.settings",
    "kpi_summary": "salesnb.summary",
    "load": "salesnb.io",
    "load_settings": "salesnb.settings",
    "load_sql": "salesnb.sql",
    "lost_reasons": "salesnb.outcomes",
    "MappingReport": "salesnb.mapping",
    "new_opportunities": "salesnb.pipeline",
    "open_opportunities": "salesnb.pipeline",
    "open_over_time": "salesnb.pipeline",
    "parse_date": "salesnb.periods",
    "period_bounds": "salesnb.periods",
    "period_table": "salesnb.periods",
    "pipeline_coverage": "salesnb.risk",
    "sales_cycle": "salesnb.cycle",
    "sales_velocity": "salesnb.risk",
    "sales_volume": "salesnb.volume",
    "SalesData": "salesnb.data",
    "SalesnbError": "salesnb.exceptions",
    "SalesnbWarning": "salesnb.exceptions",
    "sample_path": "salesnb.paths",
    "SettingsError": "salesnb.exceptions",
    "slowest_movers": "salesnb.funnel",
    "stage_transitions": "salesnb.funnel",
    "stage_visits": "salesnb.stages",
    "stuck_opportunities": "salesnb.funnel",
    "time_in_stage": "salesnb.funnel",
    "win_rate": "salesnb.winrate",
    "WindowError": "salesnb.exceptions",
    "won_lost": "salesnb.outcomes",
}
_SUBMODULES = {"notebook"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = import_module(f"salesnb.{name}")
    else:
        raise AttributeError(f"module 'salesnb' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


try:
    __version__ = version("salesnb")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataFileError",
    "DataSchemaError",
    "DatabaseError",
    "FunnelSettings",
    "MappingReport",
    "SalesData",
    "SalesnbError",
    "SalesnbWarning",
    "SettingsError",
    "WindowError",
    "apply_mapping",
    "backtest",
    "cycle_comparison",
    "cycle_durations",
    "cycle_survival",
    "deal_size_bands",
    "deal_size_flags",
    "funnel",
    "kpi_summary",
    "load",
    "load_settings",
    "load_sql",
    "lost_reasons",
    "new_opportunities",
    "notebook",
    "open_opportunities",
    "open_over_time",
    "parse_date",
    "period_bounds",
    "period_table",
    "pipeline_coverage",
    "risk",
    "sales_cycle",
    "sales_velocity",
    "sales_volume",
    "sample_path",
    "slowest_movers",
    "stage_transitions",
    "stage_visits",
    "stuck_opportunities",
    "time_in_stage",
    "win_rate",
    "won_lost",
]
