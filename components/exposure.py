"""When does a peer's set of address ranges count as "anywhere"?

Judged on the union of the ranges, per address family, never on one prefix at a time: ``0.0.0.0/1`` and
``128.0.0.0/1`` together are the whole IPv4 Internet although neither is ``0.0.0.0/0``.

A union counts as anywhere for a family when it covers the whole family, or more than ``ANYWHERE_SHARE`` of
it: one sixteenth, i.e. more than 2**28 IPv4 addresses (a /4) or more than a /4 of IPv6. Every private range
together (10/8, 172.16/12, 192.168/16, 100.64/10: about 1/200 of IPv4) stays far below it, while ``2000::/3``
(all of today's global IPv6 unicast) and any "the Internet minus a few ranges" list stay above it.

Pure: the diff's exposure warnings use it, and so can topology validation (sensitive ports, SSH).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from fractions import Fraction

from .addresses import Network

ANYWHERE_SHARE = Fraction(1, 16)
FAMILY_SIZE = {4: 2**32, 6: 2**128}
# Addresses: more than this is anywhere. Whole numbers (the sizes are powers of two), compared as integers.
_LIMIT = {v: size * ANYWHERE_SHARE.numerator // ANYWHERE_SHARE.denominator for v, size in FAMILY_SIZE.items()}


def covered(networks: Iterable[Network], version: int) -> int:
    """How many addresses of IP ``version`` the union of ``networks`` holds (overlaps counted once)."""
    same = [n for n in networks if n.version == version]
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(same))  # type: ignore[arg-type]


def anywhere_families(networks: Iterable[Network]) -> tuple[int, ...]:
    """The IP versions (4, 6) for which the union of ``networks`` counts as anywhere (see the module docstring)."""
    nets = list(networks)
    return tuple(v for v in (4, 6) if _over_share(nets, v))


def _over_share(networks: list[Network], version: int) -> bool:
    limit = _LIMIT[version]
    # A union holds at most the sum of its parts: when that sum is within the share, there is nothing to merge.
    if sum(2 ** (n.max_prefixlen - n.prefixlen) for n in networks if n.version == version) <= limit:
        return False
    return covered(networks, version) > limit


def is_anywhere(networks: Iterable[Network]) -> bool:
    return bool(anywhere_families(networks))


def exposure_share() -> str:
    """The threshold in words, for messages: "1/16"."""
    return f"{ANYWHERE_SHARE.numerator}/{ANYWHERE_SHARE.denominator}"
