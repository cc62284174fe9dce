"""`reewatch explain`: the contract's JSON shape, a readable summary, exit 2 on empty text."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.cli import main


def test_json_shape_matches_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    text = "China bans exports of Dy and Tb4O7"
    assert main(["explain", text, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["elements"] == ["Dy", "Tb"] and out["severity"] == "critical"
    for m in out["matches"]:
        assert set(m) >= {"term", "kind", "span"}
        start, end = m["span"]
        assert text[start:end] == m["term"]
    tb = next(m for m in out["matches"] if m["term"] == "Tb4O7")
    assert tb["kind"] == "formula" and tb["span"] == [29, 34] and tb["detail"] == "Tb"


def test_readable_summary_and_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "商务部：暂停实施对镓、锗的出口管制措施", "--tier", "official"]) == 0
    out = capsys.readouterr().out
    assert "severity: easing" in out and "elements: Ga, Ge" in out and "暂停实施" in out


def test_empty_text_exits_2_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "explain", "  "], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("reewatch: explain needs some text") and "Traceback" not in proc.stderr
