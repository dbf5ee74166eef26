from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.ports import PortRange, contains, format_ports, merge, parse_ports, subtract

ranges = st.builds(lambda a, b: PortRange(min(a, b), max(a, b)), st.integers(0, 300), st.integers(0, 300))


def covered(ports: tuple[PortRange, ...]) -> set[int]:
    return {p for r in ports for p in range(r.lo, r.hi + 1)}


@pytest.mark.parametrize(
    ("given_ranges", "expected"),
    [
        ([(10, 20), (15, 30)], [(10, 30)]),  # overlapping
        ([(10, 20), (21, 30)], [(10, 30)]),  # adjacent: the case Capirca misses
        ([(10, 20), (12, 14)], [(10, 20)]),  # contained
        ([(10, 20), (22, 30)], [(10, 20), (22, 30)]),  # a one-port gap stays
        ([(2380, 2380), (2379, 2379)], [(2379, 2380)]),
        ([], []),
    ],
)
def test_merge_examples(given_ranges, expected) -> None:
    assert merge(PortRange(a, b) for a, b in given_ranges) == tuple(PortRange(a, b) for a, b in expected)


@given(st.lists(ranges, max_size=12))
def test_merge_is_canonical(rs: list[PortRange]) -> None:
    merged = merge(rs)
    assert covered(merged) == covered(tuple(rs))  # same ports
    assert merge(merged) == merged  # idempotent
    assert merge(reversed(rs)) == merged  # order-independent
    for a, b in itertools.pairwise(merged):
        assert a.hi + 1 < b.lo  # disjoint and not adjacent


@given(st.lists(ranges, max_size=8), st.lists(ranges, max_size=8))
def test_subtract(a: list[PortRange], b: list[PortRange]) -> None:
    assert covered(subtract(merge(a), merge(b))) == covered(tuple(a)) - covered(tuple(b))


def test_parse_and_format() -> None:
    assert parse_ports("80,443") == (PortRange(80, 80), PortRange(443, 443))
    assert format_ports(parse_ports("2379-2380|10250|2381")) == "2379-2381|10250"
    assert contains(parse_ports("30000-32767"), 30080)
    for bad in ("", "80-", "http", "70000", "20-10"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is checked elsewhere
            parse_ports(bad)
