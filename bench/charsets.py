"""Benchmark `charset`: how mislabelled pages are read. monitor.http.decode (charset-normalizer behind a strict
decode of the label) next to a narrow sniff (the label, then the first of a fixed list of charsets that decodes the
bytes without error), on real saved pages and realistic ministry text re-encoded under a UTF-8 <meta>.

Exact means the decoded page equals the page that was encoded; the time is the CPU per mislabelled page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.options import Options
from bench.site import FIXTURES

__all__ = ["run_charsets"]

ROUNDS = 5
_NARROW_ORDER = ("utf-8", "gb18030", "big5", "shift_jis", "euc_jp", "euc_kr", "cp1251", "cp1250", "cp1252")
_TEXTS = {
    "de": "Die Bundesregierung fördert Wärmepumpen; größere Änderungen gelten ab dem 1. März für Häuser und Bürger.",
    "fr": "Le ministère de l’Europe et des Affaires étrangères a publié un communiqué sur la sécurité énergétique.",
    "ru": "Министр иностранных дел провёл переговоры с коллегой. Стороны обсудили вопросы сотрудничества.",
    "ja": "本日、外務大臣は記者会見を行い、日本とアメリカの関係について説明しました。国際協力を強化します。",
    "ko": "외교부 장관은 오늘 기자회견을 열고 한미 관계와 국제 협력 강화에 대해 설명했습니다.",
    "pl": "Ministerstwo Spraw Zagranicznych informuje, że minister spotkał się z żołnierzami w Gdańsku.",
    "zh-tw": "外交部發言人表示，中華民國政府高度重視兩岸關係的和平穩定發展，並呼籲對岸理性溝通。",
}
_CASES = (
    ("de", "cp1252"),
    ("fr", "cp1252"),
    ("ru", "cp1251"),
    ("ru", "koi8_r"),
    ("ja", "shift_jis"),
    ("ja", "euc_jp"),
    ("ko", "euc_kr"),
    ("pl", "cp1250"),
    ("zh-tw", "big5"),
)
_FIXTURE_CASES = (
    ("fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html", "gb18030"),
    ("fmprc/zh_article_t1415586_fyrbt-presser_2016-11-15.html", "gb18030"),
    ("fmprc/zh_list_fyrbt_p0_2020-07-04.html", "gb18030"),
    ("fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html", "cp1252"),
    ("govuk/list_publications_2016-11-04.html", "cp1252"),
)


def _narrow(body: bytes) -> str | None:
    for encoding in _NARROW_ORDER:
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _ours(body: bytes) -> str | None:
    from monitor.errors import DecodeError
    from monitor.http import decode_html

    try:
        return decode_html(body, "text/html")
    except DecodeError:
        return None


def _samples() -> list[tuple[str, str, bytes]]:
    samples = []
    for lang, charset in _CASES:
        text = _TEXTS[lang] * 20
        html = f'<html lang="{lang}"><head><meta charset="utf-8"><title>{text[:30]}</title></head><body>'
        html += "".join(f"<p>{text[i : i + 200]}</p>" for i in range(0, len(text), 200)) + "</body></html>"
        samples.append((f"{lang} in {charset}", html, html.encode(charset)))
    for name, charset in _FIXTURE_CASES:
        page = (FIXTURES / name).read_bytes().decode("utf-8")
        page = page.encode(charset, errors="ignore").decode(charset)  # what the charset can hold of the real page
        samples.append((f"{name.split('/')[-1][:40]} in {charset}", page, page.encode(charset)))
    return samples


def _measure(decode: Callable[[bytes], str | None], samples: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    wrong = [name for name, text, body in samples if decode(body) != text]
    started = time.process_time()
    for _ in range(ROUNDS):
        for _name, _text, body in samples:
            decode(body)
    ms = 1000 * (time.process_time() - started) / (ROUNDS * len(samples))
    return {"exact": len(samples) - len(wrong), "wrong": wrong, "ms_per_page": ms}


def run_charsets(opts: Options) -> dict[str, Any]:
    """Return exact decodes and CPU per page for monitor.http.decode and for the narrow sniff."""
    del opts
    samples = _samples()
    _ours(samples[0][2])  # import and warm up the detector once
    return {
        "pages": len(samples),
        "monitor": _measure(_ours, samples),
        "narrow": {**_measure(_narrow, samples), "order": list(_NARROW_ORDER)},
    }
