"""``verify`` for vSphere: from the NSX objects as registered to the connections they let into the clusters.

Read from the registrations only (type ``pulumi-python:dynamic/nsx:*`` and its ``body`` input):
- groups resolve to their IP sets; a VM condition (NSX tag, VM-name prefix) resolves to the addresses the
  config gives the VMs EKS-A tags or names that way (``membership.condition_addresses``): the interpreter cannot
  see VMs, and says so in the docs;
- services resolve to (protocol, ports) and ICMP types (ICMPv6 types mapped back to their ICMPv4 meaning for
  IPv6 addresses);
- in each policy (ordered by category, then sequence number) the rules are walked in sequence order and the
  first match wins: what an ALLOW rule lets in is what no earlier DROP/REJECT rule of the policy already
  decided. Rules that are disabled or apply only outbound let nothing in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..addresses import within
from ..catalog import Protocol
from ..errors import EksaFirewallError
from ..flows import Access, normalize
from ..icmp import icmpv4_type
from ..ports import MAX_ICMP_TYPE, MAX_PORT, PortRange, parse_ports, subtract
from ..reader import Network
from ..registration import Registration
from ..topology import Topology
from .membership import condition_addresses
from .settings import CATEGORIES, parse_settings

# The registered types of nsx_provider's resources (not imported: the interpreter runs without Pulumi's dynamic
# provider machinery). tests/vsphere/test_component.py checks they match.
GROUP_TYPE = "pulumi-python:dynamic/nsx:Group"
SERVICE_TYPE = "pulumi-python:dynamic/nsx:Service"
POLICY_TYPE = "pulumi-python:dynamic/nsx:SecurityPolicy"

EVERYWHERE: tuple[Network, ...] = (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
# (protocol, IP version or None for both, range)
Matcher = tuple[Protocol, int | None, PortRange]
ANY_SERVICE: tuple[Matcher, ...] = (
    ("tcp", None, PortRange(0, MAX_PORT)),
    ("udp", None, PortRange(0, MAX_PORT)),
    ("icmp", None, PortRange(0, MAX_ICMP_TYPE)),
)


def allowed(topology: Topology, resources: Sequence[Registration]) -> frozenset[Access]:
    settings = parse_settings(topology)
    conditions = condition_addresses(topology, settings)
    groups: dict[str, tuple[Network, ...]] = {}
    services: dict[str, tuple[Matcher, ...]] = {}
    policies: list[Mapping[str, Any]] = []
    for r in resources:
        body = r.inputs.get("body")
        if not isinstance(body, Mapping):
            continue
        if r.type == GROUP_TYPE:
            groups[str(r.inputs["path"])] = group_networks(body, conditions)
        elif r.type == SERVICE_TYPE:
            services[str(r.inputs["path"])] = service_matchers(body)
        elif r.type == POLICY_TYPE:
            policies.append(body)
    out: set[Access] = set()
    for policy in sorted(policies, key=_policy_order):
        out |= policy_accesses(policy, groups, services)
    return normalize(out)


def _policy_order(policy: Mapping[str, Any]) -> tuple[int, int, str]:
    category = str(policy.get("category", "Application"))
    rank = CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)
    return rank, int(policy.get("sequence_number", 0)), str(policy.get("id", ""))


def group_networks(body: Mapping[str, Any], conditions: Mapping[tuple[str, str, str], tuple[Network, ...]]) -> tuple[Network, ...]:
    """The addresses a group stands for. Only OR joins are produced by the planner; AND is refused."""
    nets: list[Network] = []
    for item in body.get("expression") or []:
        kind = item.get("resource_type")
        if kind == "IPAddressExpression":
            for text in item.get("ip_addresses") or []:
                nets.extend(parse_address(str(text)))
        elif kind == "Condition":
            key = (str(item.get("key")), str(item.get("operator")), str(item.get("value", "")).lower())
            if key not in conditions:
                raise EksaFirewallError(f"group {body.get('id')}: condition {key} matches no role this configuration describes")
            nets.extend(conditions[key])
        elif kind == "ConjunctionOperator":
            if item.get("conjunction_operator") != "OR":
                raise EksaFirewallError(f"group {body.get('id')}: only OR joins can be interpreted")
        else:
            raise EksaFirewallError(f"group {body.get('id')}: cannot interpret expression {kind!r}")
    return tuple(nets)


def parse_address(text: str) -> list[Network]:
    """An NSX address item: an address, a CIDR or a range ``a-b``."""
    if "-" in text:
        lo, _, hi = text.partition("-")
        first, last = ipaddress.ip_address(lo.strip()), ipaddress.ip_address(hi.strip())
        return list(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
    return [ipaddress.ip_network(text.strip(), strict=False)]


def service_matchers(body: Mapping[str, Any]) -> tuple[Matcher, ...]:
    out: list[Matcher] = []
    for entry in body.get("service_entries") or []:
        kind = entry.get("resource_type")
        if kind == "L4PortSetServiceEntry":
            proto: Protocol = "tcp" if entry.get("l4_protocol") == "TCP" else "udp"
            ports = entry.get("destination_ports") or []
            for p in ports or [f"0-{MAX_PORT}"]:  # no destination ports: every port
                out.append((proto, None, parse_ports(str(p))[0]))
        elif kind == "ICMPTypeServiceEntry":
            t = entry.get("icmp_type")
            if entry.get("protocol") == "ICMPv4":
                rng = PortRange(0, MAX_ICMP_TYPE) if t is None else PortRange.single(int(t))
                out.append(("icmp", 4, rng))
            elif t is None:
                out.append(("icmp", 6, PortRange(0, MAX_ICMP_TYPE)))
            else:
                out.append(("icmp", 6, PortRange.single(icmpv4_type(int(t)))))
        else:
            raise EksaFirewallError(f"service {body.get('id')}: cannot interpret entry {kind!r}")
    return tuple(out)


def _endpoints(items: Iterable[str], groups: Mapping[str, tuple[Network, ...]], what: str) -> tuple[Network, ...]:
    nets: list[Network] = []
    for item in items:
        if item == "ANY":
            return EVERYWHERE
        if item.startswith("/"):
            if item not in groups:
                raise EksaFirewallError(f"{what} refers to {item}, which this stack does not create")
            nets.extend(groups[item])
        else:
            nets.extend(parse_address(item))
    return tuple(nets)


def _rule_accesses(
    rule: Mapping[str, Any], groups: Mapping[str, tuple[Network, ...]], services: Mapping[str, tuple[Matcher, ...]]
) -> list[Access]:
    what = f"rule {rule.get('id')}"
    sources = _endpoints(rule.get("source_groups") or ["ANY"], groups, what)
    destinations = _endpoints(rule.get("destination_groups") or ["ANY"], groups, what)
    matchers: list[Matcher] = []
    for s in rule.get("services") or ["ANY"]:
        if s == "ANY":
            matchers = list(ANY_SERVICE)
            break
        if s not in services:
            raise EksaFirewallError(f"{what} refers to service {s}, which this stack does not create")
        matchers.extend(services[s])
    versions = {"IPV4": {4}, "IPV6": {6}}.get(str(rule.get("ip_protocol", "IPV4_IPV6")), {4, 6})
    out: list[Access] = []
    for src in sources:
        for dst in destinations:
            if src.version != dst.version or dst.version not in versions:
                continue
            for proto, version, ports in matchers:
                if version in (None, dst.version):
                    out.append(Access(src, dst, proto, ports))
    return out


def policy_accesses(
    policy: Mapping[str, Any], groups: Mapping[str, tuple[Network, ...]], services: Mapping[str, tuple[Matcher, ...]]
) -> set[Access]:
    """First match wins inside the policy: ALLOW rules minus what earlier DROP/REJECT rules took."""
    decided: list[Access] = []  # what earlier DROP/REJECT rules matched
    allowed_: set[Access] = set()
    rules = sorted(policy.get("rules") or [], key=lambda r: (int(r.get("sequence_number", 0)), str(r.get("id", ""))))
    for rule in rules:
        if rule.get("disabled") or rule.get("direction") == "OUT":
            continue
        accesses = _rule_accesses(rule, groups, services)
        if rule.get("action") == "ALLOW":
            for a in accesses:
                allowed_.update(subtract_access(a, decided))
        else:
            decided.extend(accesses)
    return allowed_


def _net_minus(a: Network, b: Network) -> list[Network]:
    if a.version != b.version or not a.overlaps(b):
        return [a]
    if within(a, b):
        return []
    return list(a.address_exclude(b))  # type: ignore[arg-type]


def _intersect(a: Network, b: Network) -> Network | None:
    if a.version != b.version or not a.overlaps(b):
        return None
    return a if within(a, b) else b


def subtract_access(access: Access, taken: Iterable[Access]) -> list[Access]:
    """The parts of ``access`` that none of ``taken`` covers (split by address and by port)."""
    pieces = [access]
    for t in taken:
        if t.protocol != access.protocol:
            continue
        next_pieces: list[Access] = []
        for p in pieces:
            src_in, dst_in = _intersect(p.source, t.source), _intersect(p.destination, t.destination)
            overlap_ports = p.ports.lo <= t.ports.hi and t.ports.lo <= p.ports.hi
            if src_in is None or dst_in is None or not overlap_ports:
                next_pieces.append(p)
                continue
            next_pieces += [Access(s, p.destination, p.protocol, p.ports) for s in _net_minus(p.source, t.source)]
            next_pieces += [Access(src_in, d, p.protocol, p.ports) for d in _net_minus(p.destination, t.destination)]
            next_pieces += [Access(src_in, dst_in, p.protocol, r) for r in subtract((p.ports,), (t.ports,))]
        pieces = next_pieces
    return pieces
