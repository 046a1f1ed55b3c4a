"""salesnb: sales-team effectiveness metrics from CRM data.

Load a dataset, then call the KPI functions::

    import salesnb as sn
    data = sn.load(sn.sample_path())
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from salesnb.data import SalesData
from salesnb.exceptions import (
    DatabaseError,
    DataFileError,
    DataSchemaError,
    SalesnbError,
    SalesnbWarning,
    SettingsError,
)
from salesnb.io import load
from salesnb.paths import sample_path
from salesnb.settings import FunnelSettings, load_settings

try:
    __version__ = version("salesnb")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataFileError",
    "DataSchemaError",
    "DatabaseError",
    "FunnelSettings",
    "SalesData",
    "SalesnbError",
    "SalesnbWarning",
    "SettingsError",
    "load",
    "load_settings",
    "sample_path",
]
