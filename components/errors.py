"""The small error hierarchy users see. Every error names what to fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class EksaFirewallError(Exception):
    """Base class of every error this project raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in the user's configuration: where it is, what is wrong, how to fix it."""

    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return one_line(f"{self.key}: {self.message}. Fix: {self.fix}")


def one_line(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x00``, ``\\u2028``): a key or a
    value the user wrote may hold line breaks, and one problem must read as one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(EksaFirewallError):
    """The stack configuration (or component args) cannot describe a valid environment.

    Raised before any resource is registered. ``problems`` lists every problem found, each with
    the config key it concerns and the fix.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = [str(p) for p in self.problems]
        head = "invalid configuration" if len(lines) == 1 else f"invalid configuration ({len(lines)} problems)"
        super().__init__(head + ":\n  - " + "\n  - ".join(lines))

    @classmethod
    def one(cls, key: str, message: str, fix: str) -> ConfigError:
        return cls([Problem(key, message, fix)])


class CatalogError(EksaFirewallError):
    """The ports catalog data is inconsistent (a bug in this project, not in the user's config)."""


class QuotaError(ConfigError):
    """The environment needs more objects or rules than the platform allows."""
