"""OPML in and out: the pure reader/writer, and `reewatch opml import|export` against a real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from core.errors import UsageError
from core.feeds import FeedConfig
from core.opml import read_opml, write_opml
from core.registry import FeedRegistry
from core.settings import Settings
from workers.context import WorkerContext

SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>my reader</title></head><body>
  <outline text="Mining">
    <outline type="rss" text="Mining.com" xmlUrl="https://www.mining.com/feed/" htmlUrl="https://www.mining.com/"/>
    <outline text="Nested"><outline type="rss" title="Argus REE" xmlUrl="https://argus.example/ree.xml"/></outline>
  </outline>
  <outline type="rss" text="dup" xmlUrl="https://www.mining.com/feed/"/>
  <outline text="a folder without a feed"/>
</body></opml>"""


def test_read_opml_finds_nested_feeds_once() -> None:
    feeds = read_opml(SAMPLE)
    assert [(f.url, f.title) for f in feeds] == [("https://www.mining.com/feed/", "Mining.com"),
                                                 ("https://argus.example/ree.xml", "Argus REE")]


def test_round_trip_keeps_reewatch_settings() -> None:
    feeds = [FeedConfig(id="gov-zh", url="https://gov.example/rss", title="通知", tier="official", language="zh",
                        interval=300.0),
             FeedConfig(id="wire", url="https://wire.example/feed?a=1&b=2")]
    back = read_opml(write_opml(feeds).encode("utf-8"))
    assert [(f.id, f.url, f.title, f.tier, f.language, f.interval) for f in back] == [
        ("gov-zh", "https://gov.example/rss", "通知", "official", "zh", 300.0),
        ("wire", "https://wire.example/feed?a=1&b=2", "wire", "other", "en", 900.0)]


@pytest.mark.parametrize("data", [b"<html><body/></html>", b"not xml at all",
                                  b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                  b"<opml><body><outline xmlUrl='&x;'/></body></opml>"])
def test_bad_documents_are_usage_errors(data: bytes) -> None:
    with pytest.raises(UsageError):
        read_opml(data)


def test_cli_import_then_export(cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_env.feeds_file.write_text("feeds:\n  - id: mining-com\n    url: https://www.mining.com/feed/\n",
                                  encoding="utf-8")
    source = tmp_path / "in.opml"
    source.write_bytes(SAMPLE)
    assert main(["opml", "import", str(source), "--tier", "trade"]) == 0
    out, err = capsys.readouterr()
    assert "added 1 feed(s): argus-ree" in out and "already polled" in err  # mining.com is in feeds.yaml
    ctx = WorkerContext(cli_env)
    added = FeedRegistry(cli_env, ctx.redis, ctx.keys).get("argus-ree")
    assert added is not None and added.tier == "trade" and added.url == "https://argus.example/ree.xml"

    target = tmp_path / "out.opml"
    assert main(["opml", "export", str(target)]) == 0
    assert [f.id for f in read_opml(target.read_bytes())] == ["mining-com", "argus-ree"]


def test_cli_import_of_a_missing_file_is_a_usage_error(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["opml", "import", "/nonexistent/feeds.opml"]) == 2
    assert "cannot read" in capsys.readouterr().err
