"""`reewatch demo` end to end: it starts, the bot posts into the stand-in, and Ctrl-C leaves no process
and no temporary file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.demo_process import DemoProcess, posts, running

pytestmark = pytest.mark.slow


def test_demo_posts_then_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path, speed=4.0).start()
    try:
        first = demo.wait_for("post from the bot", lambda s: posts(s))
        tree = demo.tree()
        assert len(tree) >= 5, f"expected the demo, Valkey and three roles, saw {sorted(tree)}"
        assert any(" post " in line for line in demo.lines), "the terminal shows no line for the post"
        code = demo.interrupt()
    except BaseException:
        demo.kill()
        raise
    channel, message = first[0]
    assert message["text"] or message["blocks"], f"an empty message in {channel}"
    assert code == 0, demo.output()
    assert [pid for pid in tree if running(pid)] == []
    assert list(demo.tmpdir.iterdir()) == [], "the demo left temporary files behind"
    assert "demo stopped" in demo.output(5)
