"""`reewatch check` and the feeds.yaml loader: each mistake reported with its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.feeds import check_text, load_feeds

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
feeds:
  - id: one
    url: https://example.com/feed.xml
    tier: official
    interval: 5m
watchlist: [Dy, terbium, 钕]
"""


def test_bundled_feeds_yaml_is_valid() -> None:
    model = load_feeds(ROOT / "feeds.yaml")
    assert len(model.feeds) >= 8
    assert model.oncall is not None and model.oncall.steps[0].notify == "primary"
    assert {"Dy", "Tb"} <= set(model.watchlist)


def test_good_file_normalizes_elements_and_durations() -> None:
    model, problems = check_text(GOOD)
    assert problems == []
    assert model is not None
    assert model.watchlist == ["Dy", "Tb", "Nd"]
    assert model.feeds[0].interval == 300.0


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("feeds:\n  - id: a\n    url: https://x.org/f\n    colour: red\n", 4, "unknown key 'colour'"),
        ("feeds:\n  - id: a\n    url: ftp://x.org/f\n", 3, "bad URL"),
        ("feeds:\n  - id: a\n    url: not a url\n", 3, "bad URL"),
        ("feeds:\n  - id: a\n    url: https://x.org/1\n  - id: a\n    url: https://x.org/2\n", 4,
         "duplicate feed id 'a'"),
        ("feeds:\n  - id: a\n    url: https://x.org/f\n    interval: 5 parsecs\n", 4, "not a duration"),
        ("feeds:\n  - id: a\n    url: https://x.org/f\n    interval: 0s\n", 4, "interval"),
        ("watchlist: [Dy, Unobtainium]\n", 1, "unknown element 'Unobtainium'"),
        ("routes:\n  - channel: '#x'\n    elements: [Dy]\n    min_severity: apocalyptic\n", 4, "min_severity"),
        ("routes:\n  - channel: '#x'\n    feeds: [ghost]\n", 3, "unknown feed 'ghost'"),
        ("routes:\n  - channel: '#x'\n", 2, "needs `all: true`"),
        ("oncall:\n  channel: '#o'\n  rotation:\n    users: [bob]\n  steps:\n    - notify: primary\n", 4,
         "bad Slack user id"),
        ("oncall:\n  channel: '#o'\n  rotation:\n    users: [U123]\n    timezone: Mars/Olympus\n"
         "  steps:\n    - notify: primary\n", 5, "unknown time zone"),
        ("oncall:\n  channel: '#o'\n  rotation:\n    users: [U123]\n  steps:\n    - after: 1m\n"
         "      notify: everybody\n", 6, "bad step target"),
        ("feeds: [\n", 2, "not valid YAML"),
        ("feeds: []\nfeeds: []\n", 2, "duplicate key 'feeds'"),
        ("surprise: 1\n", 1, "unknown key 'surprise'"),
        ("feeds:\n  - id: off\n    url: https://x.org/f\n", 2, "put the value in quotes"),
    ],
)
def test_each_mistake_is_reported_with_its_line(text: str, line: int, fragment: str) -> None:
    model, problems = check_text(text, "f.yaml")
    assert model is None
    rendered = [str(p) for p in problems]
    assert any(r.startswith(f"f.yaml:{line}: ") and fragment in r for r in rendered), rendered


def test_short_interval_on_public_host_is_a_warning_not_an_error() -> None:
    model, problems = check_text("feeds:\n  - id: a\n    url: https://x.org/f\n    interval: 1s\n")
    assert model is not None
    assert [p.warning for p in problems] == [True]
    model, problems = check_text("feeds:\n  - id: a\n    url: http://127.0.0.1:8000/f\n    interval: 1s\n")
    assert model is not None and problems == []


def _reewatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_check_command_prints_file_line_message_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - id: a\n    url: https://x.org/f\n    colour: red\nwatchlist: [Xx]\n")
    result = _reewatch("check", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{bad}:4: unknown key 'colour' in feeds.0", f"{bad}:5: watchlist.0: unknown element 'Xx' "
                     "(use a symbol, English or Chinese name)"]
    assert "Traceback" not in result.stderr


def test_check_command_accepts_the_bundled_file() -> None:
    result = _reewatch("check", "feeds.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok (" in result.stdout
