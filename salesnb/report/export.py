"""Report pages: executed notebooks as self-contained HTML without code, and PDF prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from salesnb.exceptions import ReportError
from salesnb.presentation.views import CSV_LINK

__all__ = ["export_html", "print_pdf", "write_full_lists"]


_NETWORK = re.compile(r"""<(script|link)\b[^>]*(src|href)\s*=\s*["']https?://[^"']*["'][^>]*>(\s*</script>)?""",
                      re.IGNORECASE)


def write_full_lists(nb: nbformat.NotebookNode, target: Path) -> dict[str, Path]:
    """Write the full lists a notebook attached (``text/csv`` outputs) beside its page.

    A section that shows only the top rows of a long list (the open-deal risk list, the
    stuck deals) attaches the whole list as a ``text/csv`` output named in its metadata
    (``{"salesnb": {"csv": name}}``). Each is written as ``<page>-<name>.csv`` beside
    ``target`` (UTF-8 with a byte-order mark, so spreadsheet programs read Persian
    names) and removed from the notebook, which keeps the page small.

    Returns
    -------
    dict
        name -> the CSV file written.
    """
    written: dict[str, Path] = {}
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("salesnb", {}).get("csv") if out.get("output_type") == "display_data" else None
            if name and "text/csv" in out.get("data", {}):
                path = target.with_name(f"{target.stem}-{name}.csv")
                path.write_text(out["data"]["text/csv"], encoding="utf-8-sig")
                written[name] = path
            else:
                kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return written


def translate_prose(nb: Any, language: str) -> int:
    """Put each markdown cell's translation in place (``metadata.salesnb.<language>``, the
    notebooks ship their Persian prose there); returns how many cells were translated.
    A cell without one keeps its English text."""
    done = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        text = cell.get("metadata", {}).get("salesnb", {}).get(language)
        if isinstance(text, str) and text.strip():
            cell["source"] = text
            done += 1
    return done


def export_html(notebook: Path, target: Path, *, title: str, language: str) -> None:
    """Export an executed notebook to self-contained HTML without code cells.

    Full lists attached by the sections are written beside the page as CSV
    (:func:`write_full_lists`) and the page links to them.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    if language != "en":
        translate_prose(nb, language)
    lists = write_full_lists(nb, target)
    body, _ = exporter.from_notebook_node(nb)
    body = _NETWORK.sub("", body)
    for name, path in lists.items():
        body = body.replace(f'href="{CSV_LINK}{name}"', f'href="{path.name}"')
    body = re.sub(r'<a href="salesnb-csv:[^"]*">[^<]*</a>', "", body)  # a list that was not attached
    # Wide tables scroll inside the page; a reasons column wraps (views.section_html).
    body = body.replace("</head>", "<style>.jp-RenderedHTMLCommon table.salesnb-table td.wrap "
                                   "{ white-space: normal; }</style></head>", 1)
    if language == "fa":
        # Right-to-left pages; each paragraph still takes the direction of its own text,
        # so the English explanations keep their punctuation in place.
        body = re.sub(r"<html[^>]*>", '<html lang="fa" dir="rtl">', body, count=1)
        body = body.replace("<body", '<body dir="rtl"', 1).replace(
            "</head>", "<style>p, li, h1, h2, h3, h4, td, th, blockquote { unicode-bidi: plaintext; }"
                       "</style></head>", 1)
    target.write_text(body, encoding="utf-8")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, target: Path) -> None:
    """Print an HTML page to PDF with headless Chromium (no network)."""
    binary = _chromium()
    if binary is None:
        raise ReportError("--pdf needs Chromium, which was not found\n"
                          "  Fix: install it (Debian: apt-get install chromium) or leave out --pdf")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={target}",
            page.resolve().as_uri(),
        ], check=True, capture_output=True, timeout=120)
