"""Tests for monitor.http.decode: charset by HTTP header, BOM, <meta>, else UTF-8 (then GB18030); never mojibake."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from monitor.errors import DecodeError
from monitor.http import decode_html, sniff_charset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# 镕 (as in 朱镕基) is in GBK but not GB2312; 𠮷 (U+20BB7, outside the BMP) exists only in GB18030.
GBK_ONLY = "镕"
GB18030_ONLY = "𠮷"
ZH_TEXT = f"外交部发言人：朱{GBK_ONLY}基、{GB18030_ONLY}野家。"
CP1252_BYTES = b"\x93quoted\x94 \x80 5 caf\xe9 \x97 done"
CP1252_TEXT = "\u201cquoted\u201d \u20ac 5 caf\u00e9 \u2014 done"


def page(meta: str, text: str) -> str:
    return f"<html><head>{meta}</head><body><p>{text}</p></body></html>"


CASES = [
    # (id, body, Content-Type header, expected text)
    (
        "utf8-meta-charset",
        page('<meta charset="utf-8">', "外交部 — café").encode(),
        None,
        page('<meta charset="utf-8">', "外交部 — café"),
    ),
    (
        "utf8-meta-http-equiv",
        page('<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">', "外交部").encode(),
        "text/html",
        page('<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">', "外交部"),
    ),
    ("utf8-no-label", page("", "外交部 — café").encode(), "text/html", page("", "外交部 — café")),
    ("header-charset", page("", ZH_TEXT).encode("gb18030"), "text/html; charset=GBK", page("", ZH_TEXT)),
    (
        "header-wins-over-meta",
        page('<meta charset="utf-8">', ZH_TEXT).encode("gb18030"),
        "text/html; charset=gb2312",
        page('<meta charset="utf-8">', ZH_TEXT),
    ),
    (
        "header-utf8-wins-over-meta-gb2312",
        page('<meta charset="gb2312">', ZH_TEXT).encode(),
        'text/html; charset="utf-8"',
        page('<meta charset="gb2312">', ZH_TEXT),
    ),
    (
        "unknown-header-charset-falls-to-meta",
        page('<meta charset="gbk">', ZH_TEXT).encode("gb18030"),
        "text/html; charset=x-no-such-charset",
        page('<meta charset="gbk">', ZH_TEXT),
    ),
    ("bom-utf8", codecs.BOM_UTF8 + page("", "外交部").encode(), None, page("", "外交部")),
    (
        "bom-utf8-wins-over-meta",
        codecs.BOM_UTF8 + page('<meta charset="gb2312">', "外交部").encode(),
        "text/html",
        page('<meta charset="gb2312">', "外交部"),
    ),
    ("bom-utf16-le", codecs.BOM_UTF16_LE + page("", ZH_TEXT).encode("utf-16-le"), None, page("", ZH_TEXT)),
    ("bom-utf16-be", codecs.BOM_UTF16_BE + page("", ZH_TEXT).encode("utf-16-be"), None, page("", ZH_TEXT)),
    (
        "meta-gb2312-with-gbk-only-char",
        page("<meta charset=gb2312>", f"朱{GBK_ONLY}基").encode("gb18030"),
        "text/html",
        page("<meta charset=gb2312>", f"朱{GBK_ONLY}基"),
    ),
    (
        "meta-gb2312-with-gb18030-only-char",
        page("<meta charset=gb2312>", ZH_TEXT).encode("gb18030"),
        "text/html",
        page("<meta charset=gb2312>", ZH_TEXT),
    ),
    (
        "meta-http-equiv-gbk-with-gb18030-only-char",
        page('<meta http-equiv="Content-Type" content="text/html; charset=GBK">', ZH_TEXT).encode("gb18030"),
        None,
        page('<meta http-equiv="Content-Type" content="text/html; charset=GBK">', ZH_TEXT),
    ),
    (
        "meta-x-gbk",
        page('<meta charset="x-gbk">', ZH_TEXT).encode("gb18030"),
        None,
        page('<meta charset="x-gbk">', ZH_TEXT),
    ),
    (
        "gbk-no-label",
        page("", f"外交部发言人朱{GBK_ONLY}基").encode("gbk"),
        "text/html",
        page("", f"外交部发言人朱{GBK_ONLY}基"),
    ),
    ("gb18030-no-label", page("", ZH_TEXT).encode("gb18030"), None, page("", ZH_TEXT)),
    (
        "meta-windows-1252",
        page('<meta charset="windows-1252">', "").encode().replace(b"<p>", b"<p>" + CP1252_BYTES),
        None,
        page('<meta charset="windows-1252">', CP1252_TEXT),
    ),
    # WHATWG: the labels iso-8859-1, latin1 and us-ascii all mean windows-1252.
    (
        "meta-iso-8859-1-is-cp1252",
        page('<meta charset="iso-8859-1">', "").encode().replace(b"<p>", b"<p>" + CP1252_BYTES),
        None,
        page('<meta charset="iso-8859-1">', CP1252_TEXT),
    ),
    (
        "meta-latin1-is-cp1252",
        page('<meta charset="latin1">', "").encode().replace(b"<p>", b"<p>" + CP1252_BYTES),
        None,
        page('<meta charset="latin1">', CP1252_TEXT),
    ),
    (
        "header-us-ascii-is-cp1252",
        page("", "").encode().replace(b"<p>", b"<p>" + CP1252_BYTES),
        "text/html; charset=us-ascii",
        page("", CP1252_TEXT),
    ),
    # Issue 13 changed this case: it was read as "caf\ufffd". Bytes that are not UTF-8 under a UTF-8 label are a
    # wrong label (here Latin), read by the charset that decodes them cleanly; replacement characters are never
    # stored for a mislabel. (A right label over damaged bytes keeps U+FFFD: see test_damaged_utf8_keeps_label.)
    (
        "declared-utf8-stray-byte",
        b'<meta charset="utf-8"><p>caf\xe9</p>',
        None,
        '<meta charset="utf-8"><p>caf\u00e9</p>',
    ),
]


@pytest.mark.parametrize(("body", "content_type", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decode_html(body: bytes, content_type: str | None, text: str) -> None:
    assert decode_html(body, content_type) == text


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"<p>x</p>", None, "utf-8"),
        (b"<p>x</p>", "text/html", "utf-8"),
        (b"<p>x</p>", "text/html; charset=UTF-8", "utf-8"),
        (b"<p>x</p>", "text/html;charset='gbk'", "gb18030"),
        (b"<meta charset='utf-8'>", "text/html; charset=GB2312", "gb18030"),
        (b"<meta charset=gb2312>", None, "gb18030"),
        (b"<META HTTP-EQUIV='content-type' CONTENT='text/html; charset=gbk'>", None, "gb18030"),
        (b"<meta charset=big5>", None, "big5"),
        (b"<meta charset=shift_jis>", None, "shift_jis"),
        (b"<meta charset=windows-1252>", None, "cp1252"),
        (b"<meta charset=no-such-thing>", None, "utf-8"),
        (codecs.BOM_UTF8 + b"<meta charset=gbk>", None, "utf-8"),
        (codecs.BOM_UTF16_LE + b"<\x00", None, "utf-16-le"),
        (codecs.BOM_UTF16_BE + b"\x00<", None, "utf-16-be"),
        (b" " * 5000 + b"<meta charset=gbk>", None, "utf-8"),  # only the first 4 KiB are sniffed
    ],
)
def test_sniff_charset(body: bytes, content_type: str | None, encoding: str) -> None:
    assert sniff_charset(body, content_type) == encoding


FIXTURE_TEXTS = [
    (
        "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html",
        "外交部发言人就全国人大常委会审议通过香港国安法发表谈话",
    ),
    (
        "fmprc/zh_article_t1421084_fyrbt-qa_2016-12-03.html",
        "外交部发言人耿爽就美国当选总统特朗普<br>同台湾地区领导人蔡英文通电话答记者问",
    ),
    ("fmprc/zh_article_t1415586_fyrbt-presser_2016-11-15.html", "2016年11月15日外交部发言人耿爽主持例行记者会"),
    ("fmprc/zh_article_t1638430_zyxw_2019-02-16_rendered.html", "杨洁篪会见卢森堡外交大臣阿瑟伯恩"),
    (
        "fmprc/zh_article_t1638506_zyxw-speech_2019-02-17_rendered.html",
        "杨洁篪在第55届慕尼黑安全会议上的主旨演讲（全文）",
    ),
    ("fmprc/zh_list_fyrbt_p0_2020-07-04.html", "2020年7月3日外交部发言人赵立坚主持例行记者会"),
    ("fmprc/zh_list_fyrbt_p66_2020-07-04.html", "2016年11月15日外交部发言人耿爽主持例行记者会"),
    ("fmprc/zh_error-page_2020-07-04.html", "对不起，我们没有找到您要的网页"),
    ("fmprc/en_article_t1793427_regular-press-conference_2020-06-30.html", "简体中文"),
    ("fmprc/en_list_regular-press-conference_p0_2020-07-04.html", "简体中文"),
    (
        "govuk/list_publications_2016-11-04.html",
        "GDA of Hitachi-GE Nuclear Energy Ltd’s UK Advanced Boiling Water Reactor",
    ),
]


@pytest.mark.parametrize(("fixture", "title"), FIXTURE_TEXTS, ids=[Path(f).stem for f, _ in FIXTURE_TEXTS])
def test_real_page_decodes(fixture: str, title: str) -> None:
    body = (FIXTURES / fixture).read_bytes()
    assert sniff_charset(body, "text/html") == "utf-8"
    text = decode_html(body, "text/html")
    assert title in text
    assert "\ufffd" not in text


ZH_FIXTURE = "fmprc/zh_article_t1793459_fyrbt-statement_2020-06-30.html"
ZH_META = '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'


@pytest.mark.parametrize(
    ("meta", "content_type"),
    [
        ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "text/html"),
        ("<meta charset=gbk>", None),
        ("", "text/html"),  # no label anywhere: the UTF-8 attempt fails, GB18030 is tried
        (ZH_META, "text/html; charset=GB2312"),  # the header beats a wrong <meta>
    ],
    ids=["meta-gb2312", "meta-gbk", "unlabelled", "header-over-wrong-meta"],
)
def test_real_page_reencoded_as_gb18030(meta: str, content_type: str | None) -> None:
    original = (FIXTURES / ZH_FIXTURE).read_bytes().decode("utf-8")
    assert original.count(ZH_META) == 1
    variant = original.replace(ZH_META, meta)
    assert decode_html(variant.encode("gb18030"), content_type) == variant


UTF8_META = '<meta charset="utf-8">'
MISLABELS = [
    # (id, the page's language, its text, the charset its bytes are really in); each is served under a UTF-8 <meta>.
    ("zh-gb18030", "zh", ZH_TEXT + "外交部发言人赵立坚主持例行记者会。中方坚决反对。", "gb18030"),
    ("zh-tw-big5", "zh", "外交部發言人表示，中華民國政府高度重視兩岸關係的和平穩定發展。", "big5"),
    ("ja-shift-jis", "ja", "本日、外務大臣は記者会見を行い、日本とアメリカの関係について説明しました。", "shift_jis"),
    ("ja-euc-jp", "ja", "本日、外務大臣は記者会見を行い、日本とアメリカの関係について説明しました。", "euc_jp"),
    ("ko-euc-kr", "ko", "외교부 장관은 오늘 기자회견을 열고 한미 관계와 국제 협력 강화에 대해 설명했습니다.", "euc_kr"),
    ("ru-windows-1251", "ru", "Министр иностранных дел провёл переговоры. Стороны обсудили вопросы.", "cp1251"),
    ("de-windows-1252", "de", "Die Regierung fördert Wärmepumpen; Größere Änderungen ab 1. März.", "cp1252"),
    ("fr-windows-1252", "fr", "Le ministère de l’Europe a publié un communiqué sur la sécurité « ici ».", "cp1252"),
    ("pl-windows-1250", "pl", "Ministerstwo Spraw Zagranicznych informuje, że minister spotkał się z nimi.", "cp1250"),
]


@pytest.mark.parametrize(("lang", "text", "charset"), [c[1:] for c in MISLABELS], ids=[c[0] for c in MISLABELS])
def test_wrong_utf8_label_is_read_by_the_charset_that_decodes(lang: str, text: str, charset: str) -> None:
    html = f'<html lang="{lang}"><head>{UTF8_META}<title>{text[:20]}</title></head><body><p>{text}</p></body></html>'
    for content_type in (None, "text/html", "text/html; charset=utf-8"):
        decoded = decode_html(html.encode(charset), content_type)
        assert decoded == html
        assert "\ufffd" not in decoded


def test_utf8_bytes_under_a_legacy_label_are_utf8() -> None:
    html = page('<meta charset="gb2312">', ZH_TEXT)
    assert decode_html(html.encode(), None) == html
    latin = page('<meta charset="windows-1252">', "Größere Änderungen — café")
    assert decode_html(latin.encode(), "text/html; charset=iso-8859-1") == latin


def test_damaged_utf8_keeps_label() -> None:
    # A right label over one truncated character among many good ones: the label is kept, the damage shows.
    good = page(UTF8_META, "外交部发言人赵立坚主持例行记者会" * 10).encode()
    damaged = good.replace("会".encode(), "会".encode()[:2], 1)
    text = decode_html(damaged, None)
    assert text.count("\ufffd") == 1
    assert text.count("外交部发言人") == 10


def test_bytes_no_charset_decodes_are_refused() -> None:
    noise = random.Random(13).randbytes(4096)
    with pytest.raises(DecodeError) as caught:
        decode_html(b'<meta charset="utf-8"><p>' + noise, None, source_id="mfa", url="https://example.org/a")
    assert "not valid utf-8" in caught.value.reason
    assert "[mfa] https://example.org/a" in str(caught.value)
