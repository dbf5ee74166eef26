"""Read registered security groups and rules back into the accesses they allow (for ``verify``).

Pure. ``allowed`` reads only the resources as registered (type and engine inputs): groups
(``aws:ec2/securityGroup:SecurityGroup`` with inline ``ingress``/``egress``), separate rules
(``aws:vpc/securityGroupIngressRule``, ``aws:vpc/securityGroupEgressRule``, and the older
``aws:ec2/securityGroupRule``). A group is recognised by its ``eksa-firewall/cluster`` and
``eksa-firewall/role`` tags; its members are that role's addresses in the topology.

What a set of stateful security groups allows, network by network:
- a connection from ``s`` to ``d`` leaves ``s`` only if a group with a member network containing ``s`` has
  an egress rule whose CIDR (or referenced group's member) contains ``d``, and reaches ``d`` only if a group
  with a member containing ``d`` has an ingress rule whose peer contains ``s``;
- a network inside none of the groups' members (a client range, the Snow device, the VIP) is not filtered
  by them: its side lets everything through. A connection between two such networks is not these
  groups' business (visibility.py says which flows are). (A client range that merely *contains*
  an in-scope machine is read as unfiltered as a whole: the result is an access per network, and verify
  covers a required access by any allowed one whose networks contain it.)
The candidates are the (source, destination) pairs the rules name; each gets egress ports ∩ ingress ports,
with the side of an unfiltered network being "every port".

ICMPv6 rules are read back as the IPv4 ICMP type of the same message (128 echo request -> 8), because a
flow names ICMP types once for both families.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import within
from ..catalog import Protocol
from ..errors import EksaFirewallError
from ..flows import Access, normalize
from ..icmp import icmpv4_type
from ..ports import MAX_ICMP_TYPE, MAX_PORT, PortRange, PortSet, merge, subtract
from ..reader import Network
from ..registration import Registration
from ..topology import Topology
from .settings import TAG_CLUSTER, TAG_ROLE, GroupKey, group_members

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
PROVIDER = "pulumi:providers:aws"

_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
_EVERY: Mapping[Protocol, PortSet] = {
    "tcp": (PortRange(0, MAX_PORT),),
    "udp": (PortRange(0, MAX_PORT),),
    "icmp": (PortRange(0, MAX_ICMP_TYPE),),
}


@dataclass(frozen=True, slots=True)
class _Rule:
    group: str  # the group's id
    direction: str  # ingress | egress
    peers: tuple[Network, ...]
    protocol: Protocol
    ports: PortRange
    family: int | None  # 4 or 6 when the rule's protocol names one family (icmp, icmpv6)


def allowed(topology: Topology, resources: Sequence[Registration]) -> frozenset[Access]:
    groups: dict[str, tuple[Network, ...]] = {}  # group id -> member addresses
    refs: dict[str, tuple[Network, ...]] = {}  # what a rule may name a group by: its id or its URN
    for res in resources:
        if res.type == SECURITY_GROUP and res.id:
            groups[res.id] = refs[res.id] = refs[res.urn] = group_members(topology, _group_key(res.inputs))

    rules: list[_Rule] = []
    for res in resources:
        if res.type == SECURITY_GROUP and res.id:
            for direction in ("ingress", "egress"):
                for block in res.inputs.get(direction) or ():
                    rules.extend(_inline(res.id, direction, block, refs))
        elif res.type in (INGRESS_RULE, EGRESS_RULE):
            rules.extend(_separate(res.inputs, "ingress" if res.type == INGRESS_RULE else "egress", refs))
        elif res.type == LEGACY_RULE:
            rules.extend(_legacy(res.inputs, refs))

    _check_copies(resources, rules)
    member_nets = [(gid, n) for gid, members in groups.items() for n in members]
    by_group: dict[str, list[_Rule]] = defaultdict(list)
    for rule in rules:
        by_group[rule.group].append(rule)

    def containing(address: Network) -> list[str]:
        return sorted({gid for gid, n in member_nets if within(address, n)})

    def ports(gids: list[str], direction: str, proto: Protocol, peer: Network, family: int) -> PortSet:
        """What the groups ``gids`` let through in ``direction`` for ``peer`` (a rule admits a peer inside its CIDR)."""
        return merge(
            r.ports
            for gid in gids
            for r in by_group.get(gid, ())
            if r.direction == direction and r.protocol == proto and r.family in (None, family) and any(within(peer, p) for p in r.peers)
        )

    candidates: set[tuple[Network, Network, Protocol]] = set()
    for rule in rules:
        members = refs.get(rule.group, ())
        pairs = (
            ((p, m) for p in rule.peers for m in members) if rule.direction == "ingress" else ((m, p) for m in members for p in rule.peers)
        )
        candidates.update((s, d, rule.protocol) for s, d in pairs if s.version == d.version and rule.family in (None, s.version))

    out: list[Access] = []
    for s, d, proto in candidates:
        senders, receivers = containing(s), containing(d)
        leaving = ports(senders, "egress", proto, d, s.version) if senders else _EVERY[proto]
        arriving = ports(receivers, "ingress", proto, s, s.version) if receivers else _EVERY[proto]
        out.extend(Access(s, d, proto, r) for r in _intersect(leaving, arriving))
    return normalize(out)


def _check_copies(resources: Sequence[Registration], rules: Sequence[_Rule]) -> None:
    """Snow keeps one copy of a group per device, and a role's machines may run on any of those devices:
    the copies must hold the same rules, or no single answer says what the role's machines are allowed."""
    by_group: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for rule in rules:
        by_group[rule.group].add((rule.direction, rule.protocol, rule.ports, rule.family, tuple(sorted(map(str, rule.peers)))))
    copies: dict[GroupKey, list[Registration]] = defaultdict(list)
    for res in resources:
        if res.type == SECURITY_GROUP and res.id:
            copies[_group_key(res.inputs)].append(res)
    for key, regs in copies.items():
        if not key.role:
            continue  # not one of ours: no copies to compare
        first = regs[0]
        for other in regs[1:]:
            if by_group[other.id or ""] != by_group[first.id or ""]:
                raise EksaFirewallError(
                    f"the copies of security group {key.label} differ ({first.name} and {other.name}): "
                    "a role's machines may run on any device holding the group, so its copies must hold the same rules"
                )


def _intersect(a: PortSet, b: PortSet) -> PortSet:
    return subtract(a, subtract(a, b))


def _group_key(inputs: Mapping[str, Any]) -> GroupKey:
    tags = inputs.get("tags") or {}
    return GroupKey(str(tags.get(TAG_CLUSTER, "")), str(tags.get(TAG_ROLE, "")))


def _networks(values: Iterable[Any]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(str(v), strict=False) for v in values if v)


def _protocol_ports(protocol: Any, from_port: Any, to_port: Any) -> list[tuple[Protocol, PortRange, int | None]]:
    """An AWS (protocol, from, to) -> the (flow protocol, port or ICMP-type range, family) it stands for."""
    proto = str(protocol).lower()
    proto = _PROTOCOL_NAMES.get(proto, proto)
    lo = int(from_port) if from_port is not None else -1
    hi = int(to_port) if to_port is not None else -1
    if proto == "-1":
        return [("tcp", PortRange(0, MAX_PORT), None), ("udp", PortRange(0, MAX_PORT), None), ("icmp", PortRange(0, MAX_ICMP_TYPE), None)]
    if proto in ("tcp", "udp"):
        ports = PortRange(0, MAX_PORT) if lo == -1 else PortRange(lo, hi)
        return [(proto, ports, None)]  # type: ignore[list-item]
    if proto == "icmp":
        return [("icmp", PortRange(0, MAX_ICMP_TYPE) if lo == -1 else PortRange.single(lo), 4)]
    if proto == "icmpv6":
        if lo == -1:
            return [("icmp", PortRange(0, MAX_ICMP_TYPE), 6)]
        return [("icmp", PortRange.single(icmpv4_type(lo)), 6)]
    return []  # another IP protocol: no flow of the catalog uses one


def _peers(
    inputs: Mapping[str, Any], own: str, groups: Mapping[str, tuple[Network, ...]], *, cidr4: str, cidr6: str
) -> tuple[Network, ...]:
    peers: list[Network] = [*_networks(_as_list(inputs.get(cidr4))), *_networks(_as_list(inputs.get(cidr6)))]
    for ref in (
        *_as_list(inputs.get("securityGroups")),
        *_as_list(inputs.get("referencedSecurityGroupId")),
        *_as_list(inputs.get("sourceSecurityGroupId")),
    ):
        peers.extend(groups.get(str(ref), ()))
    if inputs.get("self"):
        peers.extend(groups.get(own, ()))
    return tuple(peers)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _inline(group: str, direction: str, block: Mapping[str, Any], groups: Mapping[str, tuple[Network, ...]]) -> list[_Rule]:
    peers = _peers(block, group, groups, cidr4="cidrBlocks", cidr6="ipv6CidrBlocks")
    return [
        _Rule(group, direction, peers, proto, ports, family)
        for proto, ports, family in _protocol_ports(block.get("protocol"), block.get("fromPort"), block.get("toPort"))
    ]


def _separate(inputs: Mapping[str, Any], direction: str, groups: Mapping[str, tuple[Network, ...]]) -> list[_Rule]:
    group = str(inputs.get("securityGroupId"))
    peers = _peers(inputs, group, groups, cidr4="cidrIpv4", cidr6="cidrIpv6")
    return [
        _Rule(group, direction, peers, proto, ports, family)
        for proto, ports, family in _protocol_ports(inputs.get("ipProtocol"), inputs.get("fromPort"), inputs.get("toPort"))
    ]


def _legacy(inputs: Mapping[str, Any], groups: Mapping[str, tuple[Network, ...]]) -> list[_Rule]:
    group = str(inputs.get("securityGroupId"))
    direction = "ingress" if inputs.get("type") == "ingress" else "egress"
    peers = _peers(inputs, group, groups, cidr4="cidrBlocks", cidr6="ipv6CidrBlocks")
    return [
        _Rule(group, direction, peers, proto, ports, family)
        for proto, ports, family in _protocol_ports(inputs.get("protocol"), inputs.get("fromPort"), inputs.get("toPort"))
    ]
