"""A journalist's path through the web view in a real browser (Debian's Chromium driven by Playwright): after a
baseline, a new article and a silent edit, from the dashboard to the diff, and search in English and Chinese.

Screenshots go to the test's folder, and also to $MONITOR_SCREENSHOTS when set (the README's come from there).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Ministry, RunCli
from playwright.sync_api import Page, expect, sync_playwright
from webkit import TITLE_C, WORD_OF_C, WORD_OF_ZH_NEW, A, Newsroom, served

CHROMIUM = "/usr/bin/chromium"
# Playwright's own browser download is not reachable here; these flags keep Debian's Chromium off the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Iterator[tuple[Page, Newsroom]]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    room = Newsroom(ministry, tmp_path, run_cli)
    room.baseline()
    room.news()  # before Playwright starts: its sync API keeps an event loop running in this thread
    with served(room.config) as client, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=str(client.base_url), viewport={"width": 1280, "height": 900})
        try:
            yield context.new_page(), room
        finally:
            context.close()
            browser.close()


def _shoot(page: Page, folder: Path, name: str) -> None:
    path = folder / name
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000
    wanted = os.environ.get("MONITOR_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / name)


def test_from_the_dashboard_to_the_silent_edit(page: tuple[Page, Newsroom], tmp_path: Path) -> None:
    tab, room = page
    tab.goto("/")
    expect(tab.locator("h1")).to_have_text("Sources")
    _shoot(tab, tmp_path, "dashboard.png")

    tab.get_by_role("link", name="MFA (China): Regular Press Conferences").click()
    expect(tab).to_have_url(re.compile(r"/sources/mfa-en-press$"))
    expect(tab.get_by_role("link", name=TITLE_C)).to_be_visible()
    edited = tab.locator("tr", has=tab.locator(f'a[href*="{A}"]')).first
    expect(edited).to_contain_text("2 edited")

    edited.get_by_role("link").first.click()
    expect(tab.locator("#changes h2")).to_contain_text("What changed in v2")
    inserted = tab.locator("table.side-by-side ins")
    expect(inserted).to_have_text("mistaken.")
    expect(tab.locator("table.side-by-side del")).to_have_text("a brazen liar.")
    _shoot(tab, tmp_path, "article-diff.png")
    assert room.url(A) in tab.url or A in tab.url


@pytest.mark.parametrize("word", [WORD_OF_C, WORD_OF_ZH_NEW])
def test_search_finds_the_new_article_by_a_word_of_its_body(page: tuple[Page, Newsroom], word: str) -> None:
    tab, _ = page
    tab.goto("/")
    tab.get_by_role("searchbox", name="Search").fill(word)
    tab.get_by_role("button", name="Search").click()
    hits = tab.locator("ol.hits li")
    expect(hits).to_have_count(1)
    expect(hits.locator("mark").first).to_have_text(word)
