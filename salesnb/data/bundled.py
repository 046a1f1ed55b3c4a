"""The files shipped inside the package: the sample datasets and the report notebooks.

They are found with :mod:`importlib.resources` (the lifelines ``datasets`` pattern),
never through a source checkout, so an installed wheel works from any folder. In the
wheel they sit under ``salesnb/_bundled/`` (copied there by the build configuration in
``pyproject.toml``); in the source tree ``salesnb/_bundled/datasets`` and
``salesnb/_bundled/notebooks`` are links to the one copy kept in git (``data/`` and
``notebooks/``), so an editable install finds them the same way.

==================  ==============================================================
name                content
==================  ==============================================================
``sample``          synthetic Jalali/Rial dataset: 2,000 opportunities, 6,271 stage
                    entries, ``funnel.yml`` (``salesnb sample --n 2000 --seed 1``)
``maven``           the public Maven Analytics CRM export: 8,800 deals, read with
                    ``mapping="maven"`` (see its ``SOURCE.md``)
``sample.sqlite``   the ``sample`` dataset in a SQLite database
==================  ==============================================================
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from salesnb.exceptions import DataFileError

__all__ = ["BUNDLED_DATASETS", "copy_notebooks", "notebooks_dir", "sample_path"]

#: The datasets shipped with the package.
BUNDLED_DATASETS = ("sample", "maven", "sample.sqlite")
#: The report notebooks: numbered, run in that order.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def _bundled(*parts: str) -> Path:
    found = resources.files("salesnb").joinpath("_bundled", *parts)
    if not isinstance(found, Path):  # pragma: no cover - a zipped install
        raise DataFileError("salesnb is installed as a zip archive", path=str(found),
                            fix="install salesnb as a regular wheel (pip install salesnb)")
    return found.resolve()


def sample_path(name: str = "sample") -> Path:
    """Return the path of a dataset shipped with salesnb.

    Parameters
    ----------
    name : {"sample", "maven", "sample.sqlite"}, default "sample"
        ``sample``: the synthetic Jalali/Rial sample (a folder); ``maven``: the public
        Maven Analytics CRM export (a folder, read with ``mapping="maven"``);
        ``sample.sqlite``: the sample in a SQLite database.

    Returns
    -------
    Path

    Raises
    ------
    DataFileError
        No bundled dataset has that name.

    Examples
    --------
    >>> import salesnb as sn
    >>> sn.sample_path().name
    'sample'
    >>> sorted(p.name for p in sn.sample_path().iterdir())
    ['field_history.csv', 'funnel.yml', 'opportunities.csv', 'stage_history.csv', 'targets.csv']
    """
    path = _bundled("datasets", name)
    if name not in BUNDLED_DATASETS or not path.exists():
        raise DataFileError(f"bundled dataset not found: {name!r}", path=str(path),
                            fix=f"use one of: {', '.join(BUNDLED_DATASETS)}")
    return path


def notebooks_dir() -> Path:
    """Return the folder holding the report notebooks shipped with salesnb.

    Examples
    --------
    >>> sorted(p.name for p in notebooks_dir().glob(NOTEBOOK_GLOB))[0]
    '00_overview.ipynb'
    """
    return _bundled("notebooks")


def copy_notebooks(dest: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the report notebooks into ``dest`` (created if needed), to open in JupyterLab.

    Parameters
    ----------
    dest : str or Path
        The folder to copy into.
    overwrite : bool, default False
        Replace notebooks of the same name already in ``dest``.

    Returns
    -------
    list of Path
        The copies, in reading order.

    Raises
    ------
    DataFileError
        A notebook of the same name is already in ``dest`` and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     [p.name for p in copy_notebooks(folder)][:2]
    ['00_overview.ipynb', '01_opportunities.ipynb']
    """
    target = Path(dest)
    sources = sorted(notebooks_dir().glob(NOTEBOOK_GLOB))
    clash = [target / s.name for s in sources if (target / s.name).exists()]
    if clash and not overwrite:
        raise DataFileError(f"{len(clash)} notebook(s) already there: "
                            f"{', '.join(p.name for p in clash)}", path=str(target),
                            fix="choose another folder, or overwrite them (salesnb notebooks DEST --force)")
    target.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(s, target / s.name)) for s in sources]
