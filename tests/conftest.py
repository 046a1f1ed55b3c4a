"""Shared fixtures: small datasets written to ``tmp_path`` by the tests themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

#: A valid three-deal dataset. Every deal enters ``lead`` first, so the stage order
#: inferred from the history is unambiguous: lead → qualified → proposal.
GOOD_OPPORTUNITIES = """\
opportunity_id,owner,created_at,status,closed_at,amount,stage,lost_reason,region
o1,Sara,2025-01-05,won,2025-02-01,1000,,,north
o2,Ali,2025-01-06,lost,2025-02-10,500,qualified,price,south
o3,Sara,2025-01-07,open,,,proposal,,north
"""

GOOD_HISTORY = """\
opportunity_id,stage,entered_at
o1,lead,2025-01-05
o1,qualified,2025-01-10
o1,proposal,2025-01-20
o1,won,2025-02-01
o2,lead,2025-01-06
o2,qualified,2025-01-08
o2,lost,2025-02-10
o3,lead,2025-01-07
o3,qualified,2025-01-09
o3,proposal,2025-01-15
"""

MakeDataset = Callable[..., Path]


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """Return a factory writing a dataset folder; ``None`` leaves a file out.

    ``make_dataset(opportunities=..., history=..., funnel=..., name=...)`` writes
    ``opportunities.csv``, ``stage_history.csv`` and ``funnel.yml`` (UTF-8 text) into
    ``tmp_path / name`` and returns that folder.
    """

    def make(
        opportunities: str | None = GOOD_OPPORTUNITIES,
        history: str | None = GOOD_HISTORY,
        funnel: str | None = None,
        *,
        name: str = "data",
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for filename, text in (("opportunities.csv", opportunities),
                               ("stage_history.csv", history),
                               ("funnel.yml", funnel)):
            if text is not None:
                (folder / filename).write_text(text, encoding="utf-8")
        return folder

    return make


@pytest.fixture
def good_dataset(make_dataset: MakeDataset) -> Path:
    """A valid CSV dataset folder without funnel.yml (stage order inferred)."""
    return make_dataset()

