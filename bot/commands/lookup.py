"""Element arguments: a symbol, English or Chinese name, case-insensitive, with "did you mean" for
near misses (`dysprosim` -> Dysprosium). Raises UsageError with the suggestion."""

from __future__ import annotations

import difflib
from functools import cache

from core import elements
from core.errors import UsageError


@cache
def _spellings() -> dict[str, str]:
    """Every accepted spelling (case-folded) -> symbol; aliases too when the catalogue has them."""
    out: dict[str, str] = {}
    for el in elements.catalogue().values():
        names = [el.symbol, el.name_en, el.name_zh, *el.aliases, *el.aliases_zh]
        for name in names:
            out[str(name).casefold()] = el.symbol
    return out


def element(name: str) -> str:
    """The symbol for `name`, or UsageError naming the closest elements."""
    symbol = elements.resolve(name)
    if symbol is not None:
        return symbol
    suggestions = suggest(name)
    if suggestions:
        names = " or ".join(f"`{_label(s)}`" for s in suggestions)
        raise UsageError(f"I don't know the element `{name}`. Did you mean {names}?")
    raise UsageError(f"I don't know the element `{name}`: use a symbol (`Dy`), English (`dysprosium`) "
                     "or Chinese name (`镝`).")


def maybe_element(name: str) -> str | None:
    """The symbol when `name` is an element, else None (for arguments that may be a keyword too)."""
    return elements.resolve(name)


def suggest(name: str, n: int = 2) -> list[str]:
    """Up to `n` symbols whose spellings are close to `name`, best first."""
    spellings = _spellings()
    matches = difflib.get_close_matches(name.strip().casefold(), list(spellings), n=n * 3, cutoff=0.7)
    out: list[str] = []
    for match in matches:
        if spellings[match] not in out:
            out.append(spellings[match])
    return out[:n]


def _label(symbol: str) -> str:
    el = elements.catalogue()[symbol]
    return f"{el.name_en.lower()}" if el.name_en else symbol
