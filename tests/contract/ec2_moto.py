"""Run the EC2 calls of a plan against moto (the EC2 API in process), read the groups back, and interpret the
API's answer into address-level accesses.

Each pulumi-aws provider registration is one EC2 endpoint: the region, or one Snowball Edge device. Every
endpoint gets a fresh moto backend (moto has no "snow" region; a device's EC2 is modelled as an account and
region of its own). The configured VPC of region mode is created first (it exists before `pulumi up`).

The interpreter reads only DescribeSecurityGroups / DescribeSecurityGroupRules answers. A group stands for
its role's machines, found by the tags every group carries (``eksa-firewall/cluster``, ``eksa-firewall/role``;
docs/platforms/snow.md). Stateful security groups, evaluated together across endpoints:
- a connection from ``s`` to ``d`` leaves ``s`` if a group with a member containing ``s`` has an egress rule
  whose peer contains ``d``, and is admitted if a group with a member containing ``d`` has an ingress rule
  whose peer contains ``s``; a network inside no group's members is not filtered by the groups;
- the candidates are the (source, destination) pairs the rules name; each gets egress ports ∩ ingress ports.
ICMPv6 types are read as the IPv4 type of the same message (RFC 4443: 128 echo request = 8, 129 = 0,
1 = 3, 3 = 11, 4 = 12), because a flow names ICMP types once for both families.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.contract import core
from tests.contract.ec2 import PROVIDER, SECURITY_GROUP, SUPPORTED_TYPES, Call, ContractError, calls_for, check_call, protocol_for_value
from tests.helpers import Planned

TAG_CLUSTER, TAG_ROLE = "eksa-firewall/cluster", "eksa-firewall/role"
MOTO_REGION = "us-east-1"  # stands in for a Snow device ("snow" is no region moto knows)
ICMPV6_TO_V4 = {128: 8, 129: 0, 1: 3, 3: 11, 4: 12}


@dataclass
class Endpoint:
    """One provider's EC2: the calls made there and what the API answers afterwards."""

    provider: str  # the provider registration's name
    snow: bool
    calls: list[Call] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)  # DescribeSecurityGroups
    rules: list[dict[str, Any]] = field(default_factory=list)  # DescribeSecurityGroupRules (region only)


def endpoints_of(planned: Planned, clusters: frozenset[str] | None = None) -> list[Endpoint]:
    """The calls of every supported registration, by provider (groups before rules: rules depend on them).

    ``clusters``: only the groups of these clusters (and those of no cluster), and the rules on them."""
    regs = planned.run.resources
    if clusters is not None:
        groups = {r.id for r in regs if r.type == SECURITY_GROUP and (r.inputs.get("tags") or {}).get(TAG_CLUSTER, "") in clusters | {""}}
        regs = tuple(r for r in regs if r.id in groups or r.inputs.get("securityGroupId") in groups or not r.type.startswith("aws:"))
    providers = {f"{r.urn}::{r.id}": r for r in regs if r.type == PROVIDER}  # a provider reference is "<urn>::<id>"
    out: dict[str, Endpoint] = {}
    for reg in sorted((r for r in regs if r.type.startswith("aws:")), key=lambda r: r.type != SECURITY_GROUP):
        if reg.type not in SUPPORTED_TYPES:
            raise ContractError(f"{reg.type} {reg.name}: no EC2 mapping is written for this type (add it to tests/contract/ec2.py)")
        provider = providers.get(reg.provider or "")
        if provider is None:
            raise ContractError(f"{reg.type} {reg.name}: registered without an explicit aws provider")
        ep = out.setdefault(provider.name, Endpoint(provider.name, provider.inputs.get("region") == "snow"))
        ep.calls.extend(calls_for(reg))
    return list(out.values())


def run(planned: Planned, clusters: frozenset[str] | None = None) -> list[Endpoint]:
    """Check every call with botocore's model, execute it in moto, and read the groups back (``clusters``: a
    sample, see ``endpoints_of``)."""
    endpoints = endpoints_of(planned, clusters)
    fake = {"AWS_ACCESS_KEY_ID": "contract-test", "AWS_SECRET_ACCESS_KEY": "contract-test"}  # boto3 signs even for moto
    saved = {k: os.environ.get(k) for k in fake}
    os.environ.update(fake)
    try:
        for ep in endpoints:
            _run_endpoint(ep)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return endpoints


def _run_endpoint(ep: Endpoint) -> None:
    """Check the endpoint's calls, run them in a fresh moto backend, read the groups back."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    for call in ep.calls:
        check_call(call)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=MOTO_REGION)
        real: dict[str, str] = {}  # registration id (or configured VPC id) -> the id the API gave
        for vpc in sorted({c.params["VpcId"] for c in ep.calls if c.operation == "CreateSecurityGroup" and "VpcId" in c.params}):
            real[vpc] = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        for call in ep.calls:
            if call.operation.startswith("Describe"):
                continue  # reads change nothing: checked above, not executed (they cost most of moto's time)
            params = _substitute(call.params, real)
            try:
                answer = getattr(ec2, _snake(call.operation))(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in call.tolerate:
                    continue
                raise ContractError(f"{call.where()}: the EC2 API (moto) refuses it: {code}: {exc}") from None
            if call.operation == "CreateSecurityGroup":
                real[call.registration] = answer["GroupId"]
            elif (
                call.operation.startswith("Authorize") and call.registration not in real and len(answer.get("SecurityGroupRules", ())) == 1
            ):
                real[call.registration] = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        ep.groups = _paginate(ec2, "describe_security_groups", "SecurityGroups")
        if not ep.snow:  # Snow has no DescribeSecurityGroupRules (reference/aws-snow.md)
            ep.rules = _paginate(ec2, "describe_security_group_rules", "SecurityGroupRules")


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


def _substitute(value: Any, real: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return real.get(value, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, real) for v in value]
    return value


def _paginate(ec2: Any, method: str, key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in ec2.get_paginator(method).paginate():
        out.extend(page[key])
    return out


# --- the interpreter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    direction: str  # ingress | egress
    protocol: str
    lo: int
    hi: int
    family: int | None
    peers: tuple[core.Network, ...]


@dataclass
class _Group:
    id: str
    cluster: str
    role: str
    members: tuple[core.Network, ...]
    rules: list[_Rule] = field(default_factory=list)


def _services(protocol: Any, lo: Any, hi: Any) -> list[tuple[str, int, int, int | None]]:
    """An API (IpProtocol, FromPort, ToPort) -> (flow protocol, lo, hi, family) it allows."""
    p = protocol_for_value(protocol)
    first = 0 if lo is None else int(lo)
    everything = lo is None or first == -1
    last: int = first if hi is None else int(hi)
    if p == "-1":
        return [("tcp", 0, core.MAX_PORT, None), ("udp", 0, core.MAX_PORT, None), ("icmp", 0, core.MAX_ICMP_TYPE, None)]
    if p in ("tcp", "udp"):
        return [(p, 0, core.MAX_PORT, None)] if everything else [(p, first, last, None)]
    if p == "icmp":
        return [("icmp", 0, core.MAX_ICMP_TYPE, 4)] if everything else [("icmp", first, first, 4)]
    if p == "icmpv6":
        if everything:
            return [("icmp", 0, core.MAX_ICMP_TYPE, 6)]
        t = ICMPV6_TO_V4.get(first, first)
        return [("icmp", t, t, 6)]
    return [(f"ip-{p}", 0, core.MAX_PORT, None)]  # another IP protocol: every port of it (no flow names one)


def _tag(tags: Iterable[Mapping[str, str]] | None, key: str) -> str:
    return next((t["Value"] for t in tags or () if t["Key"] == key), "")


def _described_groups(planned: Planned, endpoints: Sequence[Endpoint]) -> dict[str, _Group]:
    """Every described group by ``<provider>/<GroupId>``, its members read from its cluster and role tags (no rules yet)."""
    groups: dict[str, _Group] = {}
    for ep in endpoints:
        for g in ep.groups:
            cluster, role = _tag(g.get("Tags"), TAG_CLUSTER), _tag(g.get("Tags"), TAG_ROLE)
            gid = f"{ep.provider}/{g['GroupId']}"
            groups[gid] = _Group(gid, cluster, role, core.role_members(planned, cluster, role) if role else ())
    return groups


def groups_from_describe(planned: Planned, endpoints: Sequence[Endpoint]) -> list[_Group]:
    """DescribeSecurityGroups answers -> groups with their members and rules."""
    groups = _described_groups(planned, endpoints)
    for ep in endpoints:
        for g in ep.groups:
            group = groups[f"{ep.provider}/{g['GroupId']}"]
            for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
                for perm in g.get(key) or ():
                    peers = [ipaddress.ip_network(r["CidrIp"]) for r in perm.get("IpRanges") or ()]
                    peers += [ipaddress.ip_network(r["CidrIpv6"]) for r in perm.get("Ipv6Ranges") or ()]
                    for pair in perm.get("UserIdGroupPairs") or ():
                        peers += groups[f"{ep.provider}/{pair['GroupId']}"].members
                    for proto, lo, hi, family in _services(perm.get("IpProtocol"), perm.get("FromPort"), perm.get("ToPort")):
                        group.rules.append(_Rule(direction, proto, lo, hi, family, tuple(peers)))
    return list(groups.values())


def groups_from_rules(planned: Planned, endpoints: Sequence[Endpoint]) -> list[_Group]:
    """DescribeSecurityGroupRules answers (one rule each, region only) -> groups with their members and rules."""
    groups = _described_groups(planned, endpoints)
    for ep in endpoints:
        for r in ep.rules:
            group = groups[f"{ep.provider}/{r['GroupId']}"]
            if r.get("CidrIpv4"):
                peers: tuple[core.Network, ...] = (ipaddress.ip_network(r["CidrIpv4"]),)
            elif r.get("CidrIpv6"):
                peers = (ipaddress.ip_network(r["CidrIpv6"]),)
            elif r.get("ReferencedGroupInfo"):
                peers = groups[f"{ep.provider}/{r['ReferencedGroupInfo']['GroupId']}"].members
            else:
                peers = ()
            direction = "egress" if r.get("IsEgress") else "ingress"
            for proto, lo, hi, family in _services(r.get("IpProtocol"), r.get("FromPort"), r.get("ToPort")):
                group.rules.append(_Rule(direction, proto, lo, hi, family, peers))
    return list(groups.values())


def _within(inner: core.Network, outer: core.Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def allowed(groups: Sequence[_Group]) -> list[core.Access]:
    """The accesses a set of stateful security groups allows (see the module docstring)."""
    members = [(g, m) for g in groups for m in g.members]
    memo: dict[core.Network, list[_Group]] = {}

    def containing(n: core.Network) -> list[_Group]:
        if n not in memo:
            memo[n] = [g for g, m in members if _within(n, m)]
        return memo[n]

    def ports(gs: list[_Group], direction: str, proto: str, peer: core.Network, family: int) -> list[tuple[int, int]]:
        return [
            (r.lo, r.hi)
            for g in gs
            for r in g.rules
            if r.direction == direction and r.protocol == proto and r.family in (None, family) and any(_within(peer, p) for p in r.peers)
        ]

    candidates: set[tuple[core.Network, core.Network, str]] = set()
    for g in groups:
        for r in g.rules:
            pairs = (
                [(p, m) for p in r.peers for m in g.members] if r.direction == "ingress" else [(m, p) for m in g.members for p in r.peers]
            )
            candidates.update((s, d, r.protocol) for s, d in pairs if s.version == d.version and r.family in (None, s.version))
    out: list[core.Access] = []
    top = {"icmp": core.MAX_ICMP_TYPE}
    for s, d, proto in candidates:
        senders, receivers = containing(s), containing(d)
        every = [(0, top.get(proto, core.MAX_PORT))]
        leaving = ports(senders, "egress", proto, d, s.version) if senders else every
        arriving = ports(receivers, "ingress", proto, s, s.version) if receivers else every
        for a_lo, a_hi in leaving:
            for b_lo, b_hi in arriving:
                lo, hi = max(a_lo, b_lo), min(a_hi, b_hi)
                if lo <= hi:
                    out.append(core.access(s, d, proto, lo, hi))
    return out


# --- quotas, read from the answer --------------------------------------------------------------------------

RULES_PER_GROUP_AND_DIRECTION = 60  # Amazon VPC quotas (amazon-vpc-limits.md): per group, per direction, IPv4 and IPv6 apart
GROUPS_PER_SNOW_DEVICE = 50  # Snowball Edge: "You can create up to 50 security groups" (using-ec2-endpoint.md)


def quota_problems(endpoints: Sequence[Endpoint]) -> list[str]:
    """Quota breaches in the API's answer: rule entries per group and direction (region: IPv4 and IPv6 apart, a
    group reference in both; Snow, with no published split: together), groups per Snow device."""
    problems: list[str] = []
    for ep in endpoints:
        ours = [g for g in ep.groups if _tag(g.get("Tags"), TAG_ROLE)]
        if ep.snow and len(ours) > GROUPS_PER_SNOW_DEVICE:
            problems.append(f"{ep.provider}: {len(ours)} security groups on one Snow device; Snow allows {GROUPS_PER_SNOW_DEVICE}")
        for g in ours:
            for key in ("IpPermissions", "IpPermissionsEgress"):
                v4 = v6 = refs = 0
                for perm in g.get(key) or ():
                    v4 += len(perm.get("IpRanges") or ())
                    v6 += len(perm.get("Ipv6Ranges") or ())
                    refs += len(perm.get("UserIdGroupPairs") or ()) + len(perm.get("PrefixListIds") or ())
                counts = {"": v4 + v6 + refs} if ep.snow else {"IPv4 ": v4 + refs, "IPv6 ": v6 + refs}
                for family, n in counts.items():
                    if n > RULES_PER_GROUP_AND_DIRECTION:
                        problems.append(
                            f"{ep.provider}: group {g['GroupName']} has {n} {family}{key} entries; the quota is {RULES_PER_GROUP_AND_DIRECTION}"
                        )
    return problems
