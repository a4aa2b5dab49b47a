"""Web view test helpers: a newsroom scenario on the loopback ministry, and the real web server in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from conftest import Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, ZH_DIR, ZH_LIST, en_listing, replace_once, zh_listing

from monitor.config import Config, load_config
from monitor.web import StoreReader, WebServer, build_app, start_web_server

A, B, C = "t1793427", "t1739548", "t1617471"
TITLE_C = "Foreign Ministry Spokesperson Geng Shuang's Regular Press Conference on November 29, 2018"
EDIT_OLD = "Mr. Pompeo is a brazen liar."
EDIT_NEW = "Mr. Pompeo is mistaken."
WORD_OF_C = "Steinmeier"
ZH_OLD, ZH_NEW = "t1793459", "t1421084"
ZH_FIXTURES = {
    ZH_OLD: "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html",
    ZH_NEW: "fmprc/zh_article_t1421084_fyrbt-qa_2016-12-03.html",
}
WORD_OF_ZH_NEW = "严正交涉"
SOURCES = ("mfa-en-press", "mfa-zh-fyrbt")


class Newsroom:
    """The EN press source and the ZH spokesperson source: a baseline, then news (a new article each, an edit)."""

    def __init__(self, ministry: Ministry, tmp_path: Path, run_cli: RunCli, **config: Any) -> None:
        self.ministry = ministry
        self.run_cli = run_cli
        self.config_path = write_config(tmp_path, ministry.base, **config)

    @property
    def config(self) -> Config:
        return load_config(self.config_path, environ={"MONITOR_HTTP_TOKEN": "t" * 32})

    def url(self, doc: str) -> str:
        return self.ministry.url(f"{EN_DIR}{doc}.shtml")

    def zh_url(self, doc: str) -> str:
        return self.ministry.url(f"{ZH_DIR}{doc}.shtml")

    def _show(self, en_docs: tuple[str, ...], zh_docs: tuple[str, ...]) -> None:
        en = [(f"./{doc}.shtml", doc) for doc in en_docs]
        self.ministry.site.put(EN_DIR, en_listing(self.ministry.body(EN_LIST), en))
        zh = [(f"./{doc}.shtml", doc, "2020-06-30") for doc in zh_docs]
        self.ministry.site.put(ZH_DIR, zh_listing(self.ministry.body(ZH_LIST), zh))
        for doc in zh_docs:
            self.ministry.site.put(f"{ZH_DIR}{doc}.shtml", self.ministry.body(ZH_FIXTURES[doc]))

    def check(self, *extra: str) -> None:
        for source in SOURCES:
            code, _, err = self.run_cli("check", "--config", str(self.config_path), "--source", source, *extra)
            assert code == 0, err

    def baseline(self) -> None:
        self._show((A, B), (ZH_OLD,))
        self.check()

    def news(self) -> None:
        """A new article on each listing, and a silent edit of A."""
        self._show((C, A, B), (ZH_NEW, ZH_OLD))
        edited = replace_once(self.ministry.body(EN_ARTICLES[A]), EDIT_OLD, EDIT_NEW)
        self.ministry.site.put(f"{EN_DIR}{A}.shtml", edited)
        self.check("--revisit")


class WebThread:
    """The real web server (uvicorn) on 127.0.0.1, run by its own event loop in a thread."""

    def __init__(self, config: Config, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.reader = StoreReader(config.database)
        app = build_app(config, self.reader, **options)
        self.server: WebServer = self._run(start_web_server("127.0.0.1", 0, app))
        self.base = f"http://127.0.0.1:{self.server.address[1]}"

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def close(self) -> None:
        self._run(self.server.close())
        self._run(self.reader.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def served(config: Config, **options: Any) -> Iterator[httpx.Client]:
    """Serve the web view of `config`'s store; yield an httpx client for it."""
    web = WebThread(config, **options)
    try:
        with httpx.Client(base_url=web.base, timeout=30) as client:
            yield client
    finally:
        web.close()


Get = Callable[..., httpx.Response]
