"""How every refusal quotes what it was given, and points at what was probably meant."""

import difflib
from collections.abc import Iterable
from typing import Any

MAX_QUOTE = 80
"""Characters of a given value a message may quote (an alias bomb must not echo)."""


def quote(value: Any, limit: int = MAX_QUOTE) -> str:
    """`repr(value)`, cut to about `limit` characters with the full length noted."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def closest(given: str, choices: Iterable[str]) -> str | None:
    """The choice a typo was probably meant to be (case-insensitive), or None."""
    options = {str(c).lower(): str(c) for c in choices}
    match = difflib.get_close_matches(str(given).lower(), list(options), n=1, cutoff=0.6)
    return options[match[0]] if match else None


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a near miss, else the empty string."""
    match = closest(given, choices)
    return f" (did you mean {match!r}?)" if match is not None and match != given else ""
