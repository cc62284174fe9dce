"""Summaries: extractive by default; the optional LLM one against a local chat-completions stand-in."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from core.settings import Settings
from core.summarize import MAX_CHARS, Summary, extractive, split_sentences, summarize

TEXT = ("Markets were calm on Monday. China said on Tuesday it will suspend exports of dysprosium and "
        "terbium from Dec. 1, according to a U.S. Commerce Dept. statement. The weather was nice.")


@pytest.mark.parametrize(("text", "expected"), [
    ("The U.S. Dept. said so. Then Mr. Li left! OK?", ["The U.S. Dept. said so.", "Then Mr. Li left!", "OK?"]),
    ("商务部发布公告。对镝实施出口管制！自12月1日起执行；详见附件", ["商务部发布公告。", "对镝实施出口管制！",
                                                "自12月1日起执行；", "详见附件"]),
    ('He said "Stop." Then it went.', ['He said "Stop."', "Then it went."]),
])
def test_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_extractive_prefers_element_and_action() -> None:
    summary = extractive("China curbs exports", TEXT, "en")
    assert summary.text.startswith("China said on Tuesday it will suspend exports of dysprosium")
    assert summary.original == ""


def test_chinese_source_keeps_original_key_sentence() -> None:
    zh = extractive("商务部公告", "商务部今天发布公告。对镝、铽等中重稀土实施出口管制，自12月1日起执行。天气晴朗。",
                    "zh")
    assert zh.original == "对镝、铽等中重稀土实施出口管制，自12月1日起执行。"
    mixed = extractive("China controls Dy exports", "China will control dysprosium exports from December. "
                       "对镝实施出口管制。", "zh")
    assert mixed == Summary("China will control dysprosium exports from December.", "对镝实施出口管制。")


def test_limits_and_empty_text() -> None:
    assert extractive("Only a title", "", "en").text == "Only a title"
    long = extractive("t", "Dysprosium exports " + "very " * 400 + "halted.", "en")
    assert len(long.text) <= MAX_CHARS


class LLM:
    """A local OpenAI-compatible chat-completions endpoint (real HTTP on loopback)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, object]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                status, payload = stand_in.answer()
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self) -> tuple[int, dict[str, object]]:
        if self.mode == "error":
            return 500, {"error": "boom"}
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "garbage":
            return 200, {"choices": []}
        return 200, {"choices": [{"message": {"role": "assistant", "content": "China halts Dy exports.\n"}}]}


@pytest.fixture
def llm() -> Iterator[LLM]:
    stand_in = LLM()
    yield stand_in
    stand_in.httpd.shutdown()
    stand_in.httpd.server_close()


def test_llm_summary_and_fallbacks(settings: Settings, llm: LLM) -> None:
    s = settings.model_copy(update={"summarizer_url": llm.url, "summarizer_timeout": 0.3,
                                    "summarizer_api_key": SecretStr("sk-test")})
    assert summarize(s, "t", TEXT, "en") == Summary("China halts Dy exports.")
    [request] = llm.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["model"] == s.summarizer_model
    fallback = extractive("t", TEXT, "en")
    for mode in ("error", "slow", "garbage"):
        llm.mode = mode
        assert summarize(s, "t", TEXT, "en") == fallback, mode
    assert summarize(settings, "t", TEXT, "en") == fallback  # off by default: no request
    assert len(llm.requests) == 4
