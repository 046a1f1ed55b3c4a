"""The notebooks and the app in a real browser: JupyterLab and Voilà on loopback, driven by
Playwright through the Debian Chromium (``/usr/bin/chromium``; nothing is downloaded).

Each filter of the bar is changed once; after each change the sections that read it must
have changed, nothing may have scrolled, the console must have no error and the page no
error output. The app is checked in English and in Persian (right to left, Persian
digits), and must not ask for anything outside 127.0.0.1 (it works offline).

Skipped without Chromium, unless ``SALESNB_REQUIRE_CHROMIUM=1`` (as in CI), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser as harness
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "data" / "sample")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(harness.CHROMIUM).exists():
        if os.environ.get("SALESNB_REQUIRE_CHROMIUM"):
            pytest.fail(f"{harness.CHROMIUM} is required (SALESNB_REQUIRE_CHROMIUM is set)")
        pytest.skip(f"{harness.CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = harness.launch(pw)
        yield browser
        browser.close()


def _check_change(page: harness.Page, change: harness.Change) -> None:
    assert change.changed, f"{change.name}: no section changed"
    assert change.scrolled == [], f"{change.name}: the page scrolled: {change.scrolled}"
    assert change.scroll_after == change.scroll_before, f"{change.name}: scroll position moved"
    assert page.page.locator(page.q(".salesnb-error")).count() == 0, f"{change.name}: error shown"


def _run_filters(page: harness.Page) -> list[harness.Change]:
    changes = []
    for name, action in harness.filter_actions(page):
        change = page.change(name, action)
        _check_change(page, change)
        changes.append(change)
    return changes


@pytest.mark.parametrize("language", ["en", "fa"])
def test_app_reacts_to_every_filter_offline(chromium: Any, language: str, tmp_path: Path) -> None:
    port = harness.free_port()
    with harness.app_server(SAMPLE, port, tmp_path / "app.log", language=language,
                            extra=("--start", "1404-01-01", "--end", "1404-07-01")):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = harness.Page(context.new_page())
        page.page.goto(f"http://127.0.0.1:{port}/")
        page.wait_ready()
        names = {k.split(":")[0] for k in page.sections()}
        assert {"tiles", "trend", "funnel", "risk"} <= names
        assert page.page.locator("text=import salesnb").count() == 0, "code is shown"
        changes = _run_filters(page)
        by_name = {c.name: c for c in changes}
        assert any(k.startswith("funnel") for k in by_name["salesperson"].changed)
        # The period is not read by the funnel or the risk list: they are not redrawn.
        assert not any(k.startswith(("funnel", "risk")) for k in by_name["period"].changed)
        assert page.external_requests() == [], "the app must work offline"
        assert page.console_errors() == []
        assert page.page.locator(".jp-OutputArea-output[data-mime-type*='error'], "
                                 ".jp-OutputArea-output[data-mime-type*='stderr']").count() == 0
        if language == "fa":
            dirs = page.page.eval_on_selector_all(
                "[data-section] > .salesnb-section, .salesnb-bar, .salesnb-table",
                "els => els.map(e => [getComputedStyle(e).direction, e.closest('[lang]')?.lang])")
            assert dirs and all(d == "rtl" for d, _ in dirs), dirs
            assert all(lang == "fa" for _, lang in dirs if lang)
            assert page.page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["fa", "rtl"]
            tiles = page.page.inner_text("[data-section=tiles] .salesnb-tiles")
            assert not re.search(r"[0-9]", tiles), "Latin digits in Persian tiles"
            assert "همه کارشناسان" in page.page.inner_text(".salesnb-bar")
        context.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """A JupyterLab of its own for each notebook (no workspace or kernel carried over)."""
    port, token = harness.free_port(), secrets.token_hex(16)
    with harness.lab_server(tmp_path, port, token, tmp_path / "lab.log"):
        yield port, token, tmp_path


@pytest.mark.parametrize("notebook", ["00_overview.ipynb", "04_win_rate_funnel.ipynb"])
def test_notebook_in_jupyterlab_reacts_to_every_filter(chromium: Any, lab: tuple[int, str, Path],
                                                         notebook: str) -> None:
    port, token, root = lab
    shutil.copy(ROOT / "notebooks" / notebook, root / notebook)
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    raw = context.new_page()
    raw.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}&reset")
    raw.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # A kernel attached first: "Run All Cells" without one opens "Select Kernel" and runs nothing.
    harness.wait_kernel_ready(raw)
    raw.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=30_000)
    raw.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    assert raw.locator(".jp-Dialog").count() == 0, raw.locator(".jp-Dialog").all_inner_texts()
    page = harness.Page(raw, ".jp-NotebookPanel:not(.lm-mod-hidden)")
    page.wait_ready()
    raw.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached",
                          timeout=180_000)
    assert raw.locator(".jp-Notebook .jp-Cell .jp-InputPrompt:has-text('[*]')").count() == 0
    assert raw.locator(page.q(".salesnb-bar")).count() == 1, "one filter bar per notebook"
    changes = _run_filters(page)
    assert {c.name for c in changes} >= {"salesperson", "team", "calendar", "from", "to"}
    if notebook.startswith("04"):
        assert "period" not in {c.name for c in changes}, "04 reads no period: no period control"
    raw.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    errors = raw.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
                         ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    assert page.console_errors() == []
    context.close()
