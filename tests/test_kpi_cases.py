"""Small hand-made datasets shared by the ``test_kpi_*`` modules (no tests here).

Each dataset is written out row by row with its story, so that every expected value
in the tests can be worked out by hand from this page. Timestamps are naive ISO
strings (local time in the dataset's time zone, UTC unless said otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from salesnb.data.dataset import SalesData

OPP_COLUMNS = ["opportunity_id", "owner", "created_at", "status", "closed_at", "amount",
               "stage", "lost_reason", "team"]
HIST_COLUMNS = ["opportunity_id", "stage", "entered_at"]
FOUR_STAGES = ["lead", "qualified", "proposal", "negotiation"]


def build(opps: Sequence[Sequence[Any]], hist: Sequence[Sequence[Any]] | None = None,
          settings: Mapping[str, Any] | None = None) -> SalesData:
    """A validated dataset from rows in ``OPP_COLUMNS`` / ``HIST_COLUMNS`` order.

    Opportunity rows may stop early; missing trailing fields are empty.
    """
    rows = [list(r) + [""] * (len(OPP_COLUMNS) - len(r)) for r in opps]
    o = pd.DataFrame(rows, columns=OPP_COLUMNS)
    h = None if hist is None else pd.DataFrame(list(hist), columns=HIST_COLUMNS)
    return SalesData.from_frames(o, h, dict(settings or {}))


# --------------------------------------------------------------------------- the main dataset
# Window [2025-01-01, 2025-02-01), as_of = end = 2025-02-01 00:00 UTC unless a test says
# otherwise. Stages: lead → qualified → proposal → negotiation.
#
# id   owner created            status  closed             amount stage      reason  story
# o1   Sara  01-01 00:00 (=start) won  01-21              1000                    all four stages, won row present
# o2   Sara  01-05              lost    01-15              500                price  lead → proposal (skips qualified), no lost row
# o3   Ali   01-10              won     01-30 12:00        (none)                   lead → qualified → proposal → qualified (regression)
# o4   Ali   01-12              lost    01-25              300    qualified   "  "    no history; blank reason = (unspecified)
# o5   Ali   01-15              "WON"   02-10 (> as_of)    2000                     lead → negotiation (skip); won row on 02-10
# o6   Sara  01-20              "Open"                     100                      lead → qualified; proposal on 02-05 (> as_of)
# o7   Reza  02-01 00:00 (=end) open                       5000                     created exactly at end = as_of
# o8   Reza  2024-12-20         lost    01-10              700                price  lead → qualified → lost row (before window)
# o9   Sara  2024-12-15         open                       (none) negotiation       no history, created before the window
# o10  Ali   2024-12-01         won     01-31              1500                     qualified and proposal tie on 12-10
# o11  Reza  01-28              lost    02-01 00:00 (=end)  (none)            timing lead only; closed exactly at end = as_of
MAIN_OPPS = [
    ("o1", "Sara", "2025-01-01", "won", "2025-01-21", "1000", "", ""),
    ("o2", "Sara", "2025-01-05", "lost", "2025-01-15", "500", "", "price"),
    ("o3", "Ali", "2025-01-10", "won", "2025-01-30T12:00", "", "", ""),
    ("o4", "Ali", "2025-01-12", "lost", "2025-01-25", "300", "qualified", "  "),
    ("o5", "Ali", "2025-01-15", "WON", "2025-02-10", "2000", "", ""),
    ("o6", "Sara", "2025-01-20", "Open", "", "100", "", ""),
    ("o7", "Reza", "2025-02-01", "open", "", "5000", "", ""),
    ("o8", "Reza", "2024-12-20", "lost", "2025-01-10", "700", "", "price"),
    ("o9", "Sara", "2024-12-15", "open", "", "", "negotiation", ""),
    ("o10", "Ali", "2024-12-01", "won", "2025-01-31", "1500", "", ""),
    ("o11", "Reza", "2025-01-28", "lost", "2025-02-01", "", "", "timing"),
]
MAIN_HISTORY = [
    ("o1", "lead", "2025-01-01"), ("o1", "qualified", "2025-01-03"), ("o1", "proposal", "2025-01-06"),
    ("o1", "negotiation", "2025-01-11"), ("o1", "won", "2025-01-21"),
    ("o2", "lead", "2025-01-05"), ("o2", "proposal", "2025-01-07"),
    ("o3", "lead", "2025-01-10"), ("o3", "qualified", "2025-01-12"), ("o3", "proposal", "2025-01-15"),
    ("o3", "qualified", "2025-01-20"),
    ("o5", "lead", "2025-01-15"), ("o5", "negotiation", "2025-01-20"), ("o5", "won", "2025-02-10"),
    ("o6", "lead", "2025-01-20"), ("o6", "qualified", "2025-01-25"), ("o6", "proposal", "2025-02-05"),
    ("o8", "lead", "2024-12-20"), ("o8", "qualified", "2024-12-28"), ("o8", "lost", "2025-01-10"),
    ("o10", "lead", "2024-12-01"), ("o10", "qualified", "2024-12-10"), ("o10", "proposal", "2024-12-10"),
    ("o11", "lead", "2025-01-28"),
]
START, END = "2025-01-01", "2025-02-01"
WINDOW = {"start": START, "end": END}
LATER = "2025-02-15"  # an as_of after end: o5's win (02-10) and o6's proposal (02-05) are known


def main_data() -> SalesData:
    return build(MAIN_OPPS, MAIN_HISTORY, {"stages": FOUR_STAGES})


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
