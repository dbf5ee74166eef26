"""Addresses as values: the one definition of "inside", and the canonical order of a list of networks.

``Network`` is an ``ipaddress`` network: a single machine is a /32 or /128. Every address from config or
from the hardware CSV is parsed into one of these at the edge (``reader.py``), so only canonical text
(``str(network)``) ever reaches a rendered artefact.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def within(inner: Network, outer: Network) -> bool:
    """``inner`` lies inside ``outer`` (same family; a network is within itself)."""
    if inner.version != outer.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type] - same family, checked above


def canonical_networks(nets: Iterable[Network]) -> tuple[Network, ...]:
    """Sorted and deduplicated (IPv4 first), so that the order a user wrote never matters."""
    return tuple(sorted(set(nets), key=lambda n: (n.version, n.network_address, n.prefixlen)))


def is_everywhere(net: Network) -> bool:
    return net.prefixlen == 0
