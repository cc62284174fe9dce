"""The element catalogue: load once, look up by symbol, English or Chinese name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True, slots=True)
class Element:
    symbol: str
    z: int
    name_en: str
    name_zh: str
    group: str


@cache
def catalogue() -> dict[str, Element]:
    """Symbol -> Element, in catalogue order."""
    raw = yaml.safe_load(resources.files(__package__).joinpath("catalogue.yaml").read_text("utf-8"))
    return {e["symbol"]: Element(**{k: e[k] for k in Element.__slots__}) for e in raw["elements"]}


@cache
def _names() -> dict[str, str]:
    index: dict[str, str] = {}
    for el in catalogue().values():
        for name in (el.symbol, el.name_en, el.name_zh):
            index[name.casefold()] = el.symbol
    return index


def resolve(name: str) -> str | None:
    """The symbol for a symbol, English or Chinese name (case-insensitive), else None."""
    return _names().get(name.strip().casefold())
