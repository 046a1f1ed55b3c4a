"""Recognising a CRM export: which preset reads a folder or file that is not a dataset.

``salesnb validate DATA`` (and ``load``) on a folder without the canonical
``opportunities`` table asks :func:`recognise_export` whether it looks like an export a
preset reads — the preset's (or variant's) main file is there and has its ``detect``
columns — so that the message names the preset to use (``--mapping salesforce``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.data.mapping_spec import ColumnMapping, list_presets, read_mapping
from salesnb.data.mapping_tables import Table, find_file
from salesnb.data.readers import ExportFile, find_table, read_header
from salesnb.exceptions import SalesnbError

__all__ = ["Recognised", "recognise_export"]


@dataclass(frozen=True)
class Recognised:
    """An export recognised: the preset (and variant) that reads it, and its main file."""

    preset: str
    variant: str
    file: Path
    description: str

    def advice(self, data: str) -> str:
        """The sentence telling the user what to run."""
        kind = f"{self.variant}, " if self.variant else ""
        return (f"this looks like an export the preset '{self.preset}' reads ({kind}main file {self.file.name}): "
                f"run salesnb validate {data} --mapping {self.preset} "
                f"(in Python: salesnb.load(..., mapping=\"{self.preset}\"))")

    def as_dict(self) -> dict[str, str]:
        return {"preset": self.preset, "variant": self.variant, "file": self.file.name}


def recognise_export(path: str | Path) -> Recognised | None:
    """Return the preset that reads the export at ``path``, or None.

    A folder holding the canonical ``opportunities`` table is a dataset, not an export.

    Parameters
    ----------
    path : str or Path
        An export folder or file.

    Returns
    -------
    Recognised or None
        The preset, its variant and the main file (``advice(data)`` says what to run).

    Examples
    --------
    >>> import salesnb as sn
    >>> recognise_export(sn.sample_path("maven")).preset
    'maven'
    >>> recognise_export(sn.sample_path()) is None
    True
    """
    path = Path(path)
    if not path.exists():
        return None
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        try:
            if find_table(folder, "opportunities") is not None:
                return None
        except SalesnbError:
            return None
    for name in list_presets():
        spec = read_mapping(name)
        for variant in spec.variants or (spec,):
            found = _fits(variant, path, folder)
            if found is not None:
                return Recognised(name, variant.variant, found, spec.description or name)
    return None


def _fits(variant: ColumnMapping, path: Path, folder: Path) -> Path | None:
    try:
        main = path if path.is_file() else find_file(folder, variant.file, required=False, what="main file")
    except SalesnbError:
        return None
    if main is None:
        return None
    header = read_header(main)
    if not header:
        return None
    frame = pd.DataFrame(columns=pd.Index(header, dtype=object))
    table = Table(ExportFile(main, frame, lambda p: [str(int(i)) for i in np.asarray(p)], "", ""),
                  variant.read.strip_prefix)
    wanted = variant.detect or tuple(spec for target, spec in variant.columns
                                     if not spec.optional and target in ("opportunity_id", "status"))
    if not wanted:
        return None
    return main if all(any(table.resolve(c) for c in spec.sources) for spec in wanted) else None
