"""Port ranges as values: parse, print and merge them in exactly one place.

A port set is a sorted tuple of disjoint, non-adjacent ``PortRange`` values. ``merge`` is the only
function that builds one from arbitrary ranges, so every caller gets the same canonical form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

MAX_PORT = 65535
MAX_ICMP_TYPE = 255


@dataclass(frozen=True, order=True, slots=True)
class PortRange:
    """An inclusive range of ports (or, for ICMP, of ICMP types)."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not (0 <= self.lo <= self.hi <= MAX_PORT):
            raise ValueError(f"invalid port range {self.lo}-{self.hi}: need 0 <= lo <= hi <= {MAX_PORT}")

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(port, port)

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.lo <= port <= self.hi

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"


PortSet = tuple[PortRange, ...]
_BOUNDS = attrgetter("lo", "hi")  # a range's sort key: its order, without a Python-level comparison per pair


def merge(ranges: Iterable[PortRange]) -> PortSet:
    """Merge overlapping and adjacent ranges into the canonical sorted form.

    (10,20)+(15,30) -> (10,30)   overlapping
    (10,20)+(21,30) -> (10,30)   adjacent: start <= last_end + 1 (Capirca misses this case)
    (10,20)+(12,14) -> (10,20)   contained
    (10,20)+(22,30) -> (10,20),(22,30)   a gap of one port stays a gap
    """
    merged: list[PortRange] = []
    for r in sorted(ranges, key=_BOUNDS):  # duplicates end up merged, no set needed
        if merged and r.lo <= merged[-1].hi + 1:
            last = merged[-1]
            if r.hi > last.hi:
                merged[-1] = PortRange(last.lo, r.hi)
        else:
            merged.append(r)
    return tuple(merged)


def parse_ports(text: str) -> PortSet:
    """Parse the page's and our own notation: ``6443``, ``2379-2380``, ``80,443`` or ``80|443``."""
    ranges: list[PortRange] = []
    for part in text.replace("|", ",").split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty port in {text!r}")
        lo, sep, hi = part.partition("-")
        if not (lo.strip().isdigit() and (not sep or hi.strip().isdigit())):
            raise ValueError(f"{part!r} is not a port or a range like 30000-32767")
        ranges.append(PortRange(int(lo), int(hi) if sep else int(lo)))
    return merge(ranges)


def format_ports(ports: PortSet) -> str:
    """The stable text form used in plans and descriptions: ``2379-2380|10250``."""
    return "|".join(str(r) for r in ports)


def contains(ports: PortSet, port: int) -> bool:
    return any(port in r for r in ports)


def count_ports(ports: PortSet) -> int:
    return sum(r.size for r in ports)


def subtract(ports: PortSet, minus: PortSet) -> PortSet:
    """The ports of ``ports`` not in ``minus``: (10,30) - (15,20) -> (10,14),(21,30)."""
    out: list[PortRange] = []
    for r in ports:
        lo = r.lo
        for m in minus:
            if m.hi < lo or m.lo > r.hi:
                continue
            if m.lo > lo:
                out.append(PortRange(lo, m.lo - 1))
            lo = max(lo, m.hi + 1)
            if lo > r.hi:
                break
        if lo <= r.hi:
            out.append(PortRange(lo, r.hi))
    return merge(out)
