"""The built book in a real browser: headless Chromium opens every page as a reader would.

The quick-profile book (the session's ``quick_book``) is served over http on localhost and each
page is opened in turn by Playwright driving the system Chromium (never a downloaded browser; no
request leaves the machine). A page passes when it logs no console error, every image has loaded,
MathJax typeset every formula, no notebook output went to stderr (a warning the reader cannot act
on), every internal link (and its ``#fragment``) resolves, and every exercise solution is
collapsed until clicked. The status page must list every claim of every chapter's record. A
screenshot of each page goes to the repository's ``_build/screenshots/`` for a person to look
at. The checks are themselves tested on small fixture pages, without a book.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import quick_claims
from playwright.sync_api import ConsoleMessage, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from trainingdynamics.chapters import CHAPTERS
from trainingdynamics.claims import anchor

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "browser"
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM_VARIABLE = "TRAININGDYNAMICS_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Generous for a busy 2-core machine, short enough that a hung page fails the test in seconds.
TIMEOUT_MS = 20_000
TOGGLE_MS = 3_000
# Every host but localhost resolves to nothing: the offline book must not need the network.
CHROMIUM_ARGS = ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
REFRESH = re.compile(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.IGNORECASE)
MIN_EXERCISES = 2  # per chapter, each with a solution (issue 21)

# Text outside code and typeset math that still holds TeX delimiters: a formula MathJax missed.
RAW_MATH_JS = r"""() => {
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (/\$\$|\\\(|\\\)|\\\[|\\begin\{/.test(text) && !node.parentElement.closest(skip)) {
      found.push(text.trim().slice(0, 80));
    }
  }
  for (const error of document.querySelectorAll("mjx-merror")) {
    found.push("MathJax error: " + error.textContent.slice(0, 80));
  }
  return found;
}"""

# Images that have not loaded once every image was asked to load now (lazy ones included).
BROKEN_IMAGES_JS = """async (ms) => {
  const images = Array.from(document.images);
  images.forEach((image) => { image.loading = "eager"; });
  const settled = (image) => image.complete ? null : new Promise((done) => {
    image.addEventListener("load", done); image.addEventListener("error", done);
  });
  const limit = new Promise((done) => setTimeout(done, ms));
  await Promise.race([Promise.all(images.map(settled)), limit]);
  return images.filter((image) => !image.complete || image.naturalWidth === 0)
    .map((image) => image.getAttribute("src"));
}"""

# MathJax's first typesetting done (or the time up: what is left untypeset is then raw maths).
MATHJAX_READY_JS = """async (ms) => {
  const startup = window.MathJax && MathJax.startup && MathJax.startup.promise;
  if (startup) await Promise.race([startup, new Promise((done) => setTimeout(done, ms))]);
}"""

LINKS_JS = """() => Array.from(document.querySelectorAll("a[href]"), (a) => a.href)"""

CLAIM_ROWS_JS = """() => Array.from(document.querySelectorAll("table.td-claims tr[id]"), (row) => {
  const link = row.querySelector("a");
  const badge = row.querySelector(".td-badge");
  return [row.id, link && link.getAttribute("href"), link && link.textContent,
          badge && badge.textContent];
})"""


@dataclass
class PageReport:
    """What the browser saw on one page."""

    errors: list[str] = field(default_factory=list)  # console errors, page errors, failed requests
    broken_images: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)  # notebook outputs on stderr (warnings)
    links: set[str] = field(default_factory=set)  # absolute URLs on the served site
    exercises: int = 0
    solutions: list[str] = field(default_factory=list)  # ids of solutions that behaved
    bad_solutions: list[str] = field(default_factory=list)  # "id: what was wrong"
    claim_rows: dict[str, tuple] = field(default_factory=dict)  # row id: (href, title, verdict)


def chromium_path() -> str:
    """The system Chromium: ``$TRAININGDYNAMICS_CHROMIUM``, else the first on PATH."""
    found = os.environ.get(CHROMIUM_VARIABLE) or next(
        filter(None, map(shutil.which, CHROMIUM_NAMES)), None
    )
    if not found:
        pytest.fail(
            "no Chromium on PATH: install Debian's `chromium` (`.ci/run` does) "
            f"or set {CHROMIUM_VARIABLE}"
        )
    return found


class QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing."""


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` served over http on localhost by a background thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def browser_page() -> Iterator[Page]:
    """One headless Chromium page (the system browser), with short timeouts."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def check_solutions(page: Page, report: PageReport) -> None:
    """Each exercise solution must be hidden at first and shown after a click on its toggle."""
    for solution in page.locator("div.solution").all():
        name = solution.get_attribute("id") or "solution"
        content = solution.locator(":scope > .admonition-title ~ *").first
        toggle = solution.locator("button.toggle-button")
        if content.is_visible():
            report.bad_solutions.append(f"{name}: shown before any click")
        elif toggle.count() != 1:
            report.bad_solutions.append(f"{name}: no toggle button")
        else:
            toggle.click()
            try:
                content.wait_for(state="visible", timeout=TOGGLE_MS)
                report.solutions.append(name)
            except PlaywrightTimeout:
                report.bad_solutions.append(f"{name}: still hidden after a click")


def visit(page: Page, url: str, screenshot: Path | None = None) -> PageReport:
    """Open ``url``, wait for MathJax and the images, then record what a reader would run into."""
    report = PageReport()
    favicon = urllib.parse.urljoin(url, "/favicon.ico")  # Chromium asks for it unprompted

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and message.location.get("url") != favicon:
            report.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    listeners = {
        "console": console,
        "pageerror": lambda error: report.errors.append(f"page error: {error}"),
        "requestfailed": lambda r: report.errors.append(f"request failed: {r.url} {r.failure}"),
    }
    for event, listener in listeners.items():
        page.on(event, listener)
    try:
        page.goto(url, wait_until="load")
        page.evaluate(MATHJAX_READY_JS, TIMEOUT_MS // 2)
        report.broken_images = page.evaluate(BROKEN_IMAGES_JS, TIMEOUT_MS // 2)
        report.raw_math = page.evaluate(RAW_MATH_JS)
        report.stderr = [text[:120] for text in page.locator(".output.stderr").all_inner_texts()]
        report.links = {link.removesuffix("#") for link in page.evaluate(LINKS_JS)}
        report.exercises = page.locator("div.exercise").count()
        report.claim_rows = {r[0]: tuple(r[1:]) for r in page.evaluate(CLAIM_ROWS_JS)}
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        check_solutions(page, report)
    finally:
        for event, listener in listeners.items():
            page.remove_listener(event, listener)
    return report


class IdCollector(HTMLParser):
    """The ``id`` and ``name`` attributes of an HTML page: where a ``#fragment`` may point."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect the tag's id and (for old-style anchors) name."""
        self.ids.update(v for k, v in attrs if k in ("id", "name") and v)


def fetch(url: str) -> bytes | None:
    """The body of ``url``, or ``None`` if the server does not have it."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_MS / 1000) as response:
            return response.read()
    except urllib.error.HTTPError:
        return None


def dead_links(links: set[str], base: str) -> list[str]:
    """The links under ``base`` whose page is missing or lacks the ``#fragment`` they point to."""
    dead, ids = [], {}
    for link in sorted(link for link in links if link.startswith(base)):
        target, _, anchor_id = link.partition("#")
        if target not in ids:
            body = fetch(target)
            parser = IdCollector()
            if body is not None and target.endswith((".html", "/")):
                parser.feed(body.decode("utf-8", errors="replace"))
            ids[target] = None if body is None else parser.ids
        found = ids[target]
        if found is None or (anchor_id and urllib.parse.unquote(anchor_id) not in found):
            dead.append(link)
    return dead


@dataclass
class SiteReport:
    """Every page's report (keyed by its path in the site) and its dead internal links, by page."""

    pages: dict[str, PageReport]
    dead: dict[str, list[str]]


def site_pages(html: Path) -> tuple[list[str], dict[str, str]]:
    """The site's pages (paths relative to ``html``) and its redirect pages with their targets."""
    pages, redirects = [], {}
    for path in sorted(html.rglob("*.html")):
        relative = path.relative_to(html).as_posix()
        if relative.startswith("_"):
            continue  # _static/, _sources/, _images/: assets, not pages
        refresh = REFRESH.search(path.read_text(encoding="utf-8", errors="replace"))
        if refresh:
            redirects[relative] = urllib.parse.urljoin(relative, refresh.group(1))
        else:
            pages.append(relative)
    return pages, redirects


def visit_site(html: Path, screenshots: Path | None) -> SiteReport:
    """Serve ``html`` and visit each of its pages in one browser, in sequence."""
    pages, redirects = site_pages(html)
    with serve(html) as base, browser_page() as page:
        reports = {
            path: visit(
                page,
                base + path,
                screenshots / path.replace("/", "__").replace(".html", ".png")
                if screenshots
                else None,
            )
            for path in pages
        }
        sources = {base + path: report.links for path, report in reports.items()}
        sources |= {base + path: {base + target} for path, target in redirects.items()}
        dead = set(dead_links(set().union(*sources.values()), base))
        found = {page.removeprefix(base): sorted(dead & links) for page, links in sources.items()}
        return SiteReport(reports, {page: links for page, links in found.items() if links})


def problems(site: SiteReport, kind: str) -> dict[str, list[str]]:
    """The pages with problems of one kind (a :class:`PageReport` field), and those problems."""
    found = {path: getattr(report, kind) for path, report in site.pages.items()}
    return {path: items for path, items in found.items() if items}


# The fixture pages: the checks must pass a good page and catch each fault of a bad one.


@pytest.fixture(scope="module")
def fixture_site() -> SiteReport:
    """The fixture folder (a good page, a bad page), visited like the book."""
    return visit_site(FIXTURES, screenshots=None)


def test_checks_pass_the_good_fixture_page(fixture_site: SiteReport) -> None:
    good = fixture_site.pages["good.html"]
    assert good.errors == good.broken_images == good.raw_math == good.stderr == []
    assert good.bad_solutions == []
    assert "good.html" not in fixture_site.dead
    assert any(link.endswith("/bad.html#faults") for link in good.links)


def test_checks_catch_each_fault_of_the_bad_fixture_page(fixture_site: SiteReport) -> None:
    bad = fixture_site.pages["bad.html"]
    assert bad.broken_images == ["missing.svg"]
    assert any("$$" in text for text in bad.raw_math)
    assert any("\\(" in text for text in bad.raw_math)
    assert any("deliberate console error" in error for error in bad.errors)
    assert any("missing.svg" in error for error in bad.errors)  # the 404 is logged too
    dead = [link.rsplit("/", 1)[-1] for link in fixture_site.dead["bad.html"]]
    assert dead == ["good.html#no-such-section", "nowhere.html"]
    assert bad.bad_solutions == ["open-solution: shown before any click"]
    assert [text.split(":")[0] for text in bad.stderr] == ["UserWarning"]


# The quick-profile book.


@pytest.fixture(scope="module")
def book_site(quick_book: Path) -> SiteReport:
    """Every page of the quick book, visited once for all the checks below; screenshots saved."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    return visit_site(quick_book / "_build" / "html", screenshots=SCREENSHOTS)


@pytest.mark.slow
def test_every_page_opens_and_is_screenshotted(book_site: SiteReport) -> None:
    chapters = {f"book/{chapter}.html" for chapter in CHAPTERS}
    assert chapters | {"book/status.html", "book/intro.html"} <= set(book_site.pages)
    shots = {p.name for p in SCREENSHOTS.glob("*.png")}
    assert shots == {p.replace("/", "__").replace(".html", ".png") for p in book_site.pages}


@pytest.mark.slow
def test_no_console_errors(book_site: SiteReport) -> None:
    assert problems(book_site, "errors") == {}


@pytest.mark.slow
def test_every_image_loads(book_site: SiteReport) -> None:
    assert problems(book_site, "broken_images") == {}


@pytest.mark.slow
def test_mathjax_typesets_every_formula(book_site: SiteReport) -> None:
    assert problems(book_site, "raw_math") == {}


@pytest.mark.slow
def test_no_warning_or_other_stderr_output_on_any_page(book_site: SiteReport) -> None:
    assert problems(book_site, "stderr") == {}


@pytest.mark.slow
def test_every_internal_link_resolves(book_site: SiteReport) -> None:
    assert book_site.dead == {}


@pytest.mark.slow
def test_status_page_lists_every_claim_of_every_chapter(book_site: SiteReport, quick_book) -> None:
    expected = {
        anchor(chapter, claim.name): (
            f"{chapter}.html#{anchor(chapter, claim.name)}",
            claim.title,
            claim.verdict,
        )
        for chapter in CHAPTERS
        for claim in quick_claims(quick_book, chapter)
    }
    assert book_site.pages["book/status.html"].claim_rows == expected


@pytest.mark.slow
def test_solutions_are_collapsed_and_open_on_click(book_site: SiteReport) -> None:
    assert problems(book_site, "bad_solutions") == {}


@pytest.mark.slow
def test_every_chapter_has_exercises_with_solutions(book_site: SiteReport) -> None:
    counts = {
        chapter: (report.exercises, len(report.solutions))
        for chapter in CHAPTERS
        for report in [book_site.pages[f"book/{chapter}.html"]]
    }
    few = {c: n for c, n in counts.items() if min(n) < MIN_EXERCISES or n[1] < n[0]}
    assert few == {}, "(exercises, working solutions) per chapter"


@pytest.mark.slow
def test_each_chapter_offers_its_executed_notebook(book_site: SiteReport, quick_book) -> None:
    for chapter in CHAPTERS:
        source = f"_sources/book/{chapter}.ipynb"  # the download button's link; it resolves (above)
        assert any(link.endswith(source) for link in book_site.pages[f"book/{chapter}.html"].links)
        notebook = json.loads((quick_book / "_build" / "html" / source).read_text(encoding="utf-8"))
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        assert any(cell["outputs"] for cell in code), f"{chapter}: the notebook was not executed"
