"""Addresses as values: the one definition of "inside", and the canonical order of a list of networks.

``Network`` is an ``ipaddress`` network: a single machine is a /32 or /128. Every address from config or
from the hardware CSV is parsed into one of these at the edge (``reader.py``), so only canonical text
(``str(network)``) ever reaches a rendered artefact.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def within(inner: Network, outer: Network) -> bool:
    """``inner`` lies inside ``outer`` (same family; a network is within itself)."""
    if inner.version != outer.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type] - same family, checked above


def span(net: Network) -> tuple[int, int]:
    """The first and the last address of ``net`` as integers. (``net.broadcast_address`` gives the last too, but
    caches two new address objects on every network it is asked of: thousands in a large stack.)"""
    first = int(net.network_address)
    return first, first | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)


def canonical_networks(nets: Iterable[Network]) -> tuple[Network, ...]:
    """Sorted and deduplicated (IPv4 first), so that the order a user wrote never matters."""
    return tuple(sorted(set(nets), key=lambda n: (n.version, n.network_address, n.prefixlen)))


def is_everywhere(net: Network) -> bool:
    return net.prefixlen == 0


class AddressError(ValueError):
    """Text that is not a plain address or CIDR: ``message`` says why, ``fix`` what to write instead."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def parse_network(text: str, *, single: bool = False) -> Network:
    """A CIDR, or a single address (stored as /32 or /128), parsed strictly into its canonical value.

    What ``ipaddress`` would accept but a firewall rule must never carry is refused: an IPv6 zone id
    (``fe80::1%eth0``: ``ipaddress`` keeps any text after ``%``, newlines included, and prints it back), and
    whitespace or control characters anywhere; a single address (/32, /128) that no machine can hold (unspecified,
    limited broadcast, multicast, loopback). ``str()`` of the value returned is canonical text, whatever form the
    input had: ``ipaddress`` keeps an address as an integer and a prefix length, and of the text only the zone id,
    refused here (tests/test_addresses.py checks the forms). Only that text ever reaches a rendered rule.
    """
    stripped = text.strip()
    if "%" in stripped:
        address = stripped.split("%", 1)[0]
        raise AddressError(
            f"{text!r} has an IPv6 zone id (%...): firewall rules match addresses, not interfaces",
            f"write the address without its zone, such as {address!r}" if address else "write a plain IP address",
        )
    # Every whitespace character but the space is unprintable (a Unicode separator or control character).
    if not stripped or not stripped.isprintable() or " " in stripped:
        raise AddressError(f"{text!r} is not an IP address or CIDR", "write one address or CIDR per entry, such as 10.0.0.0/24")
    kind = "an IP address" if single else "an IP address or CIDR"
    try:
        parsed = ipaddress.ip_network(stripped, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(stripped, strict=False)
        except ValueError:
            raise AddressError(
                f"{text!r} is not {kind}", f"write {kind}, such as 10.0.0.5" + ("" if single else " or 10.0.0.0/24")
            ) from None
        host = stripped.split("/")[0]
        raise AddressError(
            f"{text!r} has host bits set", f"use {loose} for the whole subnet, or {host}/{loose.max_prefixlen} for the single host"
        ) from None
    if single and parsed.prefixlen != parsed.max_prefixlen:
        raise AddressError(f"{text!r} is a range, not one address", "give a single IP address")
    if parsed.prefixlen == parsed.max_prefixlen:
        kind = _not_a_machine(parsed.network_address)
        if kind is not None:
            raise AddressError(f"{text!r} is {kind}, not the address of a machine", "give the machine's own unicast address")
    return parsed


def _not_a_machine(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What a single address is when no machine can hold it: a rule naming it would mean something else (nft and
    the interpreters read 255.255.255.255 as the limited broadcast, 0.0.0.0 as "no address yet")."""
    if address.is_unspecified:
        return "the unspecified address"
    if address == LIMITED_BROADCAST:
        return "the limited broadcast address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address (the machine itself)"
    return None
