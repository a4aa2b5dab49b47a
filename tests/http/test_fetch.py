"""The real Fetcher against the loopback ministry site: politeness, robots.txt, 304s, retries, caps, block pages."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import Ministry, write_config
from daemonkit import wait_until
from sitekit import EN_ARTICLES, EN_DIR

from monitor.config import Config, Source, load_config
from monitor.errors import (
    BlockedError,
    FetchError,
    FetchStatusError,
    FetchTimeoutError,
    FetchTooLargeError,
    RobotsDeniedError,
)
from monitor.http import Fetcher, build_transport

T = TypeVar("T")
ZH_ARTICLE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
Observed = list[tuple[str, str, str, float]]


def setup(ministry: Ministry, tmp_path: Path, **monitor: str) -> tuple[Config, Source]:
    config = load_config(write_config(tmp_path, ministry.base, monitor=monitor))
    return config, config.source("mfa-en-press")


def run(config: Config, body: Callable[[Fetcher], Awaitable[T]], observed: Observed | None = None) -> T:
    """Run `body` with a real Fetcher on a real transport (closed afterwards)."""

    def observe(source_id: str, kind: str, outcome: str, seconds: float) -> None:
        if observed is not None:
            observed.append((source_id, kind, outcome, seconds))

    async def main() -> T:
        transport = build_transport(config.http)
        try:
            return await body(Fetcher(transport, config.http, observer=observe))
        finally:
            await transport.aclose()

    return asyncio.run(main())


def article_urls(ministry: Ministry) -> list[str]:
    return [ministry.url(ministry.path_of(fixture)) for fixture in EN_ARTICLES.values()]


def gaps(starts: list[float]) -> list[float]:
    ordered = sorted(starts)
    return [b - a for a, b in zip(ordered, ordered[1:], strict=False)]


def test_unchanged_pages_come_back_as_304_and_changed_ones_as_200(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    url = article_urls(ministry)[0]
    path = ministry.path_of(EN_ARTICLES["t1793427"])

    async def body(fetcher: Fetcher) -> list[Any]:
        first = await fetcher.fetch(source, url, kind="article")
        by_etag = await fetcher.fetch(source, url, kind="article", etag=first.etag)
        by_date = await fetcher.fetch(source, url, kind="article", last_modified=first.last_modified)
        ministry.site.put(path, first.body + b"<!-- edited -->")
        changed = await fetcher.fetch(source, url, kind="article", etag=first.etag, last_modified=first.last_modified)
        return [first, by_etag, by_date, changed]

    first, by_etag, by_date, changed = run(config, body)

    assert (first.status, by_etag.status, by_date.status, changed.status) == (200, 304, 304, 200)
    assert first.etag and first.last_modified
    assert by_etag.not_modified and by_etag.body == b""
    assert changed.body.endswith(b"<!-- edited -->") and changed.etag != first.etag
    assert [r.conditional for r in ministry.site.requests_for(path)] == [False, True, True, True]


@pytest.mark.parametrize("limit", [1, 2])
def test_per_host_concurrency_limit_holds(ministry: Ministry, tmp_path: Path, limit: int) -> None:
    config, source = setup(ministry, tmp_path, host_concurrency=str(limit))
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault("*", "delay", seconds=0.2)
    urls = article_urls(ministry)

    async def body(fetcher: Fetcher) -> list[Any]:
        return await asyncio.gather(*(fetcher.fetch(source, url, kind="article") for url in urls))

    pages = run(config, body)

    assert [page.status for page in pages] == [200] * len(urls)
    assert ministry.site.max_concurrency("127.0.0.1") == limit


def test_requests_to_one_host_are_spaced_by_the_host_delay(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, host_delay='"0.25s"', concurrency="8")
    urls = article_urls(ministry)

    async def body(fetcher: Fetcher) -> list[Any]:
        return await asyncio.gather(*(fetcher.fetch(source, url, kind="article") for url in urls))

    run(config, body)

    requests = ministry.site.requests
    assert len(requests) == len(urls) + 1  # and one robots.txt
    # The delay counts from the end of each request too, so even as the server sees them the gaps hold.
    assert min(gaps([r.started for r in requests])) >= 0.24


def test_a_request_s_time_leaves_out_the_wait_for_its_host(
    ministry: Ministry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # host_delay spaces the requests 0.3 s apart: the later ones wait their turn, but the server answers each at
    # once, and that is what the log line's time and the fetch-time metric must say (the wait is logged apart).
    config, source = setup(ministry, tmp_path, host_delay='"0.3s"', concurrency="8")
    urls = article_urls(ministry)[:3]
    observed: Observed = []

    async def body(fetcher: Fetcher) -> list[Any]:
        return await asyncio.gather(*(fetcher.fetch(source, url, kind="article") for url in urls))

    with caplog.at_level("INFO", logger="monitor.http.fetch"):
        run(config, body, observed)

    articles = [seconds for _s, kind, _o, seconds in observed if kind == "article"]
    assert len(articles) == 3 and max(articles) < 0.25  # the last waited >= 0.6 s for its turn
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fetch mfa-en-press article")]
    waits = sorted(int(line.rsplit("(after ", 1)[1].split("ms")[0]) for line in lines if "(after " in line)
    assert len(waits) >= 2 and waits[-1] >= 550


def test_robots_txt_disallow_is_obeyed_and_the_file_is_fetched_once(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    ministry.site.put("/robots.txt", f"User-agent: *\nDisallow: {EN_DIR}\n".encode(), content_type="text/plain")
    zh_url = ministry.url(ministry.path_of(ZH_ARTICLE))

    async def body(fetcher: Fetcher) -> list[Any]:
        denied = await asyncio.gather(
            *(fetcher.fetch(source, url, kind="article") for url in article_urls(ministry)), return_exceptions=True
        )
        allowed = [await fetcher.fetch(source, zh_url, kind="article") for _ in range(3)]
        return [*denied, *allowed]

    results = run(config, body)

    assert all(isinstance(result, RobotsDeniedError) for result in results[:5])
    assert "mfa-en-press" in str(results[0])
    assert [page.status for page in results[5:]] == [200, 200, 200]
    assert [r.path for r in ministry.site.requests if r.path != ministry.path_of(ZH_ARTICLE)] == ["/robots.txt"]


def test_robots_rules_for_our_user_agent_apply_and_robots_false_skips_them(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    rules = "User-agent: ministry-monitor\nDisallow: /web/\n\nUser-agent: *\nDisallow: /\n"
    ministry.site.put("/robots.txt", rules.encode(), content_type="text/plain")
    zh_url = ministry.url(ministry.path_of(ZH_ARTICLE))
    en_url = article_urls(ministry)[0]
    ignoring = dataclasses.replace(source, robots=False)

    async def body(fetcher: Fetcher) -> tuple[Any, ...]:
        return await asyncio.gather(
            fetcher.fetch(source, zh_url, kind="article"),
            fetcher.fetch(source, en_url, kind="article"),
            fetcher.fetch(ignoring, zh_url, kind="article"),
            return_exceptions=True,
        )

    zh, en, ignored = run(config, body)

    assert isinstance(zh, RobotsDeniedError)  # our own group forbids /web/ ...
    assert en.status == 200  # ... and replaces the '*' group, which forbids everything
    assert ignored.status == 200


def test_an_unreachable_robots_txt_is_not_permission(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    ministry.site.fault("/robots.txt", "status", status=503)
    url = article_urls(ministry)[0]

    async def body(fetcher: Fetcher) -> Any:
        return await asyncio.gather(fetcher.fetch(source, url, kind="listing"), return_exceptions=True)

    (result,) = run(config, body)

    # RFC 9309: a 5xx robots.txt disallows everything (for a while, without asking again each time).
    assert isinstance(result, RobotsDeniedError) and "robots.txt: HTTP 503 (robots.txt unreachable" in result.reason
    assert [r.path for r in ministry.site.requests] == ["/robots.txt"]


def test_retries_back_off_and_honour_retry_after(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, retries="2")
    source = dataclasses.replace(source, robots=False)
    path = ministry.path_of(EN_ARTICLES["t1793427"])
    ministry.site.fault(path, "status", times=1, status=503, headers={"Retry-After": "1"})

    page = run(config, lambda fetcher: fetcher.fetch(source, ministry.url(path), kind="article"))

    requests = ministry.site.requests_for(path)
    assert page.status == 200
    assert [r.status for r in requests] == [503, 200]
    assert requests[1].started - requests[0].started >= 0.95


def test_exhausted_retries_raise_the_last_status(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, retries="2")
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault(EN_DIR, "status", status=503)

    with pytest.raises(FetchStatusError) as caught:
        run(config, lambda fetcher: fetcher.fetch(source, source.url, kind="listing"))

    assert caught.value.status == 503
    assert [r.status for r in ministry.site.requests_for(EN_DIR)] == [503, 503, 503]


def test_a_retry_after_beyond_a_minute_is_not_waited_for(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, retries="3")
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault(EN_DIR, "status", status=429, headers={"Retry-After": "120"})

    with pytest.raises(FetchStatusError) as caught:
        run(config, lambda fetcher: fetcher.fetch(source, source.url, kind="listing"))

    assert caught.value.retry_after_s == 120
    assert len(ministry.site.requests_for(EN_DIR)) == 1


@pytest.mark.parametrize("status", [403, 412, 521])
def test_block_statuses_are_reported_as_blocked_without_retrying(
    ministry: Ministry, tmp_path: Path, status: int
) -> None:
    config, source = setup(ministry, tmp_path, retries="3")
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault(EN_DIR, "status", status=status, body=b"<html>Access denied</html>")
    observed: Observed = []

    with pytest.raises(BlockedError) as caught:
        run(config, lambda fetcher: fetcher.fetch(source, source.url, kind="listing"), observed)

    assert caught.value.status == status
    assert len(ministry.site.requests_for(EN_DIR)) == 1
    assert [(sid, kind, outcome) for sid, kind, outcome, _ in observed] == [("mfa-en-press", "listing", str(status))]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_size_cap_is_refused(ministry: Ministry, tmp_path: Path, chunked: bool) -> None:
    config, source = setup(ministry, tmp_path, max_body_bytes="4096")
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault(EN_DIR, "oversize", bytes=1_000_000, chunked=chunked)

    with pytest.raises(FetchTooLargeError, match="4096-byte cap"):
        run(config, lambda fetcher: fetcher.fetch(source, source.url, kind="listing"))

    # The server logs the request when it notices that we hung up, which may be a moment later.
    wait_until(lambda: ministry.site.requests_for(EN_DIR), timeout_s=5, what="the request in the log")
    time.sleep(0.2)
    assert len(ministry.site.requests_for(EN_DIR)) == 1  # not retried


def test_redirects_are_followed_up_to_the_cap(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, max_redirects="3")
    source = dataclasses.replace(source, robots=False)
    target = ministry.path_of(EN_ARTICLES["t1793427"])
    for hop in range(5):
        ministry.site.redirect(f"/hop{hop}", f"/hop{hop + 1}" if hop < 4 else target, status=301 if hop else 302)

    short = run(config, lambda fetcher: fetcher.fetch(source, ministry.url("/hop2"), kind="article"))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        run(config, lambda fetcher: fetcher.fetch(source, ministry.url("/hop0"), kind="article"))

    assert (short.status, short.final_url, short.url) == (200, ministry.url(target), ministry.url("/hop2"))
    assert not short.redirected_off_site


def test_a_redirect_off_the_site_is_not_followed(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    source = dataclasses.replace(source, robots=False)
    ministry.site.redirect("/gone", "https://example.invalid/elsewhere")

    page = run(config, lambda fetcher: fetcher.fetch(source, ministry.url("/gone"), kind="article"))

    assert page.redirected_off_site and page.final_url == "https://example.invalid/elsewhere"
    assert [r.path for r in ministry.site.requests] == ["/gone"]


def test_a_page_without_a_charset_comes_back_byte_for_byte(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    source = dataclasses.replace(source, robots=False)
    url = ministry.url(ministry.path_of(ZH_ARTICLE))

    page = run(config, lambda fetcher: fetcher.fetch(source, url, kind="article"))

    assert page.content_type == "text/html"  # decoding (meta charset, GBK sniffing) is extract's job
    assert page.body == ministry.body(ZH_ARTICLE)


def test_a_server_that_does_not_answer_in_time_is_a_timeout(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path, timeout='"0.3s"', retries="1")
    source = dataclasses.replace(source, robots=False)
    ministry.site.fault(EN_DIR, "delay", seconds=5)
    observed: Observed = []

    with pytest.raises(FetchTimeoutError):
        run(config, lambda fetcher: fetcher.fetch(source, source.url, kind="listing"), observed)

    assert [outcome for _, _, outcome, _ in observed] == ["FetchTimeoutError", "FetchTimeoutError"]
    assert all(0.25 <= seconds < 2 for *_, seconds in observed)


def test_the_observer_sees_every_request_with_its_outcome(ministry: Ministry, tmp_path: Path) -> None:
    config, source = setup(ministry, tmp_path)
    observed: Observed = []
    urls = [*article_urls(ministry)[:2], ministry.url("/no-such-page.shtml")]

    async def body(fetcher: Fetcher) -> list[Any]:
        return await asyncio.gather(*(fetcher.fetch(source, u, kind="article") for u in urls), return_exceptions=True)

    run(config, body, observed)

    assert sorted((kind, outcome) for _, kind, outcome, _ in observed) == sorted(
        [("robots", "404"), ("article", "200"), ("article", "200"), ("article", "404")]
    )
    assert len(observed) == len(ministry.site.requests)
