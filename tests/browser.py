"""A real headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright.

The session fixture ``chromium`` installs Debian's package with apt-get when /usr/bin/chromium is
missing (CI is a clean Debian machine running as root) and never downloads Playwright's own
browsers. Set EMTRADE_SKIP_BROWSER=1 to skip the browser tests on a machine where neither is
possible; without that variable a failed installation fails the tests, so that CI cannot pass
without having rendered the pages.

:func:`open_page` loads a file with every network request refused (the pages must work offline),
and collects console errors, page errors and the requests that were tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("EMTRADE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: flags without which Chromium hangs on a closed network or as root in a container
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def ensure_chromium() -> Path:
    """The Chromium binary, installed from Debian with apt-get if missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("EMTRADE_SKIP_BROWSER"):
        pytest.skip("EMTRADE_SKIP_BROWSER is set and Chromium is not installed")
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it (set EMTRADE_SKIP_BROWSER=1 to skip)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    log = []
    # the package lists of a fresh machine may be missing or stale: install, else update and install
    for cmd in (install, [apt, "update"], install):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        log.append(f"$ {' '.join(cmd)} (exit {proc.returncode})\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        if CHROMIUM.exists():
            return CHROMIUM
    pytest.fail("could not install Debian's chromium:\n" + "\n".join(log))


@dataclass
class Visit:
    """What happened while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


class Browser:
    """One Chromium for the session; a fresh page per visit."""

    def __init__(self, executable: Path):
        from playwright.sync_api import sync_playwright

        self._profile = tempfile.mkdtemp(prefix="emtrade-chromium-")
        self._pw = sync_playwright().start()
        # a persistent context is how Playwright accepts a user-data-dir: a fresh one per session
        self.context = self._pw.chromium.launch_persistent_context(
            self._profile,
            executable_path=str(executable),
            headless=True,
            args=FLAGS,
            viewport={"width": 1366, "height": 900},
            timeout=60_000,
        )

    def open(self, path: Path, wait_for: str = ".js-plotly-plot"):
        """Load ``path`` with the network cut off; return (page, Visit)."""
        visit = Visit()
        page = self.context.new_page()
        page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: visit.page_errors.append(str(e)))

        def route(r):
            url = r.request.url
            visit.requests.append(url)
            if url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                visit.blocked.append(url)
                r.abort()

        page.route("**/*", route)
        page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=60_000)
        if wait_for:
            page.wait_for_selector(wait_for, timeout=30_000)
        page.wait_for_timeout(300)
        return page, visit

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._pw.stop()
            shutil.rmtree(self._profile, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed if missing."""
    return ensure_chromium()


@pytest.fixture(scope="session")
def browser(chromium):
    """A headless Chromium (Debian's) driven by Playwright, started once per test session."""
    pytest.importorskip("playwright", reason="pip install -e '.[test]' installs playwright")
    b = Browser(chromium)
    yield b
    b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder for screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


#: JavaScript: every plotly graph on the page, with what it drew
GRAPHS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
    id: el.id,
    traces: (el.data || []).length,
    points: (el.data || []).reduce((n, t) => n + ((t.x && t.x.length) || (t.y && t.y.length)
        || (t.link && t.link.value && t.link.value.length) || 0), 0),
    rendered: !!el._fullLayout && el.querySelectorAll('.main-svg').length > 0,
    title: (el.layout && el.layout.title && el.layout.title.text) || '',
    xtitle: (el._fullLayout && el._fullLayout.xaxis && el._fullLayout.xaxis.visible !== false
             && el._fullLayout.xaxis.title && el._fullLayout.xaxis.title.text) || '',
    ytitle: (el._fullLayout && el._fullLayout.yaxis && el._fullLayout.yaxis.visible !== false
             && el._fullLayout.yaxis.title && el._fullLayout.yaxis.title.text) || '',
    sankey: (el.data || []).some(t => t.type === 'sankey'),
    legend: !!el._fullLayout && el._fullLayout.showlegend !== false,
    height: el.getBoundingClientRect().height,
}))
"""
