"""salesnb: sales-team effectiveness metrics from CRM data.

Load a dataset, then call the KPI functions::

    import salesnb as sn
    data = sn.load(sn.sample_path())
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
