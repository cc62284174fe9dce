"""Block Kit validation: slack_sdk's models plus the limits the SDK does not check.

`validate_message(text, blocks)` returns a list of problems (empty means Slack would accept it). The
builders' tests, the Slack stand-in and `reewatch preview` all use it, so a message that passes here
is one the real API takes. Limits: docs.slack.dev Block Kit reference, summarized in
shared/reference/slack-platform.md section 4.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
MAX_TEXT = 40_000  # Slack truncates top-level text beyond this
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BLOCK_ID = 255
MAX_URL = 3000
MAX_TEXT_OBJECT = 3000
MAX_MARKDOWN_BLOCK = 12_000


def validate_message(text: str | None, blocks: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Problems that would make Slack reject or mangle this message; empty list when it is fine."""
    problems: list[str] = []
    if not text or not text.strip():
        problems.append("text: a plain-text fallback is required (notifications, screen readers)")
    elif len(text) > MAX_TEXT:
        problems.append(f"text: {len(text)} characters exceeds {MAX_TEXT}")
    problems += validate_blocks(blocks or [], limit=MAX_BLOCKS_MESSAGE)
    return problems


def validate_view(view: Mapping[str, Any]) -> list[str]:
    """Problems in a Home tab or modal view (up to 100 blocks)."""
    problems: list[str] = []
    if view.get("type") not in ("home", "modal"):
        problems.append(f"view.type: {view.get('type')!r} is not home or modal")
    problems += validate_blocks(view.get("blocks") or [], limit=MAX_BLOCKS_VIEW)
    return problems


def validate_blocks(blocks: Sequence[Mapping[str, Any]], *, limit: int) -> list[str]:
    """Problems in a list of blocks given as dicts (what goes over the wire)."""
    problems: list[str] = []
    if not isinstance(blocks, Sequence) or isinstance(blocks, str | bytes):
        return ["blocks: must be a list"]
    if len(blocks) > limit:
        problems.append(f"blocks: {len(blocks)} blocks exceeds {limit}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, Mapping):
            problems.append(f"{where}: not an object")
            continue
        problems += [f"{where}: {p}" for p in _sdk_problems(block)]
        problems += [f"{where}: {p}" for p in _extra_problems(block)]
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(f"{where}.block_id: {block_id!r} is used twice")
            block_ids.add(block_id)
    return problems


def _sdk_problems(block: Mapping[str, Any]) -> list[str]:
    try:
        parsed = Block.parse(dict(block))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"malformed {block.get('type')!r} block: {exc}"]
    if parsed is None:
        return [f"unknown block type {block.get('type')!r}"]
    try:
        parsed.to_dict()  # runs the SDK's JsonValidators, nested objects included
    except SlackObjectFormationError as exc:
        return [str(exc)]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [f"malformed {block.get('type')!r} block: {exc}"]
    return []


def _extra_problems(block: Mapping[str, Any]) -> list[str]:
    """Limits Slack enforces that slack_sdk's validators skip."""
    problems: list[str] = []
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or not 0 < len(block_id) <= MAX_BLOCK_ID):
        problems.append(f"block_id must be 1..{MAX_BLOCK_ID} characters")
    if kind == "section":
        if not block.get("text") and not block.get("fields"):
            problems.append("section needs text or fields")
        for j, fld in enumerate(block.get("fields") or []):
            if isinstance(fld, Mapping) and len(str(fld.get("text", ""))) > MAX_FIELD_TEXT:
                problems.append(f"fields[{j}]: text exceeds {MAX_FIELD_TEXT} characters")
    if kind == "header":
        text = block.get("text")
        if not isinstance(text, Mapping) or text.get("type") != "plain_text":
            problems.append("header text must be a plain_text object")
    if kind == "context" and not block.get("elements"):
        problems.append("context needs at least one element")
    if kind == "actions" and not block.get("elements"):
        problems.append("actions needs at least one element")
    for path, obj in _walk(block):
        problems += [f"{path}: {p}" for p in _object_problems(obj)]
    return problems


def _object_problems(obj: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    kind = obj.get("type")
    if kind in ("plain_text", "mrkdwn"):
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{kind} text must be a non-empty string")
        elif len(text) > MAX_TEXT_OBJECT:
            problems.append(f"{kind} text exceeds {MAX_TEXT_OBJECT} characters")
    if kind == "button":
        label = obj.get("text")
        if not isinstance(label, Mapping) or label.get("type") != "plain_text":
            problems.append("button text must be plain_text")
        url = obj.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))
                                or len(url) > MAX_URL):
            problems.append("button url must be an http(s) URL of at most 3000 characters")
    return problems


def _walk(obj: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every nested object below a block (not the block itself), with its path."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(value, Mapping):
                yield sub, value
                yield from _walk(value, sub)
            elif isinstance(value, list):
                for k, item in enumerate(value):
                    if isinstance(item, Mapping):
                        yield f"{sub}[{k}]", item
                        yield from _walk(item, f"{sub}[{k}]")
