"""The element catalogue: load once, validate, look up by symbol, English or Chinese name or alias."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from core.errors import ConfigError

Strength = Literal["strong", "weak", "never"]
GROUPS = ("rare_earth", "critical_mineral")
CLASSES_CN = ("light", "heavy", "unassigned", "n/a")


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline supply figure with where it comes from."""

    metric: str
    value: str
    source: str
    year: int


@dataclass(frozen=True, slots=True)
class Element:
    """One catalogue entry. `group` is rare_earth or critical_mineral; `class_cn` China's light/heavy split."""

    symbol: str
    z: int
    name_en: str
    name_zh: str
    group: str
    class_cn: str = "n/a"
    mofcom_listed: str | None = None
    symbol_strength: Strength = "weak"
    aliases: tuple[str, ...] = ()
    compounds: tuple[str, ...] = ()
    aliases_zh: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    supply: tuple[Figure, ...] = field(default=())

    @property
    def is_rare_earth(self) -> bool:
        return self.group == "rare_earth"

    @property
    def mofcom_medium_heavy(self) -> bool:
        """Whether MOFCOM lists this rare earth as a controlled "medium/heavy" (中重稀土) element."""
        return self.is_rare_earth and self.mofcom_listed is not None


@cache
def _raw() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("catalogue.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError("core/elements/catalogue.yaml: expected a mapping")
    return data


def _figures(raw: Any, where: str) -> tuple[Figure, ...]:
    out = []
    for f in raw or ():
        try:
            out.append(Figure(metric=str(f["metric"]), value=str(f["value"]), source=str(f["source"]),
                              year=int(f["year"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"core/elements/catalogue.yaml: {where}: bad supply figure {f!r}") from exc
    return tuple(out)


def _element(raw: dict[str, Any]) -> Element:
    where = str(raw.get("symbol", "?"))
    try:
        el = Element(
            symbol=str(raw["symbol"]), z=int(raw["z"]), name_en=str(raw["name_en"]),
            name_zh=str(raw["name_zh"]), group=str(raw["group"]),
            class_cn=str(raw.get("class_cn", "n/a")),
            mofcom_listed=raw.get("mofcom_listed"),
            symbol_strength=raw.get("symbol_strength", "weak"),
            aliases=tuple(str(a) for a in raw.get("aliases") or ()),
            compounds=tuple(str(a) for a in raw.get("compounds") or ()),
            aliases_zh=tuple(str(a) for a in raw.get("aliases_zh") or ()),
            uses=tuple(str(u) for u in raw.get("uses") or ()),
            supply=_figures(raw.get("supply"), where),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"core/elements/catalogue.yaml: element {where}: {exc}") from exc
    if el.group not in GROUPS:
        raise ConfigError(f"core/elements/catalogue.yaml: {where}: group must be one of {GROUPS}")
    if el.class_cn not in CLASSES_CN:
        raise ConfigError(f"core/elements/catalogue.yaml: {where}: class_cn must be one of {CLASSES_CN}")
    if el.symbol_strength not in ("strong", "weak", "never"):
        raise ConfigError(f"core/elements/catalogue.yaml: {where}: symbol_strength must be strong|weak|never")
    return el


@cache
def catalogue() -> dict[str, Element]:
    """Symbol -> Element, in catalogue order. Raises ConfigError on a malformed data file."""
    out: dict[str, Element] = {}
    for raw in _raw().get("elements") or ():
        el = _element(raw)
        if el.symbol in out:
            raise ConfigError(f"core/elements/catalogue.yaml: duplicate symbol {el.symbol}")
        out[el.symbol] = el
    return out


@cache
def group_supply(group: str) -> tuple[Figure, ...]:
    """Figures that describe a whole group (e.g. rare-earth mine production), shown on every member's card."""
    return _figures((_raw().get("group_supply") or {}).get(group), f"group_supply.{group}")


@cache
def _names() -> dict[str, str]:
    index: dict[str, str] = {}
    for el in catalogue().values():
        for name in (el.symbol, el.name_en, el.name_zh):
            index[name.casefold()] = el.symbol
    # Aliases that name exactly one element (NdPr names two, so it resolves to nothing).
    counts: dict[str, set[str]] = {}
    for el in catalogue().values():
        for alias in (*el.aliases, *el.compounds, *el.aliases_zh):
            counts.setdefault(alias.casefold(), set()).add(el.symbol)
    for alias, symbols in counts.items():
        if len(symbols) == 1 and alias not in index:
            index[alias] = next(iter(symbols))
    return index


def resolve(name: str) -> str | None:
    """The symbol for a symbol, English or Chinese name or unambiguous alias (case-insensitive), else None."""
    return _names().get(name.strip().casefold())


def get(symbol: str) -> Element | None:
    """The Element for an exact symbol, else None."""
    return catalogue().get(symbol)
