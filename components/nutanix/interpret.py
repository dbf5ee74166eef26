"""``verify`` for Nutanix: the registered Flow objects -> the accesses they allow, evaluated as Flow does.

Pure: reads the registrations (type and engine inputs: camelCase, nested too), never the flows or the plan.

How Flow is evaluated here:
- A category stands for the VMs that carry it; EKS-A puts a role's category on the role's machines, so a
  category's VMs are the topology's addresses of that role (the ``nutanix`` settings say which key=value is
  which role). A category no role carries has no VMs. Several categories in one reference list: the VMs
  that carry them all.
- Like the provider, only ``specs[0]``, ``application_rule_specs[0]`` / ``intra_entity_group_rule_specs[0]``
  and ``src_subnets[0]`` count; anything after index 0 is dropped silently, as the provider drops it.
- An APPLICATION rule without ``dest_*`` is inbound: its sources (``src_allow_spec: ALL``, categories,
  address groups, the first subnet) may reach the secured group on its services (``is_all_protocol_allowed``,
  inline services, service groups). A rule with ``dest_allow_spec: ALL`` opens outbound.
- INTRA_GROUP ``ALLOW``: the secured group's VMs may reach each other on the listed services, on every
  protocol when none is listed; ``DENY``: not at all.
- Traffic from a VM of a secured group must also leave it: outbound is open when its policy has no outbound
  rule or a ``dest_allow_spec: ALL`` rule (then only on that rule's services). Other outbound rule forms are
  not read (this project never writes them) and count as allowing nothing: an under-read shows as missing
  flows, never as a false "ok".
- The policy's state is not read: MONITOR and ENFORCE evaluate the same rules (MONITOR only reports what
  ENFORCE would drop). ``isIpv6TrafficAllowed: true`` lets all IPv6 in.
- Rules are evaluated for both address families, as the project's model asks (a category stands for all of
  its role's addresses). Flow itself applies application rules to IPv4 only and blocks other IPv6 to secured
  VMs: for IPv6 addresses this reading is what the rules say, not what Flow enforces
  (docs/platforms/nutanix.md, IPv6).

What the policies are responsible for (visibility.py): the flows into the nodes. Flow secures VMs, so a
flow to a peer (Prism Central, Jenkins, the load balancer) is outbound from the nodes and left open. The
control-plane VIP is an address a control-plane VM holds (kube-vip): traffic to it meets the control-plane
policy, and every flow to the VIP is also a flow to the control plane with the same source and ports (tests
check this), so the VIP flows are covered by the control-plane rules and are not listed separately.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..catalog import Protocol
from ..flows import Access, endpoint_addresses, normalize
from ..ports import MAX_ICMP_TYPE, MAX_PORT, PortRange
from ..reader import Network
from ..registration import Registration
from ..topology import Topology
from .settings import parse_settings

CATEGORY = "nutanix:index/categoryV2:CategoryV2"
ADDRESS_GROUP = "nutanix:index/addressGroupsV2:AddressGroupsV2"
SERVICE_GROUP = "nutanix:index/serviceGroupsV2:ServiceGroupsV2"
POLICY = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"
EVERYWHERE: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
ALL_SERVICES: tuple[tuple[Protocol, PortRange], ...] = (
    ("tcp", PortRange(0, MAX_PORT)),
    ("udp", PortRange(0, MAX_PORT)),
    ("icmp", PortRange(0, MAX_ICMP_TYPE)),
)

Service = tuple[Protocol, PortRange]


def allowed(topology: Topology, resources: Sequence[Registration]) -> frozenset[Access]:
    world = _World(topology, resources)
    inbound: set[Access] = set()
    outbound_open: dict[str, list[Service]] = {}  # category id -> services its VMs may send on
    outbound_restricted: set[str] = set()
    for policy in world.of(POLICY):
        for rule in _list(policy.inputs.get("rules")):
            _read_rule(world, rule, inbound, outbound_open, outbound_restricted)
            if policy.inputs.get("isIpv6TrafficAllowed") is True:
                for dst in world.secured_by(rule):
                    if dst.version == 6:
                        inbound.update(Access(EVERYWHERE[1], dst, p, r) for p, r in ALL_SERVICES)
    return normalize(a for a in inbound if _leaves_source(world, a, outbound_open, outbound_restricted))


# --- reading the registered objects -----------------------------------------------------------------


class _World:
    """The registrations, indexed by the ids policies reference, and what each category stands for."""

    def __init__(self, topology: Topology, resources: Sequence[Registration]) -> None:
        self.resources = resources
        settings = parse_settings(topology)
        role_addresses: dict[tuple[str, str], tuple[Network, ...]] = {}
        for c in settings.categories:
            role_addresses[(c.key, c.value)] = endpoint_addresses(topology, topology.cluster(c.cluster), c.role)
        self.categories: dict[str, tuple[Network, ...]] = {}
        for r in self.of(CATEGORY):
            if r.id is not None:
                self.categories[r.id] = role_addresses.get((str(r.inputs.get("key")), str(r.inputs.get("value"))), ())
        self.address_groups: dict[str, tuple[Network, ...]] = {r.id: _address_group(r.inputs) for r in self.of(ADDRESS_GROUP) if r.id}
        self.service_groups: dict[str, list[Service]] = {r.id: _services(r.inputs) for r in self.of(SERVICE_GROUP) if r.id}

    def of(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def vms(self, refs: Any) -> tuple[Network, ...]:
        """The VMs carrying every category of ``refs`` (as addresses)."""
        ids = [str(x) for x in _list(refs)]
        if not ids:
            return ()
        common = set(self.categories.get(ids[0], ()))
        for i in ids[1:]:
            common &= set(self.categories.get(i, ()))
        return tuple(common)

    def secured_by(self, rule: Mapping[str, Any]) -> tuple[Network, ...]:
        spec = _first(_first(rule.get("specs")).get("applicationRuleSpecs")) or _first(
            _first(rule.get("specs")).get("intraEntityGroupRuleSpecs")
        )
        return self.vms(spec.get("securedGroupCategoryReferences"))


def _read_rule(
    world: _World, rule: Mapping[str, Any], inbound: set[Access], outbound_open: dict[str, list[Service]], outbound_restricted: set[str]
) -> None:
    spec = _first(rule.get("specs"))  # the provider reads specs[0] only
    kind = rule.get("type")
    if kind == "INTRA_GROUP":
        intra = _first(spec.get("intraEntityGroupRuleSpecs"))
        if intra.get("securedGroupAction") != "ALLOW":
            return
        members = world.vms(intra.get("securedGroupCategoryReferences"))
        services = _rule_services(world, intra, refs_key="securedGroupServiceReferences")
        _grant(inbound, members, members, services or list(ALL_SERVICES))
        return
    if kind != "APPLICATION":
        return  # isolation and quarantine rules allow nothing
    app = _first(spec.get("applicationRuleSpecs"))  # and application_rule_specs[0] only
    secured_refs = [str(x) for x in _list(app.get("securedGroupCategoryReferences"))]
    services = list(ALL_SERVICES) if app.get("isAllProtocolAllowed") is True else _rule_services(world, app)
    outbound = any(app.get(k) for k in ("destAllowSpec", "destCategoryReferences", "destAddressGroupReferences", "destSubnets"))
    if outbound:
        for ref in secured_refs:
            if app.get("destAllowSpec") == "ALL":
                outbound_open.setdefault(ref, []).extend(services)
            else:
                outbound_restricted.add(ref)
        return
    sources: list[Network] = []
    if app.get("srcAllowSpec") == "ALL":
        sources.extend(EVERYWHERE)
    if app.get("srcCategoryReferences"):
        sources.extend(world.vms(app.get("srcCategoryReferences")))
    for ref in _list(app.get("srcAddressGroupReferences")):
        sources.extend(world.address_groups.get(str(ref), ()))
    subnet = _first(app.get("srcSubnets"))  # and src_subnets[0] only
    if subnet:
        net = _network(subnet.get("value"), subnet.get("prefixLength"))
        if net is not None:
            sources.append(net)
    _grant(inbound, sources, world.vms(secured_refs), services)


def _grant(out: set[Access], sources: Iterable[Network], destinations: Iterable[Network], services: Iterable[Service]) -> None:
    dsts = list(destinations)
    svc = list(services)
    for s in sources:
        for d in dsts:
            if s.version == d.version:
                out.update(Access(s, d, proto, ports) for proto, ports in svc)


def _leaves_source(world: _World, access: Access, outbound_open: dict[str, list[Service]], restricted: set[str]) -> bool:
    """Traffic from a secured VM must also be let out by the VM's own policy."""
    for cat_id, vms in world.categories.items():
        if access.source not in vms:
            continue
        if cat_id in outbound_open:
            if not any(p == access.protocol and r.lo <= access.ports.lo and access.ports.hi <= r.hi for p, r in outbound_open[cat_id]):
                return False
        elif cat_id in restricted:
            return False
    return True


def _rule_services(world: _World, spec: Mapping[str, Any], refs_key: str = "serviceGroupReferences") -> list[Service]:
    out = _services(spec)
    for ref in _list(spec.get(refs_key)):
        out.extend(world.service_groups.get(str(ref), ()))
    return out


def _services(spec: Mapping[str, Any]) -> list[Service]:
    """tcpServices / udpServices / icmpServices of a rule or a service group."""
    out: list[Service] = []
    for proto, key in (("tcp", "tcpServices"), ("udp", "udpServices")):
        for s in _list(spec.get(key)):
            lo, hi = _int(s.get("startPort")), _int(s.get("endPort"))
            if lo is None:
                continue
            hi = lo if hi is None else hi
            if 0 <= lo <= hi <= MAX_PORT:
                out.append((proto, PortRange(lo, hi)))  # type: ignore[arg-type]
    for s in _list(spec.get("icmpServices")):
        t = _int(s.get("type"))
        if s.get("isAllAllowed") is True or t is None:
            out.append(("icmp", PortRange(0, MAX_ICMP_TYPE)))
        elif 0 <= t <= MAX_ICMP_TYPE:
            out.append(("icmp", PortRange.single(t)))
    return out


def _address_group(inputs: Mapping[str, Any]) -> tuple[Network, ...]:
    nets: list[Network] = []
    for a in _list(inputs.get("ipv4Addresses")):
        net = _network(a.get("value"), a.get("prefixLength"))
        if net is not None:
            nets.append(net)
    for rng in _list(inputs.get("ipRanges")):
        try:
            first, last = ipaddress.ip_address(str(rng.get("startIp"))), ipaddress.ip_address(str(rng.get("endIp")))
            nets.extend(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return tuple(nets)


# --- tolerant accessors: registered inputs are whatever the program wrote --------------------------------


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _first(value: Any) -> Mapping[str, Any]:
    items = _list(value)
    return items[0] if items and isinstance(items[0], Mapping) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _network(value: Any, prefix: Any) -> Network | None:
    length = _int(prefix)
    try:
        addr = ipaddress.ip_address(str(value))
        return ipaddress.ip_network(f"{addr}/{addr.max_prefixlen if length is None else length}", strict=False)
    except ValueError:
        return None


__all__ = ["allowed"]
