"""Names of the saved pages the tests derive variants from; the deriving itself lives in monitor.sim.pagegen."""

from __future__ import annotations

from monitor.sim import en_listing, inject_into_body, replace_once, zh_listing

EN_LIST = "fmprc/en_list_regular-press-conference_p0_2020-07-04.html"
ZH_LIST = "fmprc/zh_list_fyrbt_p0_2020-07-04.html"
EN_DIR = "/mfa_eng/xwfw_665399/s2510_665401/2511_665403/"
ZH_DIR = "/web/wjdt_674879/fyrbt_674889/"
EN_ARTICLES = {
    "t1793427": "fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html",
    "t1739548": "fmprc/en_article_t1739548_daily-briefing-online_2020-02-03.html",
    "t1686638": "fmprc/en_article_t1686638_remarks-pelosi-hong-kong_2019-08.html",
    "t1617471": "fmprc/en_article_t1617471_regular-press-conference_2018-11-29.html",
    "t1558711": "fmprc/en_article_t1558711_regular-press-conference_2018-05-11.html",
}

__all__ = [
    "EN_ARTICLES",
    "EN_DIR",
    "EN_LIST",
    "ZH_DIR",
    "ZH_LIST",
    "en_listing",
    "inject_into_body",
    "replace_once",
    "zh_listing",
]
