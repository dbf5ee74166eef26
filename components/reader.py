"""A small validating reader for untyped config values (stack YAML, component args).

Each accessor takes the value and its config key path, checks it, and records a ``Problem`` (key, what is
wrong, how to fix it) instead of raising, so one run reports every mistake at once. ``Reader.done`` raises
a single ``ConfigError`` listing them all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .addresses import AddressError, Network, canonical_networks, is_everywhere, parse_network
from .errors import ConfigError, Problem

__all__ = ["Network", "Reader", "canonical_networks", "is_deferred", "is_everywhere", "key_join"]


def is_deferred(value: Any) -> bool:
    """A pulumi Output (or another awaitable): a value known only once another resource exists.

    Duck-typed, so that the pure core never imports Pulumi."""
    return inspect.isawaitable(value) or (hasattr(value, "apply") and hasattr(value, "is_secret"))


def key_join(base: str, child: str | int) -> str:
    if isinstance(child, int):
        return f"{base}[{child}]"
    if not base or base.endswith(":"):
        return f"{base}{child}"
    return f"{base}.{child}"


class Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str, fix: str) -> None:
        self.problems.append(Problem(key, message, fix))

    def done(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def deferred(self, value: Any, key: str) -> bool:
        """True (and a problem recorded) when ``value`` is a pulumi Output where a plain value is needed."""
        if not is_deferred(value):
            return False
        self.problem(
            key,
            "is a pulumi Output, known only once another resource exists; eksa-firewall works out addresses, ports "
            "and names before anything is created",
            f"pass a plain value for {key} (a literal or a config value); values that only pass through to a resource "
            "(ids, credentials) accept Outputs: docs/reuse.md lists them",
        )
        return True

    def passthrough(self, value: Any, key: str, check: Callable[[str], bool], fix: str, *, required: bool = True) -> Any:
        """A value that only passes through to a resource: a pulumi Output as given, or a string ``check`` accepts."""
        if is_deferred(value):
            return value
        text = self.string(value, key, required=required)
        if text is not None and not check(text):
            self.problem(key, f"{text!r} is not valid here", fix)
            return None
        return text

    # --- shapes -------------------------------------------------------------------------------

    def mapping(self, value: Any, key: str, allowed: Sequence[str], *, required: bool = True) -> Mapping[str, Any]:
        """A mapping whose keys are all in ``allowed``; unknown keys get a did-you-mean hint."""
        if value is None:
            if required:
                self.problem(key, "is required", f"add {key} to the stack config (see docs/configuration.md)")
            return {}
        if self.deferred(value, key):
            return {}
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a mapping, got {type(value).__name__}", "write it as `key: value` lines")
            return {}
        self.unknown_keys(value, key_join(key, ""), allowed)
        return value

    def unknown_keys(self, value: Mapping[str, Any], prefix: str, allowed: Sequence[str]) -> None:
        """Report keys of a top-level mapping (stack config, component args) that nobody reads."""
        for k in value:
            if k not in allowed:
                close = _close_matches(str(k), allowed)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
                self.problem(f"{prefix}{k}", "is not a known key", f"remove it or correct the spelling ({hint})")

    def seq(self, value: Any, key: str, *, required: bool = False, non_empty: bool = False) -> Sequence[Any]:
        if value is None:
            if required:
                self.problem(key, "is required", f"add {key} as a list")
            return ()
        if self.deferred(value, key):
            return ()
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.problem(key, f"must be a list, got {type(value).__name__}", f"write {key} as a YAML list: [a, b]")
            return ()
        if non_empty and not value:
            self.problem(key, "must not be empty", f"list at least one entry under {key}")
        return value

    def string(self, value: Any, key: str, *, required: bool = True, default: str | None = None) -> str | None:
        if value is None:
            if required:
                self.problem(key, "is required", f"set {key}")
            return default
        if self.deferred(value, key):
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "must be a non-empty string", f"set {key} to a text value")
            return default
        return value.strip()

    def boolean(self, value: Any, key: str, default: bool) -> bool:
        if value is None or self.deferred(value, key):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problem(key, f"must be true or false, got {value!r}", f"set {key} to true or false")
        return default

    def port(self, value: Any, key: str, default: int) -> int:
        if value is None or self.deferred(value, key):
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and value.strip().isdigit()):
            number = int(value)  # hosted components pass numbers as floats; YAML may quote them
        if number is None or not 1 <= number <= 65535:
            self.problem(key, f"{value!r} is not a port between 1 and 65535", f"set {key} to a TCP port such as {default}")
            return default
        return number

    def choice(self, value: Any, key: str, choices: Sequence[str], default: str | None = None) -> str | None:
        text = self.string(value, key, required=default is None, default=default)
        if text is None:
            return None
        if text not in choices:
            close = _close_matches(text, choices)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.problem(key, f"{text!r} is not one of {', '.join(choices)}", f"set {key} to one of {', '.join(choices)}{hint}")
            return default
        return text

    # --- addresses ----------------------------------------------------------------------------

    def network(self, value: Any, key: str, *, single: bool = False) -> Network | None:
        """A CIDR or a single address (stored as /32 or /128), canonical (``addresses.parse_network``)."""
        if self.deferred(value, key):
            return None
        if not isinstance(value, str) or not value.strip():
            what = "an IP address" if single else "an IP address or CIDR"
            self.problem(key, f"{value!r} is not {what}", f"write {key} like 10.0.0.5" + ("" if single else " or 10.0.0.0/24"))
            return None
        try:
            return parse_network(value, single=single)
        except AddressError as exc:
            self.problem(key, exc.message, exc.fix)
            return None

    def address(self, value: Any, key: str, *, required: bool = True) -> Network | None:
        """A single host address, stored as /32 or /128."""
        if value is None:
            if required:
                self.problem(key, "is required", f"set {key} to an IP address such as 10.0.0.5")
            return None
        return self.network(value, key, single=True)

    def networks(self, value: Any, key: str, *, required: bool = False) -> tuple[Network, ...]:
        """A list of CIDRs, canonical and sorted; problems name each entry by its index as written."""
        items = self.seq(value, key, required=required, non_empty=required)
        seen: dict[Network, int] = {}
        for i, item in enumerate(items):
            net = self.network(item, key_join(key, i))
            if net is None:
                continue
            if net in seen:
                self.problem(
                    key_join(key, i), f"{net} is listed twice (also at {key_join(key, seen[net])})", f"remove the duplicate from {key}"
                )
                continue
            seen[net] = i
        return canonical_networks(seen)

    def written_index(self, value: Any, net: Network) -> int | None:
        """The index at which ``net`` was written in the list ``value`` (for messages about a parsed list)."""
        for i, item in enumerate(value if isinstance(value, list) else ()):
            try:
                if isinstance(item, str) and parse_network(item) == net:
                    return i
            except AddressError:
                continue
        return None


def _close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The known word closest to a misspelt one, for "did you mean" (difflib is imported only on errors)."""
    import difflib

    return difflib.get_close_matches(word, list(choices), n=1)
