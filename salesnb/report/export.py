"""Report pages: executed notebooks as self-contained HTML without code, and PDF prints."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat

from salesnb.exceptions import ReportError

__all__ = ["export_html", "print_pdf"]


_NETWORK = re.compile(r"""<(script|link)\b[^>]*(src|href)\s*=\s*["']https?://[^"']*["'][^>]*>(\s*</script>)?""",
                      re.IGNORECASE)


def export_html(notebook: Path, target: Path, *, title: str, language: str) -> None:
    """Export an executed notebook to self-contained HTML without code cells."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    body = _NETWORK.sub("", body)
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
