"""The simulated ministry used by tests, `monitor demo`, `monitor simulate` and the benchmarks."""

from __future__ import annotations

from monitor.sim.config import MFA_EN_PRESS, SiteSource, write_sources_config
from monitor.sim.demo import Delivery, run_demo
from monitor.sim.fixtures import FixtureRow, load_fixture_site
from monitor.sim.newsroom import LISTING_FILE, PAGES, Change, Newsroom, packaged_pages
from monitor.sim.pagegen import (
    PressPages,
    article_name,
    article_path,
    en_listing,
    inject_into_body,
    listing_path,
    mission_article,
    replace_once,
    zh_listing,
)
from monitor.sim.server import SimServer
from monitor.sim.site import FAULT_KINDS, Fault, Page, RequestRecord, SimSite

__all__ = [
    "Change",
    "Delivery",
    "FAULT_KINDS",
    "Fault",
    "FixtureRow",
    "LISTING_FILE",
    "MFA_EN_PRESS",
    "Newsroom",
    "PAGES",
    "Page",
    "PressPages",
    "RequestRecord",
    "SimServer",
    "SimSite",
    "SiteSource",
    "article_name",
    "article_path",
    "en_listing",
    "inject_into_body",
    "listing_path",
    "load_fixture_site",
    "mission_article",
    "packaged_pages",
    "replace_once",
    "run_demo",
    "write_sources_config",
    "zh_listing",
]
