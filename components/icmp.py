"""ICMP in both address families, in one place.

A flow names ICMP types once, as ICMPv4 types (the catalog's "ICMP echo" is type 8). On IPv6 the same
message has another number (RFC 4443): every planner that writes an IPv6 rule, and every interpreter that
reads one back, translates through this table. A type with no counterpart here is refused both ways
(``UnknownIcmpTypeError``), never passed through or dropped: a rule for the wrong message would open or close
something nobody asked for.
"""

from __future__ import annotations

from .errors import EksaFirewallError

# ICMPv4 type (RFC 792) -> ICMPv6 type of the same message (RFC 4443).
ICMPV6_OF_ICMPV4 = {0: 129, 3: 1, 8: 128, 11: 3, 12: 4}
ICMPV4_OF_ICMPV6 = {v6: v4 for v4, v6 in ICMPV6_OF_ICMPV4.items()}
# The names nftables and humans use.
NAMES_V4 = {0: "echo-reply", 3: "destination-unreachable", 8: "echo-request", 11: "time-exceeded", 12: "parameter-problem"}
NAMES_V6 = {129: "echo-reply", 1: "destination-unreachable", 128: "echo-request", 3: "time-exceeded", 4: "parameter-problem"}
# Echo request and reply have code 0 only; for the others a rule allows every code.
ECHO_TYPES = (0, 8)


class UnknownIcmpTypeError(EksaFirewallError):
    """An ICMP type this project cannot carry across address families."""


def icmpv6_type(icmpv4_type: int) -> int:
    """The ICMPv6 type of the message ICMPv4 calls ``icmpv4_type`` (8 -> 128)."""
    try:
        return ICMPV6_OF_ICMPV4[icmpv4_type]
    except KeyError:
        raise UnknownIcmpTypeError(f"ICMP type {icmpv4_type} has no ICMPv6 counterpart known to eksa-firewall") from None


def icmpv4_type(icmpv6_type_: int) -> int:
    """The ICMPv4 type of the message ICMPv6 calls ``icmpv6_type_`` (128 -> 8): how flows name it."""
    try:
        return ICMPV4_OF_ICMPV6[icmpv6_type_]
    except KeyError:
        raise UnknownIcmpTypeError(f"ICMPv6 type {icmpv6_type_} is not a message any flow names (no ICMPv4 counterpart)") from None
