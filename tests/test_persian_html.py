"""Persian as a Persian reader expects it, in every HTML output (issue 18, item 4).

Each notebook section (as :func:`salesnb.presentation.views.section_html` renders it for
notebooks, report pages and widgets), the report index and the app's sections are
rendered in Persian and read back with an HTML parser: the outer block is ``dir="rtl"``
``lang="fa"``, every table is right to left, and no Latin digit is left in the text a
person reads (dates, period labels, counts), except in the opportunity ids, which are
the CRM's own identifiers and are shown as stored so they can be searched for.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

import salesnb as sn
from salesnb.presentation import i18n, views
from salesnb.presentation.notebook import prepare

LATIN = re.compile(r"[0-9]")
ID_HEADER = i18n.translate("opportunity_id", "fa")


class _Reader(HTMLParser):
    """Collects the visible text (not in ``<style>``/``<title>``/SVG ``<defs>``), each table's
    ``dir`` and the text of each table cell with its column header."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tables: list[dict[str, str | None]] = []
        self.roots: list[dict[str, str | None]] = []
        self._skip = 0
        self._headers: list[str] = []
        self._col = -1
        self._cell: str | None = None
        self._in_head = False
        self._id_cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if not self.roots:
            self.roots.append(a)
        if tag in ("style", "script", "title", "defs"):
            self._skip += 1
        elif tag == "table":
            self.tables.append(a)
            self._headers = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._col = -1
        elif tag in ("td", "th"):
            self._col += 1
            self._cell = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title", "defs"):
            self._skip -= 1
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._cell == "th" and self._in_head:
            self._headers.append(data)
        is_id = (self._cell == "td" and 0 <= self._col < len(self._headers)
                 and self._headers[self._col] == ID_HEADER)
        (self._id_cells if is_id else self.text).append(data)


def read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def latin_digits_in(reader: _Reader) -> list[str]:
    return [t.strip() for t in reader.text if LATIN.search(t)]


@pytest.fixture(scope="module")
def fa_ctx() -> Any:
    # A Jalali window whose first and last months are partial (their labels end with ``*``).
    return prepare(start="1404-01-10", end="1404-06-20", language="fa", interactive=False)


@pytest.mark.parametrize("name", sorted(views.VIEWS))
def test_every_persian_section_is_rtl_fa_with_persian_digits(fa_ctx: Any, name: str) -> None:
    section = views.VIEWS[name](fa_ctx)
    out = views.section_html(section)
    reader = read(out)
    assert reader.roots[0].get("dir") == "rtl" and reader.roots[0].get("lang") == "fa", reader.roots[0]
    assert all(t.get("dir") == "rtl" for t in reader.tables), reader.tables
    assert latin_digits_in(reader) == [], f"Latin digits in the Persian {name} section"
    # Something a person reads has digits at all (the check is not vacuous).
    assert any(re.search("[۰-۹]", t) for t in reader.text), name


def test_persian_period_labels_and_partial_marks(fa_ctx: Any) -> None:
    section = views.opportunities_view(fa_ctx)
    table = section.tables[i18n.translate("new_per_period", "fa")]
    labels = table[i18n.translate("period", "fa")].tolist()
    assert labels[0] == "۱۴۰۴-۰۱*" and labels[-1] == "۱۴۰۴-۰۶*", labels
    assert all(not LATIN.search(p) for p in labels)
    partial = table[i18n.translate("partial", "fa")].tolist()
    assert partial[0] == partial[-1] == "✔" and set(partial[1:-1]) == {""}, partial


def test_persian_report_index_is_rtl_fa_with_persian_digits() -> None:
    from salesnb.metrics.window import resolve_window
    from salesnb.report.index import previous_summary, render_index

    data = sn.load(sn.sample_path())
    window = resolve_window(data, "1404-06-01", "1404-07-01")
    doc = sn.kpi_summary(data, start=window.start, end=window.end)
    page = render_index(data, window, "1404-06", doc, previous_summary(data, window), [], language="fa")
    assert re.search(r'<html lang="fa" dir="rtl">', page)
    reader = read(page.split("<body>", 1)[1])
    assert all(t.get("dir") == "rtl" for t in reader.tables if t.get("class") != "kpis"), reader.tables
    leftover = [t for t in latin_digits_in(reader) if t not in ("kpis.json", data.source)]
    assert leftover == [], leftover


def test_persian_app_sections_are_rtl_fa_with_persian_digits() -> None:
    from salesnb.presentation.app import Dashboard

    board = Dashboard(sn.load(sn.sample_path()), language="fa", start="1404-01-10", end="1404-06-20")
    for panel in board.bar.panels:
        reader = read(panel.widget.value)
        section = read(panel.widget.value.split(">", 1)[1])  # inside the data-section wrapper
        assert section.roots[0].get("dir") == "rtl" and section.roots[0].get("lang") == "fa", panel.name
        assert all(t.get("dir") == "rtl" for t in reader.tables), panel.name
        assert latin_digits_in(reader) == [], panel.name


def test_persian_filter_bar_options_buttons_and_dates_are_persian() -> None:
    from salesnb.presentation.widgets import FilterBar

    ctx = prepare(start="1404-01-01", end="1404-07-01", language="fa", interactive=True)
    bar = FilterBar(ctx, {"people", "dates", "period"})
    assert not LATIN.search(bar.start.value + bar.end.value), (bar.start.value, bar.end.value)
    labels = [label for label, _ in bar.period.options] + [label for label, _ in bar.calendar.options]
    assert all(re.search("[\u0600-\u06ff]", label) for label in labels), labels
    bar.start.value = "۱۴۰۴-۱۳-۰۱"  # no 13th month
    message = "".join(read(bar.message.value).text)
    assert re.search("[\u0600-\u06ff]", message) and not re.search("[A-Za-z0-9]", message), message


def test_a_section_that_cannot_be_computed_says_so_in_persian() -> None:
    from salesnb.exceptions import SalesnbError
    from salesnb.presentation.widgets import FilterBar

    ctx = prepare(start="1404-01-01", end="1404-07-01", language="fa", interactive=True)
    bar = FilterBar(ctx, {"people", "dates"})

    def broken(_ctx: Any) -> str:
        raise SalesnbError("no deal in the window")

    panel = bar.add("broken", broken, {"people"})
    reader = read(panel.widget.value.split(">", 1)[1])
    assert reader.roots[0].get("dir") == "rtl" and reader.roots[0].get("lang") == "fa"
    assert reader.text[0] == i18n.translate("section_error", "fa")
    assert "no deal in the window" in panel.widget.value  # the detail, left to right
    assert '<bdi lang="en" dir="ltr">' in panel.widget.value


# --------------------------------------------------------------------------- the notebooks' prose
def test_every_prose_cell_ships_its_persian_translation_with_the_same_structure():
    """The report swaps a notebook's markdown for ``metadata.salesnb.fa`` in Persian
    (:func:`salesnb.report.export.translate_prose`): every cell has one, with the same
    headings, the same code spans and the same number of paragraphs."""
    import re
    from pathlib import Path

    import nbformat

    from salesnb.report.export import translate_prose

    root = Path(__file__).resolve().parent.parent / "notebooks"
    for path in sorted(root.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        prose = [c for c in nb.cells if c.cell_type == "markdown"]
        english = [c.source for c in prose]
        for cell in prose:
            fa = cell.metadata.get("salesnb", {}).get("fa", "")
            where = f"{path.name}: {cell.source[:40]!r}"
            assert re.search("[\u0600-\u06ff]", fa), where
            assert re.findall(r"^#+ ", fa, re.M) == re.findall(r"^#+ ", cell.source, re.M), where
            assert re.findall(r"`[^`]+`", fa) == re.findall(r"`[^`]+`", cell.source), where
            assert fa.count("\n\n") == cell.source.count("\n\n"), where
            assert not re.search(r"[0-9]", re.sub(r"`[^`]+`", "", fa)), where  # Persian digits
        assert translate_prose(nb, "fa") == len(prose)
        assert [c.source for c in prose] != english


def test_the_datasets_notes_print_in_persian():
    from test_kpi_currencies import without_rates

    from salesnb.presentation.notebook import prepare

    en = prepare(start="2025-01-01", end="2025-05-01", calendar="gregorian", interactive=False, data=without_rates())
    fa = prepare(start="2025-01-01", end="2025-05-01", calendar="gregorian", interactive=False, language="fa",
                 data=without_rates())
    assert any(line.startswith("note: amounts are in 4 currencies") for line in en.note_lines())
    lines = fa.note_lines()
    assert len(lines) == len(en.note_lines()) >= 2
    for line in lines:
        assert line.startswith("یادداشت: ") and "amounts are" not in line and "no field history" not in line
    assert any("مبلغ‌ها به ۴ ارز هستند" in line for line in lines)
