"""The interpreter on hand-made NSX objects: first match wins, directions, services, addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.errors import EksaFirewallError
from components.flows import Access
from components.ports import PortRange
from components.vsphere.interpret import Matcher, group_networks, policy_accesses, service_matchers, subtract_access

N = ipaddress.ip_network
G = "/infra/domains/default/groups/"
S = "/infra/services/"
GROUPS = {G + "clients": (N("10.1.0.0/16"),), G + "nodes": (N("10.2.0.0/24"),), G + "admin": (N("10.1.2.3/32"),)}
SERVICES: dict[str, tuple[Matcher, ...]] = {S + "ssh": (("tcp", None, PortRange(22, 22)),), S + "web": (("tcp", None, PortRange(80, 443)),)}


def rule(rid: str, seq: int, src: str, dst: str, svc: str, action: str = "ALLOW", **extra: Any) -> dict[str, Any]:
    return {
        "id": rid, "sequence_number": seq, "source_groups": [src], "destination_groups": [dst], "services": [svc],
        "action": action, "direction": "IN", **extra,
    }  # fmt: skip


def accesses(*rules: dict[str, Any]) -> set[Access]:
    return policy_accesses({"rules": list(rules)}, GROUPS, SERVICES)


def test_first_match_wins_inside_a_policy() -> None:
    got = accesses(
        rule("allow-ssh", 20, G + "clients", G + "nodes", S + "ssh"),
        rule("drop-admin", 10, G + "admin", G + "nodes", "ANY", action="DROP"),
    )
    sources = {a.source for a in got}
    assert N("10.1.2.3/32") not in sources  # dropped first
    assert all(not a.source.overlaps(N("10.1.2.3/32")) for a in got)
    total = sum(a.source.num_addresses for a in got)
    assert total == 2**16 - 1  # the /16 minus the one dropped address


def test_an_allow_before_the_drop_wins() -> None:
    got = accesses(
        rule("allow-ssh", 10, G + "admin", G + "nodes", S + "ssh"),
        rule("drop-all", 1000, "ANY", G + "nodes", "ANY", action="DROP"),
    )
    assert got == {Access(N("10.1.2.3/32"), N("10.2.0.0/24"), "tcp", PortRange(22, 22))}


def test_disabled_and_outbound_rules_let_nothing_in() -> None:
    assert not accesses(rule("off", 1, G + "admin", G + "nodes", S + "ssh", disabled=True))
    assert not accesses(rule("out", 1, G + "admin", G + "nodes", S + "ssh", direction="OUT"))
    assert accesses(rule("both", 1, G + "admin", G + "nodes", S + "ssh", direction="IN_OUT"))


def test_ip_protocol_and_raw_addresses() -> None:
    assert not accesses(rule("v6", 1, G + "admin", G + "nodes", S + "ssh", ip_protocol="IPV6"))
    got = accesses(rule("raw", 1, "10.9.0.0/16", G + "nodes", S + "ssh"))
    assert {a.source for a in got} == {N("10.9.0.0/16")}


def test_unknown_references_are_errors() -> None:
    with pytest.raises(EksaFirewallError, match="does not create"):
        accesses(rule("x", 1, G + "nope", G + "nodes", S + "ssh"))


def test_groups_resolve_ip_sets_ranges_and_conditions() -> None:
    body = {
        "id": "g",
        "expression": [
            {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.5", "10.0.1.0/24", "10.0.2.0-10.0.2.3"]},
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
            {
                "resource_type": "Condition",
                "member_type": "VirtualMachine",
                "key": "Tag",
                "operator": "EQUALS",
                "value": "EKSA-ROLE|c-worker",
            },
        ],
    }
    nets = group_networks(body, {("Tag", "EQUALS", "eksa-role|c-worker"): (N("10.3.0.0/24"),)})
    assert nets == (N("10.0.0.5/32"), N("10.0.1.0/24"), N("10.0.2.0/30"), N("10.3.0.0/24"))
    with pytest.raises(EksaFirewallError):
        group_networks(
            {
                **body,
                "expression": [
                    body["expression"][0],
                    {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
                    body["expression"][2],
                ],
            },
            {},
        )


def test_icmpv6_types_map_back_for_ipv6_only() -> None:
    matchers = service_matchers(
        {"service_entries": [
            {"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4", "icmp_type": 8},
            {"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv6", "icmp_type": 128},
        ]}
    )  # fmt: skip
    assert matchers == (("icmp", 4, PortRange(8, 8)), ("icmp", 6, PortRange(8, 8)))


def test_subtract_access_splits_ports_and_addresses() -> None:
    a = Access(N("10.0.0.0/24"), N("10.2.0.0/24"), "tcp", PortRange(20, 30))
    rest = subtract_access(a, [Access(N("10.0.0.0/25"), N("10.2.0.0/24"), "tcp", PortRange(22, 22))])
    covered = {(x.source, x.ports) for x in rest}
    assert (N("10.0.0.128/25"), PortRange(20, 30)) in covered
    assert (N("10.0.0.0/25"), PortRange(20, 21)) in covered and (N("10.0.0.0/25"), PortRange(23, 30)) in covered
    assert subtract_access(a, [Access(N("0.0.0.0/0"), N("0.0.0.0/0"), "tcp", PortRange(0, 65535))]) == []
    assert subtract_access(a, [Access(N("0.0.0.0/0"), N("0.0.0.0/0"), "udp", PortRange(0, 65535))]) == [a]
