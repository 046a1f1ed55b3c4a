"""The real-browser harness: servers on loopback, the Debian Chromium through Playwright.

Used by ``tests/test_browser.py`` and by ``benchmarks/refilter.py``. Playwright (from
PyPI) drives ``/usr/bin/chromium`` through ``executable_path``; no browser is ever
downloaded. Servers (JupyterLab, ``salesnb app``) are started on a free loopback port in
their own process group and stopped by their PID.

Synchronisation never sleeps: a filter change is complete when the filter bar's status
element carries the next ``data-generation`` (the kernel sends it after every section it
redrew), and the page has painted twice since the last change in the page. The change's
end-to-end time is measured in the page itself, from the control's first input event to
the last change of the page (a ``MutationObserver``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"

#: Installed in the page before a change: the first input event's time, every mutation's
#: time, and every scroll of any element (capture phase).
ARM = """() => {
  const w = window;
  w.__salesnb = {t0: null, last: null, scrolls: []};
  if (!w.__salesnbInstalled) {
    w.__salesnbInstalled = true;
    for (const kind of ['input', 'change', 'click', 'keydown']) {
      document.addEventListener(kind, () => { if (w.__salesnb.t0 === null) w.__salesnb.t0 = performance.now(); }, true);
    }
    document.addEventListener('scroll', (e) => {
      const el = e.target === document ? document.scrollingElement : e.target;
      w.__salesnb.scrolls.push([el && el.className ? String(el.className).slice(0, 60) : 'document', el ? el.scrollTop : 0]);
    }, true);
    new MutationObserver(() => { w.__salesnb.last = performance.now(); })
      .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  }
}"""

#: Resolves after two painted frames.
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"

#: Scroll positions of the page and of every scrolled element.
SCROLLS = """() => {
  const out = {page: window.scrollY};
  for (const el of document.querySelectorAll('*')) { if (el.scrollTop) out[el.className || el.tagName] = el.scrollTop; }
  return out;
}"""


#: True once the notebook shown has a kernel (its toolbar names it) and the kernel is idle.
#: The execution indicator alone says ``idle`` before any kernel is attached ("No Kernel");
#: "Run All Cells" at that moment opens JupyterLab's "Select Kernel" dialog and runs nothing
#: - the cause of the runs where the filter bar never appeared.
KERNEL_READY = """(scope) => {
  const panel = document.querySelector(scope);
  if (!panel) return false;
  const name = panel.querySelector('.jp-Toolbar-kernelName');
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const text = name ? name.innerText.trim() : '';
  return text !== '' && text !== 'No Kernel' && !!indicator && indicator.dataset.status === 'idle';
}"""


def wait_kernel_ready(page: Any, scope: str = ".jp-NotebookPanel:not(.lm-mod-hidden)",
                      timeout: float = 180_000) -> None:
    """Wait until the notebook in ``scope`` has a kernel attached and idle (see :data:`KERNEL_READY`)."""
    page.wait_for_function(KERNEL_READY, arg=scope, timeout=timeout)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait until ``url`` answers (or the server died, or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)  # polling a port that is not open yet, not synchronising the page
    raise TimeoutError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def server(argv: list[str], url: str, *, log: Path, env: dict[str, str] | None = None,
           cwd: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group until the block ends; stopped by its PID."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                   start_new_session=True)
        try:
            wait_http(url, process)
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def app_server(data: str, port: int, log: Path, *, language: str = "en",
               extra: tuple[str, ...] = ()) -> contextlib.AbstractContextManager[Any]:
    """``salesnb app DATA`` on 127.0.0.1:port."""
    argv = [sys.executable, "-m", "salesnb", "app", data, "--port", str(port), "--language", language, *extra]
    # A static file answers once Voilà listens (the page itself would start a kernel).
    return server(argv, f"http://127.0.0.1:{port}/voila/static/voila.js", log=log)


def lab_server(root: Path, port: int, token: str, log: Path) -> contextlib.AbstractContextManager[Any]:
    """JupyterLab on 127.0.0.1:port serving ``root`` (as root: ``--allow-root``)."""
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False", f"--LabApp.workspaces_dir={root / '.workspaces'}",
            "--LabApp.news_url=", "--LabServerApp.announcements_url=", "--ServerApp.disable_check_xsrf=True"]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config")}
    return server(argv, f"http://127.0.0.1:{port}/api?token={token}", log=log, env=env, cwd=str(root))


@dataclass
class Change:
    """What one filter change did in the page."""

    name: str
    seconds: float
    changed: list[str]
    scrolled: list[Any] = field(default_factory=list)
    scroll_before: dict[str, float] = field(default_factory=dict)
    scroll_after: dict[str, float] = field(default_factory=dict)
    timing: dict[str, str] = field(default_factory=dict)


class Page:
    """A page with one filter bar (the app, or a notebook in JupyterLab) under a scope selector."""

    def __init__(self, page: Any, scope: str = "body"):
        self.page = page
        self.scope = scope
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("request", lambda r: self.requests.append(r.url))

    def q(self, selector: str) -> str:
        return f"{self.scope} {selector}"

    def generation(self) -> int:
        return int(self.page.locator(self.q(".salesnb-status")).first.get_attribute("data-generation") or 0)

    def wait_ready(self, timeout: float = 180_000) -> None:
        """Wait until the filter bar and its sections are on the page."""
        self.page.wait_for_selector(self.q(".salesnb-status[data-generation]"), state="attached", timeout=timeout)
        self.page.wait_for_selector(self.q("[data-section]"), state="attached", timeout=timeout)

    def sections(self) -> dict[str, str]:
        """Each section's inner HTML, by name."""
        return self.page.eval_on_selector_all(
            self.q("[data-section]"),
            "els => Object.fromEntries(els.map(e => [e.dataset.section + ':' + (e.closest('.jp-Cell') ? "
            "[...document.querySelectorAll('.jp-Cell')].indexOf(e.closest('.jp-Cell')) : 0), e.innerHTML]))")

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("http://127.0.0.1", "data:", "blob:", "ws://127.0.0.1"))]

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    def change(self, name: str, action: Callable[[], None], *, timeout: float = 120_000) -> Change:
        """Do ``action`` (a filter change) and wait until the page has redrawn, without sleeping."""
        page = self.page
        # The bar in view first (as for a person using it): Playwright scrolls to a control
        # it clicks, and that scroll is the test's own, not the page's.
        bar = page.locator(self.q(".salesnb-bar")).first
        bar.scroll_into_view_if_needed()
        bar.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.evaluate(FRAMES)  # the scroll events of that scroll are dispatched before arming
        page.evaluate(ARM)
        before = self.sections()
        scroll_before = page.evaluate(SCROLLS)
        generation = self.generation()
        action()
        page.wait_for_function(
            "([sel, g]) => { const e = document.querySelector(sel); return e && Number(e.dataset.generation) > g; }",
            arg=[self.q(".salesnb-status"), generation], timeout=timeout)
        page.evaluate(FRAMES)  # every update has been laid out and painted
        state = page.evaluate("() => window.__salesnb")
        after = self.sections()
        changed = sorted(k for k in after if before.get(k) != after[k])
        seconds = ((state["last"] or state["t0"]) - state["t0"]) / 1000 if state["t0"] is not None else float("nan")
        status = page.locator(self.q(".salesnb-status")).first
        timing = {k: status.get_attribute(k) or "" for k in ("data-compute-ms",)}
        return Change(name, seconds, changed, state["scrolls"], scroll_before, page.evaluate(SCROLLS), timing)


def launch(playwright: Any) -> Any:
    """The Debian Chromium, headless, through Playwright (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


def filter_actions(page: Page, *, language: str = "en") -> list[tuple[str, Callable[[], None]]]:
    """One change of each filter of the bar, in a sensible order (each leaves a valid state)."""
    p = page.page
    q = page.q
    bar = q(".salesnb-bar")
    selects = p.locator(f"{bar} select[multiple]")
    owners, teams = selects.nth(0), selects.nth(1)
    texts = p.locator(f"{bar} input[type=text]")
    search, start, end = texts.nth(0), texts.nth(1), texts.nth(2)
    period = p.locator(f"{bar} select:not([multiple])")
    calendar = p.locator(f"{bar} .widget-toggle-buttons button")
    people = owners.locator("option").all_text_contents()

    def fill(box: Any, value: str) -> Callable[[], None]:
        def run() -> None:
            box.fill(value)
            box.press("Enter")
        return run

    actions: list[tuple[str, Callable[[], None]]] = [
        ("salesperson", lambda: owners.select_option(label=people[0])),
        ("everybody", lambda: p.locator(f"{bar} input[type=checkbox]").nth(0).check()),
        ("team", lambda: teams.select_option(index=0)),
        ("all teams", lambda: p.locator(f"{bar} input[type=checkbox]").nth(1).check()),
    ]
    if period.count():
        actions.append(("period", lambda: period.last.select_option(value=None, index=2)))
    actions += [
        ("calendar", lambda: calendar.nth(0).click()),
        ("from", fill(start, "2025-01-01")),
        ("to", fill(end, "2025-07-01")),
    ]
    del search
    return actions
