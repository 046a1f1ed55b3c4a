"""Where the project's bundled files live (one place for paths)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "notebooks_dir", "sample_path"]

#: The source checkout (salesnb is installed in editable mode from it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def sample_path(name: str = "sample") -> Path:
    """Return the folder of a bundled dataset (``sample``: the synthetic Jalali/Rial sample).

    Parameters
    ----------
    name : str, default "sample"
        ``sample`` or ``maven`` (the public Maven Analytics CRM dataset).

    Examples
    --------
    >>> sample_path().name
    'sample'
    """
    path = PROJECT_ROOT / "data" / name
    if not path.exists():
        from salesnb.exceptions import DataFileError

        raise DataFileError("bundled dataset not found", path=str(path),
                            fix="run salesnb from the project checkout, or regenerate it with "
                                "`salesnb sample data/sample`")
    return path


def notebooks_dir() -> Path:
    """Return the folder holding the report notebooks."""
    return PROJECT_ROOT / "notebooks"
