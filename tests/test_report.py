"""`salesnb report`: a self-contained, dated HTML report set, reproducible and failure-safe."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

import salesnb as sn
from salesnb.cli import main
from salesnb.report.period import resolve_period
from salesnb.report.runner import run_report

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "1404-06"  # Shahrivar 1404: a complete month of the sample

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = run_report(ROOT / "data" / "sample", period=PERIOD, out=out, jobs=2, progress=lambda _: None)
    assert result.ok, [r.error for r in result.runs]
    return result.folder


def _pages(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.html"))


def test_every_page_exists(report: Path) -> None:
    names = {p.name for p in _pages(report)}
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert names == {"index.html"} | {f"{n}.html" for n in notebooks}
    assert {p.stem for p in (report / "notebooks").glob("*.ipynb")} == notebooks
    assert (report / "kpis.json").exists()
    assert report.name == PERIOD


def test_pages_have_no_traceback_no_code_and_embedded_plots(report: Path) -> None:
    for page in _pages(report):
        text = page.read_text(encoding="utf-8")
        assert "Traceback" not in text and "Error:" not in text, page.name
        if page.name != "index.html":
            plots = len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", text))
            assert plots >= 1, f"{page.name} has no embedded plot"
            assert "&lt;Figure size" not in text and "<Figure size" not in text, f"{page.name}: figure not rendered"
            assert "sn.notebook.prepare" not in text, f"{page.name} shows code cells"


def test_no_network_resources(report: Path) -> None:
    pattern = re.compile(r"""<(?:script|link|img)\b[^>]*(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)
    for page in _pages(report):
        assert not pattern.search(page.read_text(encoding="utf-8")), page.name


def test_index_links_every_section_and_shows_changes(report: Path) -> None:
    text = (report / "index.html").read_text(encoding="utf-8")
    for page in _pages(report):
        if page.name != "index.html":
            assert f"href='{page.name}'" in text
    assert "vs previous" in text.lower() or "previous" in text.lower()
    assert "data quality" in text.lower()


def test_the_pipeline_movement_page(report: Path) -> None:
    """Notebook 06 has its page: the walk (team total, per team), the stage matrix, and the
    overdue deals (the sample has expected close dates), linked from the index between the
    sales cycle and the targets."""
    from salesnb.presentation import i18n

    page = (report / "06_pipeline_movement.html").read_text(encoding="utf-8")
    assert i18n.translate("q6a_title", "en") in page and i18n.translate("q6b_title", "en") in page
    assert len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", page)) == 3
    # the sample has expected close dates and a field history: overdue deals are listed
    assert i18n.translate("note_no_expected_close", "en") not in page
    assert i18n.translate("overdue_table", "en") in page
    assert "✔" in page  # the walk balances, row by row
    index = (report / "index.html").read_text(encoding="utf-8")
    # the index shows the walk of the report period (team total, by count)
    walk = sn.pipeline_movement(sn.load(ROOT / "data" / "sample"), start="1404-06-01", end="1404-07-01",
                                by=None).iloc[0]
    summary = index[index.index(i18n.translate("movement_title", "en")):]
    for key in ("open_start", "created", "won", "lost", "open_end"):
        assert i18n.translate(key, "en") in summary, key
        assert f"{int(walk[f'{key}_count']):,}" in summary, key
    links = [index.index(f"href='{name}.html'") for name in ("05_sales_cycle", "06_pipeline_movement",
                                                              "07_targets_forecast")]
    assert links == sorted(links)


def test_kpis_json_equals_the_cli_document(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = sn.load(ROOT / "data" / "sample")
    window, _ = resolve_period(data, period=PERIOD)
    assert main(["kpi", str(ROOT / "data" / "sample"), "--start", "1404-06-01", "--end", "1404-07-01",
                 "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert json.loads((report / "kpis.json").read_text(encoding="utf-8")) == cli
    assert cli["window"]["start"] == window.start.isoformat()


def test_rerun_gives_identical_kpis_and_replaces_the_report(report: Path, tmp_path: Path) -> None:
    # A copy of the full report is replaced by a rerun of one notebook (the runner's logic is
    # the same for one or eight; the module's report stays whole for the other tests).
    out = tmp_path / "reports"
    shutil.copytree(report, out / report.name)
    first = (report / "kpis.json").read_bytes()
    again = run_report(ROOT / "data" / "sample", period=PERIOD, out=out, jobs=2,
                       notebooks=_only(tmp_path, "01_opportunities"), progress=lambda _: None)
    assert again.ok and again.replaced_previous and again.folder == out / report.name
    assert (again.folder / "kpis.json").read_bytes() == first
    assert {p.name for p in _pages(again.folder)} == {"index.html", "01_opportunities.html"}
    assert not list(out.glob(".*")), "the staging or old folder was left behind"


def test_a_failing_notebook_is_isolated_and_keeps_the_good_report(report: Path, tmp_path: Path) -> None:
    # Two notebooks are enough to show the isolation: one fails, the other still finishes.
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("01_opportunities", "02_won_lost"):
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", notebooks)
    broken = notebooks / "02_won_lost.ipynb"
    nb = nbformat.read(str(broken), as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell("raise RuntimeError('forced failure for the test')"))
    nbformat.write(nb, str(broken))
    out = report.parent
    good_index = (report / "index.html").read_bytes()
    code = main(["report", str(ROOT / "data" / "sample"), "--period", PERIOD, "--out", str(out),
                 "--notebooks", str(notebooks), "--jobs", "2"])
    assert code == 1
    # the earlier good report is untouched; the broken run sits beside it
    assert (report / "index.html").read_bytes() == good_index
    failed = report.with_name(report.name + ".failed")
    index = (failed / "index.html").read_text(encoding="utf-8")
    assert "02_won_lost" in index and "forced failure for the test" in index and "RuntimeError" in index
    # the other section still finished
    assert (failed / "01_opportunities.html").exists()
    assert not (failed / "02_won_lost.html").exists()


def test_persian_report_is_right_to_left(tmp_path: Path) -> None:
    result = run_report(ROOT / "data" / "sample", period=PERIOD, out=tmp_path, language="fa", jobs=2,
                        notebooks=_only(tmp_path, "00_overview"), progress=lambda _: None)
    assert result.ok
    assert result.folder.name == f"{PERIOD}-fa"
    for page in _pages(result.folder):
        text = page.read_text(encoding="utf-8")
        assert '<html lang="fa" dir="rtl">' in text, page.name
    # The notebook's prose is in Persian too (its cells carry their translation).
    overview = (result.folder / "00_overview.html").read_text(encoding="utf-8")
    assert "پرسش." in overview and "Question." not in overview and "How to read it" not in overview
    # Every output a person reads (the sections' HTML, the printed heading) is right to
    # left with Persian digits; opportunity ids stay as the CRM stores them.
    from test_persian_html import latin_digits_in, read

    executed = nbformat.read(result.folder / "notebooks" / "00_overview.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    shown = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(shown) >= 4
    for out in shown:
        reader = read(out["data"]["text/html"])
        assert reader.roots[0].get("dir") == "rtl" and reader.roots[0].get("lang") == "fa"
        assert latin_digits_in(reader) == []
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "بازه" in printed and not re.search("[0-9]", printed), printed


def _only(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "only"
    folder.mkdir(exist_ok=True)
    shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", folder)
    return folder


def test_period_resolution() -> None:
    data = sn.load(ROOT / "data" / "sample")  # last event 2025-11-20 (1404-08-29), Jalali
    w, label = resolve_period(data)  # default: latest complete month
    assert label == "1404-07"
    assert w.start.isoformat() == "2025-09-23T00:00:00+03:30"
    _, label = resolve_period(data, period="last-quarter")
    assert label == "1404-Q2"
    _, label = resolve_period(data, period="2025-10", calendar="gregorian")
    assert label == "2025-10"
    with pytest.raises(sn.WindowError, match="not understood"):
        resolve_period(data, period="next-tuesday")


def test_rendered_index_is_not_blank(report: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("SALESNB_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium required (SALESNB_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    png = tmp_path / "index.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
                        "--window-size=1280,1600", (report / "index.html").as_uri()],
                       check=True, capture_output=True, timeout=120)
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"))
    assert int(pixels.max()) - int(pixels.min()) > 100, "the page rendered blank"
    assert int((pixels < 128).sum()) > 1000, "almost nothing drawn on the page"


def test_pages_print_to_pdf(report: Path, tmp_path: Path) -> None:
    from salesnb.report.export import print_pdf

    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        if os.environ.get("SALESNB_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium required (SALESNB_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    target = tmp_path / "index.pdf"
    print_pdf(report / "index.html", target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000


def test_index_won_and_change_match_a_count_from_the_raw_csv(report: Path) -> None:
    # Independent count with plain pandas on the shipped CSV: timestamps there are naive
    # Asia/Tehran local time; Shahrivar 1404 = [2025-08-23, 2025-09-23), Mordad 1404 =
    # [2025-07-23, 2025-08-23) (jdatetime: 1404-06-01 = 2025-08-23, 1404-05-01 = 2025-07-23).
    import pandas as pd

    raw = pd.read_csv(ROOT / "data" / "sample" / "opportunities.csv", dtype=str)
    won = raw[raw["status"].str.strip().str.lower() == "won"]
    closed = pd.to_datetime(won["closed_at"])

    def count(lo: str, hi: str) -> int:
        return int(((closed >= pd.Timestamp(lo)) & (closed < pd.Timestamp(hi))).sum())

    this, before = count("2025-08-23", "2025-09-23"), count("2025-07-23", "2025-08-23")
    text = (report / "index.html").read_text(encoding="utf-8")
    row = re.search(r"<tr><td>Won</td><td class='num'>([\d,]+)</td><td class='num'>([+-][\d,]+)</td></tr>", text)
    assert row is not None
    assert int(row.group(1).replace(",", "")) == this
    assert int(row.group(2).replace(",", "")) == this - before


def test_runs_json_records_every_notebook_and_orders_the_next_run(report: Path, tmp_path: Path) -> None:
    from salesnb.report.runner import RUNS_FILE, _slowest_first

    runs = json.loads((report / RUNS_FILE).read_text(encoding="utf-8"))
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [r["notebook"] for r in runs] == notebooks
    assert all(r["ok"] and r["seconds"] > 0 for r in runs)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    # first run (nothing recorded): later names first
    assert [p.stem for p in _slowest_first(sources, tmp_path)] == notebooks[::-1]
    # then the slowest recorded first; a notebook the record lacks comes before them
    folder = tmp_path / "1404-05"
    folder.mkdir()
    record = [{"notebook": n, "ok": True, "seconds": float(i)} for i, n in enumerate(notebooks) if n != "03_sales_volume"]
    record[0]["seconds"] = 99.0
    (folder / RUNS_FILE).write_text(json.dumps(record), encoding="utf-8")
    order = [p.stem for p in _slowest_first(sources, tmp_path)]
    assert order[:2] == ["03_sales_volume", notebooks[0]]
    assert order[2:] == [n for n in notebooks[::-1] if n not in ("03_sales_volume", notebooks[0])]
    (folder / RUNS_FILE).write_text("not json", encoding="utf-8")
    assert [p.stem for p in _slowest_first(sources, tmp_path)] == notebooks[::-1]
