"""The built book as a reader sees it: every page opened in headless chromium, offline.

Run by ``make book-test`` (not by ``make test``): it builds the quick book, serves it on
127.0.0.1 and checks each page's title, images, typeset math, console and requests. Screenshots
of every page go to the temporary folder (``rlbook-book-<page>.png``).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rlbook.notebooks import book_dir

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download is never used
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {  # page: a word its heading must hold (any case)
    "index.html": "rlbook",
    "01_frozenlake.html": "frozen",
    "02_breakout.html": "breakout",
    "experiments.html": "experiments",
}
BOOK_TITLE = "rlbook: reinforcement learning with TensorFlow"  # html_title in notebooks/conf.py
PAGES_WITH_MATH = {"01_frozenlake.html", "02_breakout.html"}  # each has the Bellman update


@pytest.fixture(scope="module")
def book() -> Path:
    """The quick book, built now (notebooks run only where their executed copy is stale)."""
    env = {**os.environ, "RLBOOK_QUICK": "1"}
    subprocess.run([sys.executable, "-m", "rlbook.notebooks", "--book"], check=True, env=env)
    return book_dir(quick=True)


@pytest.fixture(scope="module")
def site(book):
    """The book served over HTTP on 127.0.0.1, as a reader's browser would load it."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}; install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    """Open ``url`` in a fresh context; returns the page, its requests and its console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested, errors = [], []

    def only_local(route) -> None:
        requested.append(route.request.url)
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1" or route.request.url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="networkidle")
    # Images below the fold load once the reader scrolls there.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.evaluate(
        """() => Promise.all([...document.images].map(image => image.complete ||
             new Promise(done => { image.onload = image.onerror = done; })))"""
    )
    page.wait_for_load_state("networkidle")
    return page, requested, errors


@pytest.mark.parametrize(("name", "word"), PAGES.items(), ids=list(PAGES))
def test_page_shows_its_title_images_and_math_offline(site, browser, name, word):
    page, requested, errors = _open(browser, site + name)
    heading = page.locator("article h1").first.inner_text().strip(" #¶\n")
    assert word in heading.lower(), heading
    assert page.title() in (f"{heading} — {BOOK_TITLE}", BOOK_TITLE), page.title()

    images = page.eval_on_selector_all(
        "article img", "images => images.map(i => [i.currentSrc, i.naturalWidth])"
    )
    assert images, f"{name} shows no image"
    broken = [src for src, width in images if width == 0]
    assert not broken, f"{name}: images that did not load: {broken}"

    if name in PAGES_WITH_MATH:
        page.wait_for_selector("mjx-container", timeout=20_000)
        typeset = page.locator("mjx-container").count()
        assert typeset >= page.locator("article .math").count() > 0
        fonts = page.evaluate(
            "() => [...document.fonts].filter(f => f.family.includes('MJX'))"
            ".map(f => [f.family, f.status])"
        )
        assert any(status == "loaded" for _, status in fonts), fonts
        font_files = [url for url in requested if "/_static/mathjax/" in url and ".woff" in url]
        assert font_files, "MathJax's fonts were not loaded from the book"

    outside = [url for url in requested if urlparse(url).hostname not in ("127.0.0.1", None)]
    assert not outside, f"{name} asked for other hosts: {outside}"
    assert not errors, f"{name} logged console errors: {errors}"

    shot = Path(tempfile.gettempdir()) / f"rlbook-book-{Path(name).stem}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)
    page.context.close()


@pytest.mark.parametrize("notebook", ["01_frozenlake", "02_breakout"])
def test_a_chapter_page_shows_the_librarys_code_highlighted_and_every_figure(
    site, browser, notebook
):
    import nbformat
    from test_source import PAGES, SHOWN

    from rlbook.notebooks import executed_dir

    page, _, _ = _open(browser, site + f"{notebook}.html")
    shown = sum(1 for p, _, _ in SHOWN if p == PAGES[f"{notebook}.ipynb"])
    # Each block of the library's code: its heading names its file, and Pygments coloured it.
    blocks = page.eval_on_selector_all(
        "div.cell_output div.highlight-python pre",
        "blocks => blocks.map(b => [b.querySelectorAll('span.k, span.kn').length,"
        " (b.closest('div.cell_output').textContent.match(/from rlbook\\//) || []).length])",
    )
    library = [keywords for keywords, named in blocks if named]
    assert len(library) == shown, (len(library), shown)
    assert all(keywords > 0 for keywords in library), "a block of code was not highlighted"
    # No figure lost: as many images on the page as the executed notebook drew.
    executed = nbformat.read(executed_dir(quick=True) / f"{notebook}.ipynb", as_version=4)
    figures = sum(
        any(kind.startswith("image/") for kind in output.get("data", {}))
        for cell in executed.cells
        for output in cell.get("outputs", [])
    )
    assert page.locator("article img").count() >= figures > 0
    page.context.close()
