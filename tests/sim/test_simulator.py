"""Tests for monitor.sim.site, monitor.sim.server and monitor.sim.fixtures: real httpx requests against a SimServer."""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.sim import FixtureRow, SimServer, SimSite, load_fixture_site

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FMPRC_EN_DIR = "/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
GOVUK_SEARCH = "/search/news-and-communications?people%5B%5D=braverman&order=updated-newest"
BODY = "<html><body><h1>Présidence — 外交部</h1></body></html>".encode()


@pytest.fixture
def site() -> SimSite:
    return SimSite()


@pytest.fixture
def server(site: SimSite) -> Iterator[SimServer]:
    with SimServer(site) as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10.0) as c:
        yield c


# -- pages -------------------------------------------------------------------------------------------
def test_page_served_with_exact_bytes_and_headers(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    page = site.put("/news/1.html", BODY, headers={"X-Extra": "yes"})
    r = client.get(server.url("/news/1.html"))
    assert r.status_code == 200
    assert r.content == BODY
    assert r.headers["content-type"] == "text/html"  # verbatim, no charset added
    assert r.headers["content-length"] == str(len(BODY))
    assert r.headers["x-extra"] == "yes"
    assert r.headers["etag"] == page.etag
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    lm = email.utils.parsedate_to_datetime(r.headers["last-modified"])
    assert page.last_modified is not None
    assert abs(lm.timestamp() - page.last_modified) < 1.0
    assert r.headers["last-modified"].endswith(" GMT")
    assert r.http_version == "HTTP/1.1"


def test_content_type_is_sent_verbatim(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", b"x", content_type="text/html; charset=iso-8859-1")
    assert client.get(server.url("/a")).headers["content-type"] == "text/html; charset=iso-8859-1"


def test_unknown_path_is_404_html(server: SimServer, client: httpx.Client) -> None:
    r = client.get(server.url("/nope"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert b"Not Found" in r.content


def test_remove_then_404(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", b"x")
    assert client.get(server.url("/a")).status_code == 200
    site.remove("/a")
    assert site.get("/a") is None
    assert client.get(server.url("/a")).status_code == 404


def test_paths_match_exactly_including_query_and_trailing_slash(
    site: SimSite, server: SimServer, client: httpx.Client
) -> None:
    site.put("/list?page=2", b"page two")
    site.put("/dir/", b"dir index")
    assert client.get(server.url("/list?page=2")).content == b"page two"
    assert client.get(server.url("/list?page=3")).status_code == 404
    assert client.get(server.url("/list")).status_code == 404
    assert client.get(server.url("/dir/")).content == b"dir index"
    assert client.get(server.url("/dir")).status_code == 404


def test_redirect(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/new", b"new home")
    site.redirect("/old", "/new", status=301)
    r = client.get(server.url("/old"))
    assert r.status_code == 301
    assert r.headers["location"] == "/new"
    assert client.get(server.url("/old"), follow_redirects=True).content == b"new home"


def test_head_sends_headers_without_body(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    r = client.head(server.url("/a"))
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(len(BODY))
    assert site.requests[-1].method == "HEAD"


def test_keep_alive_reuses_one_connection(site: SimSite, server: SimServer) -> None:
    site.put("/a", b"aaa")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/a")
        first = conn.getresponse()
        assert first.read() == b"aaa"
        assert not first.will_close
        sock = conn.sock
        conn.request("GET", "/a")
        assert conn.getresponse().read() == b"aaa"
        assert conn.sock is sock
    finally:
        conn.close()


# -- validators --------------------------------------------------------------------------------------
def test_if_none_match_gives_304(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    etag = client.get(server.url("/a")).headers["etag"]
    r = client.get(server.url("/a"), headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert client.get(server.url("/a"), headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(server.url("/a"), headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304


def test_if_modified_since_gives_304(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    lm = client.get(server.url("/a")).headers["last-modified"]
    assert client.get(server.url("/a"), headers={"If-Modified-Since": lm}).status_code == 304
    older = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert client.get(server.url("/a"), headers={"If-Modified-Since": older}).status_code == 200
    assert client.get(server.url("/a"), headers={"If-Modified-Since": "garbage"}).status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(
    site: SimSite, server: SimServer, client: httpx.Client
) -> None:
    site.put("/a", BODY)
    lm = client.get(server.url("/a")).headers["last-modified"]
    r = client.get(server.url("/a"), headers={"If-None-Match": '"stale"', "If-Modified-Since": lm})
    assert r.status_code == 200


def test_changed_page_gets_new_validators(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", b"v1")
    first = client.get(server.url("/a"))
    site.put("/a", b"v2")  # within the same second: Last-Modified must still move forward
    etag_hdr = {"If-None-Match": first.headers["etag"]}
    ims_hdr = {"If-Modified-Since": first.headers["last-modified"]}
    assert client.get(server.url("/a"), headers=etag_hdr).content == b"v2"
    r = client.get(server.url("/a"), headers=ims_hdr)
    assert (r.status_code, r.content) == (200, b"v2")
    assert r.headers["etag"] != first.headers["etag"]


def test_validators_can_be_disabled(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY, validators=False)
    r = client.get(server.url("/a"), headers={"If-None-Match": "*"})
    assert r.status_code == 200
    assert "etag" not in r.headers
    assert "last-modified" not in r.headers


# -- faults ------------------------------------------------------------------------------------------
def test_status_fault_with_retry_after_expires_after_times(
    site: SimSite, server: SimServer, client: httpx.Client
) -> None:
    site.put("/a", BODY)
    site.fault("/a", "status", status=429, headers={"Retry-After": "1"}, body=b"slow down", times=2)
    for _ in range(2):
        r = client.get(server.url("/a"))
        assert (r.status_code, r.headers["retry-after"], r.content) == (429, "1", b"slow down")
    r = client.get(server.url("/a"))
    assert (r.status_code, r.content) == (200, BODY)
    assert [rec.status for rec in site.requests_for("/a")] == [429, 429, 200]


def test_faults_of_one_kind_run_in_sequence(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "status", status=503, times=1)
    site.fault("*", "status", status=521, times=1)
    codes = [client.get(server.url("/a")).status_code for _ in range(3)]
    assert codes == [503, 521, 200]


def test_wildcard_fault_forever_until_cleared(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("*", "status", status=412)
    assert client.get(server.url("/a")).status_code == 412
    assert client.get(server.url("/anything")).status_code == 412
    site.clear_faults()
    assert client.get(server.url("/a")).status_code == 200


def test_fault_params_are_validated(site: SimSite) -> None:
    with pytest.raises(ValueError):
        site.fault("/a", "explode")
    with pytest.raises(TypeError):
        site.fault("/a", "status")
    with pytest.raises(TypeError):
        site.fault("/a", "delay", secs=1.0)


def test_delay_fault(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "delay", seconds=0.4, times=1)
    t0 = time.monotonic()
    assert client.get(server.url("/a")).content == BODY
    assert time.monotonic() - t0 >= 0.4
    t0 = time.monotonic()
    client.get(server.url("/a"))
    assert time.monotonic() - t0 < 0.3
    with pytest.raises(httpx.ReadTimeout):
        site.fault("/a", "delay", seconds=2.0, times=1)
        client.get(server.url("/a"), timeout=0.2)


def test_reset_fault_raises_transport_error(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "reset", times=1)
    with pytest.raises(httpx.ReadError):  # RST -> ECONNRESET, not a clean EOF
        client.get(server.url("/a"))
    assert client.get(server.url("/a")).content == BODY
    assert [rec.status for rec in site.requests_for("/a")] == [0, 200]


def test_oversize_fault(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "oversize", bytes=3_000_000, times=1)
    r = client.get(server.url("/a"))
    assert r.status_code == 200
    assert len(r.content) == 3_000_000
    assert r.headers["content-length"] == "3000000"
    site.fault("/a", "oversize", bytes=200_000, chunked=True, times=1)
    r = client.get(server.url("/a"))
    assert len(r.content) == 200_000
    assert "content-length" not in r.headers
    assert r.headers["transfer-encoding"] == "chunked"
    assert client.get(server.url("/a")).content == BODY


def test_oversize_client_can_abort_midway(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.fault("/big", "oversize", bytes=50_000_000, times=1)
    with client.stream("GET", server.url("/big")) as r:
        got = 0
        for chunk in r.iter_bytes():
            got += len(chunk)
            if got > 100_000:
                break
    site.put("/a", BODY)
    assert client.get(server.url("/a")).content == BODY


def test_slow_body_fault(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "slow_body", seconds=0.5, times=1)
    t0 = time.monotonic()
    with client.stream("GET", server.url("/a")) as r:
        headers_at = time.monotonic() - t0
        content = r.read()
    assert content == BODY
    assert headers_at < 0.3
    assert time.monotonic() - t0 >= 0.45


def test_charset_fault_overrides_content_type(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("/a", "charset", content_type="text/html; charset=gb2312", times=1)
    r = client.get(server.url("/a"))
    assert r.headers["content-type"] == "text/html; charset=gb2312"
    assert r.content == BODY
    assert client.get(server.url("/a")).headers["content-type"] == "text/html"


def test_delay_and_status_faults_combine(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.fault("*", "delay", seconds=0.3, times=1)
    site.fault("/a", "status", status=503, times=1)
    t0 = time.monotonic()
    assert client.get(server.url("/a")).status_code == 503
    assert time.monotonic() - t0 >= 0.3


# -- hosts, request log, concurrency -----------------------------------------------------------------
def test_per_host_routing_on_two_loopback_addresses(site: SimSite, client: httpx.Client) -> None:
    site.put("/news", b"site one", host="127.0.0.1")
    site.put("/news", b"site two", host="127.0.0.2")
    site.put("/shared", b"everyone")
    site.fault("/news", "status", status=503, host="127.0.0.2", times=1)
    with SimServer(site, hosts=["127.0.0.1", "127.0.0.2"]) as srv:
        assert srv.base_url("127.0.0.2") == f"http://127.0.0.2:{srv.port_for('127.0.0.2')}"
        assert client.get(srv.url("/news", host="127.0.0.2")).status_code == 503
        assert client.get(srv.url("/news")).content == b"site one"
        assert client.get(srv.url("/news", host="127.0.0.2")).content == b"site two"
        assert client.get(srv.url("/shared", host="127.0.0.2")).content == b"everyone"
        # the Host header alone selects the site, too
        r = client.get(srv.url("/news"), headers={"Host": "127.0.0.2"})
        assert r.content == b"site two"
    assert [r.host for r in site.requests_for("/news")] == ["127.0.0.2", "127.0.0.1", "127.0.0.2", "127.0.0.2"]
    assert len(site.requests_for("/news", host="127.0.0.1")) == 1
    assert site.get("/news", host="127.0.0.2") is not None
    assert site.get("/news", host="127.0.0.3") is None
    assert site.get("/shared", host="127.0.0.3") is not None


def test_non_loopback_and_unknown_listener_rejected(site: SimSite, server: SimServer) -> None:
    with pytest.raises(ValueError):
        SimServer(site, hosts=["0.0.0.0"])
    with pytest.raises(ValueError):
        server.base_url("127.0.0.9")


def test_request_log(site: SimSite, server: SimServer, client: httpx.Client) -> None:
    site.put("/a", BODY)
    t0 = time.monotonic()
    etag = client.get(server.url("/a"), headers={"User-Agent": "ministry-monitor/test"}).headers["etag"]
    client.get(server.url("/a"), headers={"If-None-Match": etag})
    client.get(server.url("/missing"))
    recs = site.requests
    assert [(r.path, r.method, r.status, r.conditional) for r in recs] == [
        ("/a", "GET", 200, False),
        ("/a", "GET", 304, True),
        ("/missing", "GET", 404, False),
    ]
    assert all(r.host == "127.0.0.1" and t0 <= r.started <= r.ended for r in recs)
    assert recs[0].headers["user-agent"] == "ministry-monitor/test"
    assert recs[1].headers["if-none-match"] == etag
    assert len(site.requests_for("/a")) == 2
    site.clear_requests()
    assert site.requests == []


def _fire(client: httpx.Client, urls: list[str]) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def one(url: str) -> None:
        code = client.get(url).status_code
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=one, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_max_concurrency_counts_in_flight_requests(site: SimSite, client: httpx.Client) -> None:
    site.put("/a", BODY)
    site.fault("*", "delay", seconds=0.5, host="127.0.0.1")
    with SimServer(site, hosts=["127.0.0.1", "127.0.0.2"]) as srv:
        assert _fire(client, [srv.url("/a")] * 8 + [srv.url("/a", host="127.0.0.2")] * 3) == [200] * 11
        assert site.max_concurrency("127.0.0.1") == 8
        assert 1 <= site.max_concurrency("127.0.0.2") <= 3
        assert site.max_concurrency("127.0.0.3") == 0
        site.clear_faults()
        site.clear_requests()
        for _ in range(3):
            client.get(srv.url("/a"))
        assert site.max_concurrency("127.0.0.1") == 1


def test_handles_64_concurrent_connections(site: SimSite, server: SimServer) -> None:
    site.put("/a", BODY)
    site.fault("/a", "delay", seconds=1.0)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    with httpx.Client(trust_env=False, timeout=10.0, limits=limits) as c:
        t0 = time.monotonic()
        assert _fire(c, [server.url("/a")] * 64) == [200] * 64
        elapsed = time.monotonic() - t0
    assert site.max_concurrency("127.0.0.1") == 64
    assert elapsed < 4.0


def test_stop_is_prompt_with_idle_keepalive_and_in_flight_delay(site: SimSite) -> None:
    site.put("/a", BODY)
    srv = SimServer(site).start()
    with httpx.Client(trust_env=False, timeout=10.0) as c:
        assert c.get(srv.url("/a")).status_code == 200  # leaves an idle keep-alive connection open
        site.fault("/slow", "delay", seconds=30.0)
        outcome: list[BaseException | int] = []

        def slow_request() -> None:
            try:
                outcome.append(c.get(srv.url("/slow")).status_code)
            except httpx.TransportError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=slow_request)
        worker.start()
        deadline = time.monotonic() + 5
        while not any(site._in_flight.values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 3.0
        worker.join(5)
        assert not worker.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError)  # cut off, not answered
    with pytest.raises(ValueError):
        srv.port  # noqa: B018  (no listener after stop)


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture
def fixture_rows(site: SimSite) -> dict[str, FixtureRow]:
    return load_fixture_site(site, FIXTURES)


def test_fixture_files_are_the_saved_originals_byte_for_byte() -> None:
    # SHA256SUMS was written from the original saved pages when they were copied in; variants are made in code.
    sums = {}
    for line in (FIXTURES / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    listed = {row.split("\t", 1)[0] for row in (FIXTURES / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()[1:]}
    pages = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file()} - {"SOURCES.tsv", "SHA256SUMS"}

    assert pages == set(sums) == listed  # every page has its provenance row and its checksum, and no more
    assert all(hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == sums[name] for name in pages)


def test_load_fixture_site_serves_fmprc_listing_at_both_paths(
    site: SimSite, fixture_rows: dict[str, FixtureRow], server: SimServer, client: httpx.Client
) -> None:
    raw = (FIXTURES / "fmprc/en_list_regular-press-conference_p0_2020-07-04.html").read_bytes()
    for path in (FMPRC_EN_DIR + "default.shtml", FMPRC_EN_DIR):
        r = client.get(server.url(path))
        assert r.status_code == 200
        assert r.content == raw
        assert r.headers["content-type"] == "text/html"
    page12 = (FIXTURES / "fmprc/en_list_regular-press-conference_p12_2020-07-04.html").read_bytes()
    assert client.get(server.url(FMPRC_EN_DIR + "default_12.shtml")).content == page12
    zh_dir = "/web/wjdt_674879/fyrbt_674889/"
    assert client.get(server.url(zh_dir)).content == client.get(server.url(zh_dir + "default.shtml")).content


def test_load_fixture_site_serves_error_page_and_articles(
    site: SimSite, fixture_rows: dict[str, FixtureRow], server: SimServer, client: httpx.Client
) -> None:
    r = client.get(server.url("/error.htm"))
    assert r.status_code == 200
    assert r.content == (FIXTURES / "fmprc/zh_error-page_2020-07-04.html").read_bytes()
    art = fixture_rows["fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html"]
    assert art.path == FMPRC_EN_DIR + "t1793427.shtml"
    assert art.kind == "article"
    assert client.get(server.url(art.path)).content == art.body()


def test_load_fixture_site_serves_older_snapshot_and_swaps(
    site: SimSite, fixture_rows: dict[str, FixtureRow], server: SimServer, client: httpx.Client
) -> None:
    assert len(fixture_rows) == 21
    old = fixture_rows["govuk/list_news-braverman_2023-06-02.html"]
    new = fixture_rows["govuk/list_news-braverman_2023-06-11.html"]
    assert old.path == new.path == GOVUK_SEARCH
    first = client.get(server.url(GOVUK_SEARCH))
    assert first.content == old.body() != new.body()
    pubs = client.get(server.url("/government/publications")).content
    assert pubs == fixture_rows["govuk/list_publications_2014-08-04.html"].body()
    new.install(site)
    r = client.get(server.url(GOVUK_SEARCH), headers={"If-None-Match": first.headers["etag"]})
    assert (r.status_code, r.content) == (200, new.body())


def test_every_fixture_row_is_served(
    site: SimSite, fixture_rows: dict[str, FixtureRow], server: SimServer, client: httpx.Client
) -> None:
    superseded = {"govuk/list_news-braverman_2023-06-11.html", "govuk/list_publications_2016-11-04.html"}
    for name, row in fixture_rows.items():
        served = client.get(server.url(row.path))
        assert served.status_code == 200, name
        assert (served.content == row.body()) is (name not in superseded), name


def test_load_fixture_site_on_a_host(site: SimSite) -> None:
    rows = load_fixture_site(site, FIXTURES, host="127.0.0.2", include=lambda r: r.file.startswith("fmprc/"))
    assert all(name.startswith("fmprc/") for name in rows)
    assert site.get("/error.htm", host="127.0.0.2") is not None
    assert site.get("/error.htm") is None
    assert site.get("/government/publications", host="127.0.0.2") is None
