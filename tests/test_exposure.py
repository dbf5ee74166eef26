"""components/exposure.py: a peer's ranges count as "anywhere" on their union, per address family."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.exposure import ANYWHERE_SHARE, FAMILY_SIZE, anywhere_families, covered, is_anywhere


def nets(*texts: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(t) for t in texts]


@pytest.mark.parametrize(
    ("ranges", "families"),
    [
        (("0.0.0.0/0",), (4,)),
        (("::/0",), (6,)),
        (("0.0.0.0/0", "::/0"), (4, 6)),
        (("0.0.0.0/1", "128.0.0.0/1"), (4,)),  # the Internet in two halves
        (("0.0.0.0/1",), (4,)),  # half of it is more than a sixteenth
        (tuple(f"{i}.0.0.0/8" for i in range(1, 18)), (4,)),  # 17 /8s: just over a sixteenth
        (tuple(f"{i}.0.0.0/8" for i in range(1, 17)), ()),  # 16 /8s: exactly a sixteenth is not more
        (("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"), ()),  # every private range
        (("2000::/3",), (6,)),  # today's global IPv6 unicast
        (("fd00::/8", "fe80::/10"), ()),
        (("0.0.0.0/5", "0.0.0.0/5"), ()),  # a duplicate counts once: 1/32
        (("0.0.0.0/5", "8.0.0.0/5", "16.0.0.0/5"), (4,)),  # three /5s together: 3/32
        ((), ()),
    ],
)
def test_anywhere_families(ranges: tuple[str, ...], families: tuple[int, ...]) -> None:
    assert anywhere_families(nets(*ranges)) == families
    assert is_anywhere(nets(*ranges)) is bool(families)


def test_the_share_is_documented_as_a_sixteenth() -> None:
    assert ANYWHERE_SHARE * FAMILY_SIZE[4] == 2**28


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=12))
def test_the_union_is_what_is_judged(parts: list[tuple[int, int]]) -> None:
    ranges = [ipaddress.ip_network((address, prefix), strict=False) for address, prefix in parts]
    total = covered(ranges, 4)
    # The union never exceeds the sum of the parts, nor the family; splitting a range changes nothing.
    assert total <= min(sum(r.num_addresses for r in ranges), 2**32)
    split = [s for r in ranges for s in (r.subnets(1) if r.prefixlen < 32 else [r])]
    assert covered(split, 4) == total
    assert (4 in anywhere_families(ranges)) == (total * 16 > 2**32)
