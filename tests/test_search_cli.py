"""`monitor search`: the real command line over a store filled by a real check of the loopback ministry."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Ministry, RunCli, write_config
from sitekit import EN_ARTICLES, EN_DIR, EN_LIST, en_listing

TITLE = "Foreign Ministry Spokesperson Hua Chunying's Daily Briefing Online on February 3, 2020"


def _checked(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> Path:
    entries = [(f"./{doc}.shtml", doc) for doc in EN_ARTICLES]
    ministry.site.put(EN_DIR, en_listing(ministry.body(EN_LIST), entries), content_type="text/html")
    config = write_config(tmp_path, ministry.base)
    code, _, err = run_cli("check", "--config", str(config), "--source", "mfa-en-press")
    assert code == 0, err
    return config


def test_search_prints_matching_articles_with_a_snippet(ministry: Ministry, tmp_path: Path, run_cli: RunCli) -> None:
    config = _checked(ministry, tmp_path, run_cli)

    code, out, err = run_cli("search", "--config", str(config), "good AFTERNOON hua")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(f"[mfa-en-press]  {TITLE}")
    assert lines[1].strip() == ministry.url(f"{EN_DIR}t1739548.shtml")
    assert "afternoon" in lines[2].lower()

    code, out, _ = run_cli("search", "--config", str(config), "Steinmeier", "--format", "jsonl")
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["url"].endswith("t1617471.shtml") and "Steinmeier" in record["snippet"]

    code, out, _ = run_cli("search", "--config", str(config), "zzqqxx-nowhere")
    assert code == 0 and out.strip() == "no article matches 'zzqqxx-nowhere'"
