"""Article lifecycle end to end: the real CLI against the loopback ministry site, pages derived from real ones."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import ROOT, Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing, inject_into_body, replace_once, zh_listing

from monitor.config import load_config
from storage import open_store

SCHEMA = json.loads((ROOT / "monitor" / "event.schema.json").read_text(encoding="utf-8"))
A = "t1793427"
B = "t1739548"
C = "t1617471"
TITLES = {A: "June 30 presser", B: "February 3 briefing", C: "November 29 presser"}
EDIT_OLD = "Mr. Pompeo is a brazen liar."
EDIT_NEW = "Mr. Pompeo is mistaken."
FAST_REMOVAL = {"confirm_removal": "3", "confirm_removal_after": '"0s"'}


class Site:
    """The EN press-conference source on the loopback site, with helpers to change it and to read events."""

    def __init__(self, ministry: Ministry, tmp_path: Path, run_cli: RunCli, **config: Any) -> None:
        self.ministry = ministry
        self.run_cli = run_cli
        self.config = write_config(tmp_path, ministry.base, **config)

    def path(self, doc: str) -> str:
        return f"{EN_DIR}{doc}.shtml"

    def url(self, doc: str) -> str:
        return self.ministry.url(self.path(doc))

    def show(self, *docs: str) -> None:
        entries = [(f"./{doc}.shtml", TITLES[doc]) for doc in docs]
        self.ministry.site.put(EN_DIR, en_listing(self.ministry.body(EN_LIST), entries))

    def article(self, doc: str) -> bytes:
        return self.ministry.body(EN_ARTICLES[doc])

    def serve(self, doc: str, body: bytes) -> None:
        self.ministry.site.put(self.path(doc), body)

    def check(self, *extra: str) -> str:
        code, out, err = self.run_cli("check", "--config", str(self.config), "--source", "mfa-en-press", *extra)
        assert code == (1 if "FAILED" in out else 0), err  # a source that could not be checked exits 1
        return out

    def events(self, *extra: str) -> list[dict[str, Any]]:
        code, out, err = self.run_cli("events", "--config", str(self.config), "--format", "jsonl", *extra)
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        for event in events:
            jsonschema.validate(event, SCHEMA, format_checker=jsonschema.FormatChecker())
        return events

    def types(self) -> list[tuple[str, str]]:
        return [(e["type"], e["data"].get("article", {}).get("doc_id", "")) for e in self.events()]


@pytest.fixture
def site(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Site:
    site = Site(ministry, tmp_path, run_cli, source_overrides=FAST_REMOVAL)
    site.show(A, B)
    site.check()
    assert site.events() == [], "the baseline check fires nothing"
    return site


def test_new_article_on_the_listing_fires_one_published(site: Site) -> None:
    site.show(C, A, B)

    out = site.check()
    site.check()

    assert "1 new" in out
    events = site.events()
    assert [(e["type"], e["data"]["article"]["doc_id"]) for e in events] == [("article.published", C)]
    article = events[0]["data"]["article"]
    assert (
        article["title"] == "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on November 29, 2018"
    )
    assert article["published"] == "2018-11-29T00:00:00+08:00"
    assert article["version"] == 1
    assert article["status"] == "live"
    assert "previous" not in events[0]["data"]


def test_silent_edit_after_the_article_left_the_listing_is_found_by_a_revisit(site: Site, run_cli: RunCli) -> None:
    site.show(B)  # A drops off the listing: delisted, not removed
    site.check()
    site.serve(A, replace_once(site.article(A), EDIT_OLD, EDIT_NEW))

    site.check("--revisit")
    site.check("--revisit")

    events = site.events()
    assert [(e["type"], e["data"]["article"]["doc_id"]) for e in events] == [("article.updated", A)]
    data = events[0]["data"]
    assert data["article"]["version"] == 2
    assert data["previous"]["version"] == 1
    assert set(data["changes"]) == {"text"}
    assert data["changes"]["text"]["removed"] == ["a brazen liar."]
    assert data["changes"]["text"]["added"] == ["mistaken."]
    assert "Mr. Pompeo is [-a brazen liar.-]{+mistaken.+}" in data["changes"]["text"]["diff"]
    code, out, _ = run_cli("history", "--config", str(site.config), site.url(A))
    assert code == 0
    assert " v1 " in out and " v2 " in out and "changed: text +1/-3" in out


def test_noise_only_changes_fire_nothing(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    site = Site(
        ministry,
        tmp_path,
        run_cli,
        article_overrides={"ignore": '[".counter"]', "ignore_text": r'["Views: \\d+"]'},
    )
    site.show(A)
    site.check()
    noisy = inject_into_body(site.article(A), '<div class="content">', '<p class="counter">Visits today: 991</p>')
    noisy = inject_into_body(noisy, '<div class="content">', "<script>var built = 1732771200;</script>")
    noisy = inject_into_body(noisy, '<div class="content">', "<p>Views: 1234</p>")
    noisy = noisy.replace(b"Mr. Pompeo is a brazen liar.", "Mr.\u00a0Pompeo  is a\u200b brazen liar.\n".encode())

    site.serve(A, noisy)
    site.check("--revisit")
    site.serve(A, noisy.replace(b"Views: 1234", b"Views: 98765").replace(b"991", b"992"))
    site.check("--revisit")

    assert site.events() == []
    code, out, _ = run_cli("export", "--config", str(site.config))
    assert json.loads(out)["version"] == 1


def test_flapping_between_seen_states_fires_one_update(site: Site, run_cli: RunCli) -> None:
    original = site.article(A)
    edited = replace_once(original, EDIT_OLD, EDIT_NEW)

    for body in (edited, original, edited, original):
        site.serve(A, body)
        site.check("--revisit")

    assert site.types() == [("article.updated", A)]
    code, out, _ = run_cli("history", "--config", str(site.config), site.url(A))
    assert out.count("same content as v") == 3


def test_each_new_version_keeps_the_served_html_and_a_repeat_keeps_none(site: Site) -> None:
    original = site.article(A)
    edited = replace_once(original, EDIT_OLD, EDIT_NEW)
    for body in (edited, original):
        site.serve(A, body)
        site.check("--revisit")

    store = open_store(load_config(site.config).database)
    try:
        article = store.find_article(site.url(A))
        assert article is not None and article.id is not None
        versions = [store.version(article.id, n) for n in (1, 2, 3)]
    finally:
        store.close()
    kept = [(v.same_as, v.raw_zlib and zlib.decompress(v.raw_zlib)) for v in versions if v is not None]
    assert kept == [(None, original), (None, edited), (1, None)]


@pytest.mark.parametrize("how", ["404", "410", "redirect-to-error-page", "error-page-200", "redirect-home"])
def test_gone_on_k_checks_is_removed_once(site: Site, how: str) -> None:
    site.show(B)
    if how in ("404", "410"):
        site.ministry.site.fault(site.path(A), "status", status=int(how))
    elif how == "redirect-to-error-page":
        site.ministry.site.redirect(site.path(A), "/error.htm")
    elif how == "error-page-200":
        site.serve(A, site.ministry.body("fmprc/zh_error-page_2020-07-04.html"))
    else:
        site.ministry.site.redirect(site.path(A), "/")

    site.check("--revisit")
    site.check("--revisit")
    assert site.types() == [], "two misses are not yet a removal"
    site.check("--revisit")
    site.check("--revisit")

    events = site.events()
    assert [(e["type"], e["data"]["article"]["doc_id"]) for e in events] == [("article.removed", A)]
    assert events[0]["data"]["article"]["status"] == "removed"


@pytest.mark.parametrize("status", [404, 503, 500, 429])
def test_one_failed_fetch_or_a_5xx_is_never_a_removal(site: Site, status: int) -> None:
    site.ministry.site.fault(site.path(A), "status", status=status, times=1 if status == 404 else None)

    for _ in range(4):
        site.check("--revisit")

    assert site.types() == []


def test_removed_then_back_is_restored_with_a_diff(site: Site) -> None:
    site.ministry.site.fault(site.path(A), "status", status=404)
    for _ in range(3):
        site.check("--revisit")
    site.ministry.site.clear_faults()
    site.serve(A, replace_once(site.article(A), EDIT_OLD, EDIT_NEW))

    site.check("--revisit")

    events = site.events()
    assert [e["type"] for e in events] == ["article.removed", "article.restored"]
    restored = events[1]["data"]
    assert restored["article"]["status"] == "live"
    assert restored["changes"]["text"]["added"] == ["mistaken."]


@pytest.mark.parametrize(
    "block",
    [
        ("status", 521),
        ("status", 412),
        ("page", b"<html><script>document.cookie='__jsluid=1';location.reload();</script></html>"),
        ("page", b"<html><body><p>Service temporarily unavailable</p></body></html>"),
    ],
)
def test_blocked_listing_raises_source_failing_and_never_removes(site: Site, block: tuple[str, Any]) -> None:
    kind, value = block
    if kind == "status":
        site.ministry.site.fault(EN_DIR, "status", status=value, body=b"<html>blocked</html>")
    else:
        site.ministry.site.put(EN_DIR, value)

    outputs = [site.check("--revisit") for _ in range(4)]

    assert site.types() == [("source.failing", "")]
    expected = "blocked" if kind == "status" or b"cookie" in value else "layout"
    assert all(out.startswith(f"mfa-en-press: FAILED ({expected})") for out in outputs)
    site.ministry.site.clear_faults()
    site.show(A, B)
    site.check()
    assert [t for t, _ in site.types()] == ["source.failing", "source.recovered"]


def test_listing_with_far_fewer_links_is_a_source_problem_not_mass_delisting(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    site = Site(ministry, tmp_path, run_cli)
    ministry.site.put(EN_DIR, ministry.body(EN_LIST))  # the real 40-link listing
    site.check()
    site.show(A)  # one link left

    out = site.check()

    assert out.startswith("mfa-en-press: FAILED (layout): listing has 1 links, far fewer than the 40 last time")


def test_govuk_snapshots_a_week_apart_publish_exactly_the_new_items(
    ministry: Ministry, tmp_path: Path, run_cli: RunCli
) -> None:
    from monitor.config import load_config
    from monitor.pages import extract_links

    config = write_config(tmp_path, ministry.base)
    source = load_config(config).source("govuk-home-secretary-news")
    older = ministry.rows["govuk/list_news-braverman_2023-06-02.html"]
    newer = ministry.rows["govuk/list_news-braverman_2023-06-11.html"]
    template = ministry.body("govuk/article_publication-passport-impact-indicators-csv_2016-11.html")
    links: dict[str, list[str]] = {}
    for row in (older, newer):
        found = extract_links(row.body(), "text/html", source.url, source)
        links[row.file] = [link.url for link in found]
        for link in found:  # an article page for every listed item, derived from a real GOV.UK page
            page = template.replace(b"Passport impact indicators - CSV version", link.title.encode())
            ministry.site.put(link.url.removeprefix(ministry.base), page)
    run_cli("check", "--config", str(config), "--source", "govuk-home-secretary-news")
    newer.install(ministry.site)

    code, out, _ = run_cli("check", "--config", str(config), "--source", "govuk-home-secretary-news")
    code, events_out, _ = run_cli("events", "--config", str(config))

    new_items = [u for u in links[newer.file] if u not in links[older.file]]
    assert new_items, "the two real snapshots differ"
    published = [json.loads(line)["data"]["article"]["url"] for line in events_out.splitlines()]
    assert sorted(published) == sorted(new_items)
    assert f"{len(new_items)} new" in out


def test_chinese_edit_diff_is_character_level(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    site = Site(ministry, tmp_path, run_cli)
    zh_dir = "/web/wjdt_674879/fyrbt_674889/"
    zh_path = zh_dir + "t1793459.shtml"
    ministry.site.put(
        zh_dir,
        zh_listing(
            ministry.body("fmprc/zh_list_fyrbt_p0_2020-07-04.html"), [("./t1793459.shtml", "谈话", "2020-06-30")]
        ),
    )
    run_cli("check", "--config", str(site.config), "--source", "mfa-zh-fyrbt")
    original = ministry.body("fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html")
    ministry.site.put(zh_path, replace_once(original, "决心坚定不移，反对", "决心始终坚定，反对"))

    run_cli("check", "--config", str(site.config), "--source", "mfa-zh-fyrbt", "--revisit")

    events = site.events()
    assert [e["type"] for e in events] == ["article.updated"]
    change = events[0]["data"]["changes"]["text"]
    assert change["diff"].count("[-") == 2 or change["removed"] == ["不移"]
    assert "".join(change["added"]) in ("始终", "始终坚定", "始终坚定，")


def test_check_keeps_the_next_due_time_the_daemon_recorded(site: Site) -> None:
    store = open_store(load_config(site.config).database)
    try:
        before = store.source_state("mfa-en-press")
        assert before is not None
        due = datetime(2030, 1, 1, tzinfo=UTC)
        store.save_source_state(replace(before, next_due=due))

        site.check()

        after = store.source_state("mfa-en-press")
    finally:
        store.close()
    assert after is not None and after.next_due == due
    assert after.last_attempt != before.last_attempt  # the check did save the state
