"""verify.compare: missing and excess accesses, port by port, with network containment."""

from __future__ import annotations

import ipaddress

from components.flows import Access
from components.ports import PortRange
from components.verify import compare

N = ipaddress.ip_network


def acc(src: str, dst: str, lo: int, hi: int | None = None, proto: str = "tcp") -> Access:
    return Access(N(src), N(dst), proto, PortRange(lo, hi or lo))  # type: ignore[arg-type]


def test_equal_sets_are_ok_however_ports_are_split() -> None:
    required = [acc("10.0.0.0/24", "10.1.0.0/24", 2379, 2380)]
    allowed = [acc("10.0.0.0/24", "10.1.0.0/24", 2379), acc("10.0.0.0/24", "10.1.0.0/24", 2380)]
    assert compare("x", required, allowed).ok


def test_missing_and_excess_ports() -> None:
    report = compare("x", [acc("10.0.0.0/24", "10.1.0.0/24", 6443)], [acc("10.0.0.0/24", "10.1.0.0/24", 6443, 6444)])
    assert report.missing == ()
    assert report.excess == (acc("10.0.0.0/24", "10.1.0.0/24", 6444),)
    report = compare("x", [acc("10.0.0.0/24", "10.1.0.0/24", 22)], [acc("10.0.0.0/24", "10.1.0.0/24", 22, proto="udp")])
    assert report.missing == (acc("10.0.0.0/24", "10.1.0.0/24", 22),)
    assert len(report.excess) == 1 and not report.ok


def test_a_wider_rule_covers_what_is_required_and_is_excess_itself() -> None:
    report = compare("x", [acc("10.0.0.0/24", "10.1.0.0/24", 22)], [acc("0.0.0.0/0", "10.1.0.0/24", 22)])
    assert report.missing == ()
    assert report.excess == (acc("0.0.0.0/0", "10.1.0.0/24", 22),)


def test_address_families_never_cover_each_other() -> None:
    report = compare("x", [acc("fd00::/64", "fd01::/64", 22)], [acc("0.0.0.0/0", "0.0.0.0/0", 22)])
    assert report.missing == (acc("fd00::/64", "fd01::/64", 22),)
