"""pyproject.toml and environment.yml list the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """Normalised package name of a requirement (PEP 503; extras and versions dropped)."""
    name = re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {_name(r) for r in reqs}


def _environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    pyproject, conda = _pyproject_names(), _environment_names()
    assert pyproject - conda == set(), f"in pyproject.toml only: {sorted(pyproject - conda)}"
    assert conda - pyproject == set(), f"in environment.yml only: {sorted(conda - pyproject)}"


def test_environment_yml_installs_the_package_itself() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert ["-e ."] in pip_sections
    assert env["channels"] == ["conda-forge"]


def test_pandas_is_pinned_to_major_version_3() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pandas = [r for r in project["dependencies"] if _name(r) == "pandas"]
    assert pandas == ["pandas>=3.0,<4"]
    lock = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^pandas==3\.", lock, re.MULTILINE)
