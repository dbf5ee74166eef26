"""(topology, flows, settings) -> the security groups and rules to create, as frozen data. Pure.

One group per role of each cluster (control plane, etcd when external, workers) and, when selected, one
for the admin machine and one for Jenkins. Every flow a group owns (``settings.duties``) becomes an
ingress rule on the groups that admit it and an egress rule on the groups that send it: Snow revokes the
default allow-all egress of a group whose rules are managed, and so does pulumi-aws in a VPC.

Rules are keyed by (group, direction, peer, protocol, port range); ports of one peer are merged with
``ports.merge``, so each key is one AWS rule entry. A peer is a CIDR, or in region mode, when the other
side is a whole set of our groups, a reference to those groups (one rule whatever their size).

Limits, checked before anything is registered (``QuotaError`` names the config key and the fix):
- 60 inbound and 60 outbound rule entries per group; every CIDR is one entry. In a region IPv4 and IPv6
  entries are counted separately and a group reference counts once in each (Amazon VPC quotas).
  On Snow, with no published split, IPv4 and IPv6 entries are counted together.
- Snow: 50 security groups per device (whether the device's default group counts is not documented).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from ..catalog import load_catalog
from ..component import child_name
from ..endpoints import ADMIN_MACHINE, CONTROL_PLANE, ETCD, JENKINS, WORKER
from ..errors import ConfigError, Problem, QuotaError
from ..flows import FlowSet, endpoint_addresses, endpoint_keys, row_ports
from ..icmp import ECHO_TYPES, icmpv6_type
from ..ports import PortRange, PortSet, merge
from ..reader import Network, key_join
from ..topology import Topology
from .scope import Duty, Scope, duties
from .settings import TAG_CLUSTER, TAG_ROLE, AwsSettings, Device, GroupKey

RULES_PER_GROUP_AND_DIRECTION = 60  # Amazon VPC quotas; the Snow blog gives the same number
GROUPS_PER_DEVICE = 50  # Snowball Edge: security groups per device (AWS Snowball Edge developer guide)
MAX_DESCRIPTION = 255
Direction = Literal["ingress", "egress"]

_DESCRIPTION_UNSAFE = re.compile(r"[^A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]")
_ROLE_WORDS = {
    CONTROL_PLANE: "control plane nodes",
    ETCD: "external etcd nodes",
    WORKER: "worker nodes",
    ADMIN_MACHINE: "admin machine",
    JENKINS: "Jenkins server",
}


@dataclass(frozen=True, slots=True)
class Peer:
    """The other side of a rule: one CIDR, or (region mode) one of our groups."""

    cidr: Network | None = None
    group: GroupKey | None = None

    @property
    def key(self) -> str:
        """A stable name part: ``cidr-10-0-0-0-24`` or ``sg-<cluster>-<role>`` (IPv6 exploded: never ambiguous)."""
        if self.cidr is not None:
            text = self.cidr.exploded if self.cidr.version == 6 else str(self.cidr)
            return "cidr-" + re.sub(r"[^0-9a-f]+", "-", text.lower())
        assert self.group is not None
        return "sg-" + "-".join(self.group.parts)

    @property
    def sort_key(self) -> tuple[int, int, str]:
        if self.cidr is not None:
            return (0, self.cidr.version, f"{int(self.cidr.network_address):040d}/{self.cidr.prefixlen:03d}")
        assert self.group is not None
        return (1, 0, self.group.label)


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    direction: Direction
    peer: Peer
    protocol: str  # tcp | udp | icmp | icmpv6 (the names AWS's IpProtocol takes)
    from_port: int  # ICMP: the type
    to_port: int  # ICMP: the code (-1: every code)
    rows: tuple[str, ...]
    description: str
    peer_keys: tuple[str, ...] = ()  # config keys that put the peer here (quota messages)

    @property
    def ports_text(self) -> str:
        if self.protocol in ("icmp", "icmpv6"):
            return str(self.from_port)
        return str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"

    @property
    def name_keys(self) -> tuple[str, ...]:
        return ("in" if self.direction == "ingress" else "out", self.peer.key, self.protocol, self.ports_text)


@dataclass(frozen=True, kw_only=True, slots=True)
class InlineBlock:
    """Snow: one inline ingress/egress block (one AWS IpPermission, one description)."""

    protocol: str
    from_port: int
    to_port: int
    description: str
    cidr_blocks: tuple[str, ...]
    ipv6_cidr_blocks: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSpec:
    key: GroupKey
    name: str  # the group's name in EC2 (immutable: a change replaces the group)
    description: str  # immutable in EC2 too: built from stable keys only
    members: tuple[Network, ...]
    ingress: tuple[RuleSpec, ...]
    egress: tuple[RuleSpec, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    devices: tuple[Device, ...] = ()  # snow: the devices holding a copy of this group

    def rules(self, direction: Direction) -> tuple[RuleSpec, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def blocks(self, direction: Direction) -> tuple[InlineBlock, ...]:
        """Snow: the rules as inline blocks, one per (protocol, ports, description), CIDRs sorted."""
        grouped: dict[tuple[str, int, int, str], list[Network]] = defaultdict(list)
        for rule in self.rules(direction):
            assert rule.peer.cidr is not None, "snow mode uses CIDR peers only"
            grouped[(rule.protocol, rule.from_port, rule.to_port, rule.description)].append(rule.peer.cidr)
        return tuple(
            InlineBlock(
                protocol=proto,
                from_port=lo,
                to_port=hi,
                description=desc,
                cidr_blocks=tuple(str(n) for n in _sorted_nets(nets) if n.version == 4),
                ipv6_cidr_blocks=tuple(str(n) for n in _sorted_nets(nets) if n.version == 6),
            )
            for (proto, lo, hi, desc), nets in sorted(grouped.items())
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class AwsPlan:
    settings: AwsSettings
    groups: tuple[GroupSpec, ...]

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def devices(self) -> tuple[Device, ...]:
        """Snow: the devices that hold at least one group (each gets a provider)."""
        used = {d.name for g in self.groups for d in g.devices}
        return tuple(d for d in self.settings.devices if d.name in used)

    def group(self, key: GroupKey) -> GroupSpec:
        for g in self.groups:
            if g.key == key:
                return g
        raise KeyError(key)


# --- building ----------------------------------------------------------------------------------------

# A flow's port ranges, each with the catalog rows that ask for it (``_rows_by_range``).
_Pieces = list[tuple[PortRange, frozenset[str]]]
# What one duty asks of a rule: its pieces, and the config keys of the far end.
_Asked = tuple[_Pieces, frozenset[str]]
# One group's rules of one direction before merging: per (peer, protocol), what the duties ask of it.
_Acc = dict[tuple[Peer, str], list[_Asked]]


def build_plan(topology: Topology, flows: FlowSet, settings: AwsSettings) -> AwsPlan:
    """The groups and rules for ``topology``; raises QuotaError when AWS or Snow limits would be exceeded."""
    scope = Scope.of(topology, settings)
    members = {k: scope.members(k) for k in scope.keys}
    owed = duties(topology, flows, scope)
    # Each source address -> the groups with a member network holding it (their egress filters what it sends).
    index = _MemberIndex(members)
    sources = {s for d in owed for s in endpoint_addresses(topology, topology.cluster(d.flow.cluster), d.flow.source)}
    containing = {s: index.containing(s) for s in sources}
    shared = _Shared()

    @cache  # the config keys of an endpoint, shared by every rule towards it
    def far_keys(cluster: str, endpoint: str) -> frozenset[str]:
        return frozenset(endpoint_keys(topology, topology.cluster(cluster), endpoint) or (endpoint,))

    acc: dict[GroupKey, dict[Direction, _Acc]] = {k: {"ingress": defaultdict(list), "egress": defaultdict(list)} for k in scope.keys}
    for duty in owed:
        pieces = _rows_by_range(topology, duty, shared)
        for group, direction, rule_peers, far in _duty_rules(topology, duty, members, containing, shared, region=settings.mode == "region"):
            asked = (pieces, far_keys(duty.flow.cluster, far))
            rules = acc[group][direction]
            for peer_proto in rule_peers:
                rules[peer_proto].append(asked)
    groups = tuple(_group_spec(k, members[k], acc[k], settings, shared) for k in scope.keys)
    plan = AwsPlan(settings=settings, groups=groups)
    _check_quotas(plan, topology)
    _check_names(plan)
    return plan


# One rule a duty asks of a group: (group, direction, its peers with their protocols, the endpoint at the far end).
_DutyRule = tuple[GroupKey, Direction, list[tuple[Peer, str]], str]


def _duty_rules(
    topology: Topology,
    duty: Duty,
    members: Mapping[GroupKey, tuple[Network, ...]],
    containing: Mapping[Network, list[GroupKey]],
    shared: _Shared,
    *,
    region: bool,
) -> list[_DutyRule]:
    """Ingress on the groups that admit the flow, egress on the groups that send it, and egress on any group whose
    machines hold a source address (a node subnet listed in clients.ssh, say): that group filters it too."""
    f = duty.flow
    cluster = topology.cluster(f.cluster)
    src = endpoint_addresses(topology, cluster, f.source)
    dst = endpoint_addresses(topology, cluster, f.destination)
    out: list[_DutyRule] = []
    for g in () if duty.stand_in else duty.ingress:
        # (a stand-in's addresses are inside a client list whose CIDR rule already admits them)
        out.append((g, "ingress", _peers(g, duty.egress, src, f.protocol, members, shared, region), f.source))
    for g in duty.egress:
        out.append((g, "egress", _peers(g, duty.ingress, dst, f.protocol, members, shared, region), f.destination))
    if duty.ingress and not duty.stand_in:
        for s in src:
            for h in containing[s]:
                if h not in duty.egress:
                    out.append((h, "egress", _peers(h, duty.ingress, dst, f.protocol, members, shared, region), f.destination))
    return out


def _peers(
    group: GroupKey,
    others: tuple[GroupKey, ...],
    addresses: tuple[Network, ...],
    protocol: str,
    members: Mapping[GroupKey, tuple[Network, ...]],
    shared: _Shared,
    region: bool,
) -> list[tuple[Peer, str]]:
    """The peers of a rule on ``group`` towards ``addresses`` (which ``others`` stand for, if any): in a region
    references to the other groups, otherwise the addresses (Snow: CIDR peers only, see docs/platforms/snow.md);
    only the address families ``group``'s members have."""
    mine = {n.version for n in members[group]}
    if region and others:
        out: list[tuple[Peer, str]] = []
        for other in others:
            both = mine & {n.version for n in members[other]}
            for proto in _protocols(protocol, both):
                out.append((shared.group_peer(other), proto))
        return out
    return [(shared.cidr_peer(n), p) for n in addresses if n.version in mine for p in _protocols(protocol, {n.version})]


def logical_keys(plan: AwsPlan) -> list[tuple[str, ...]]:
    """The stable keys of every child's logical name (the component adds its own name in front)."""
    keys: list[tuple[str, ...]] = []
    if plan.mode == "snow":
        keys += [("snow", d.name) for d in plan.devices]
        keys += [(d.name, *g.key.parts) for g in plan.groups for d in g.devices]
    else:
        keys += [("region",)] + [g.key.parts for g in plan.groups]
        keys += [(*g.key.parts, *r.name_keys) for g in plan.groups for r in (*g.ingress, *g.egress)]
    return keys


def _check_names(plan: AwsPlan) -> None:
    """Names join keys with '-': device 'snow-1' + cluster 'prod' and device 'snow' + cluster '1-prod' would
    collide. Refuse that before Pulumi does, with a fix."""
    seen: dict[str, tuple[str, ...]] = {}
    for keys in logical_keys(plan):
        name = child_name("", *keys)
        if name in seen and seen[name] != keys:
            raise ConfigError.one(
                plan.settings.key,
                f"two objects would get the same name {name!r} ({'/'.join(seen[name])} and {'/'.join(keys)})",
                "rename a device or a cluster so that '<device>-<cluster>' names differ",
            )
        seen[name] = keys


class _MemberIndex:
    """Which groups have a member network containing an address, without scanning every group for each address
    (that scan made planning grow with clusters x groups: 7 of 11 s at 200 Snow clusters, cProfile).

    A network containing ``address`` is ``address`` itself or one of its supernets; the member networks are
    indexed by value, so each prefix length the members use is one lookup."""

    def __init__(self, members: Mapping[GroupKey, tuple[Network, ...]]) -> None:
        self._order = {k: i for i, k in enumerate(members)}
        self._groups: dict[Network, set[GroupKey]] = defaultdict(set)
        for k, nets in members.items():
            for n in nets:
                self._groups[n].add(k)
        self._prefixes = {v: sorted({n.prefixlen for n in self._groups if n.version == v}) for v in (4, 6)}

    def containing(self, address: Network) -> list[GroupKey]:
        """The groups with a member network that contains ``address``, in ``members`` order."""
        found: set[GroupKey] = set()
        for prefix in self._prefixes[address.version]:
            if prefix <= address.prefixlen:
                found |= self._groups.get(address.supernet(new_prefix=prefix), set())
        return sorted(found, key=self._order.__getitem__)


def _rows_by_range(topology: Topology, duty: Duty, shared: _Shared) -> _Pieces:
    """Each port range of a flow with the catalog rows that ask for it (all the flow's rows when none
    matches by port: a load balancer's front port, say). Flows with the same rows, ports and the same ports for
    those rows in their cluster share one answer."""
    catalog = load_catalog()
    cluster = topology.cluster(duty.flow.cluster)
    rows = duty.flow.rows
    ports_of_rows = tuple(row_ports(catalog[row], topology, cluster) for row in rows)
    key = (rows, duty.flow.ports, ports_of_rows)
    found = shared.pieces.get(key)
    if found is None:
        found = shared.pieces[key] = []
        for r in duty.flow.ports:
            asking = frozenset(row for row, ps in zip(rows, ports_of_rows, strict=True) if any(p.lo <= r.hi and r.lo <= p.hi for p in ps))
            found.append((r, asking or frozenset(rows)))
    return found


def _protocols(protocol: str, versions: set[int]) -> list[str]:
    if protocol != "icmp":
        return [protocol] if versions else []
    return [p for v, p in ((4, "icmp"), (6, "icmpv6")) if v in versions]


def _group_spec(
    key: GroupKey, members: tuple[Network, ...], acc: Mapping[Direction, _Acc], settings: AwsSettings, shared: _Shared
) -> GroupSpec:
    rules: dict[Direction, list[RuleSpec]] = {}
    for direction, asked in acc.items():
        rules[direction] = [r for (peer, proto), items in asked.items() for r in _rules(direction, peer, proto, items, shared)]
        rules[direction].sort(key=lambda r: (r.peer.sort_key, r.protocol, r.from_port, r.to_port))
    name = settings.name_prefix + "-".join(key.parts)
    where = f"cluster {key.cluster} " if key.cluster else ""
    description = f"EKS Anywhere {where}{_ROLE_WORDS.get(key.role, key.role)} (eksa-firewall)"
    tags = {**settings.tags, "Name": name, TAG_ROLE: key.role, **({TAG_CLUSTER: key.cluster} if key.cluster else {})}
    return GroupSpec(
        key=key,
        name=name,
        description=description,
        members=members,
        ingress=tuple(rules["ingress"]),
        egress=tuple(rules["egress"]),
        tags=tags,
        devices=settings.devices_for(key) if settings.mode == "snow" else (),
    )


def _rules(direction: Direction, peer: Peer, proto: str, items: list[_Asked], shared: _Shared) -> list[RuleSpec]:
    """Merge one peer's port ranges (ICMP: keep types apart) and carry the catalog rows of each piece."""
    flat = [(r, rows, keys) for ranges, keys in items for r, rows in ranges]
    if proto in ("icmp", "icmpv6"):
        by_type: dict[int, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for r, rows, keys in flat:
            for t in range(r.lo, r.hi + 1):
                by_type[t][0].update(rows)
                by_type[t][1].update(keys)
        pieces = [(PortRange.single(t), rows, keys) for t, (rows, keys) in sorted(by_type.items())]
    else:
        pieces = []
        for merged in merge(r for r, _, _ in flat):
            rows = {x for r, rs, _ in flat if merged.lo <= r.lo and r.hi <= merged.hi for x in rs}
            keys = {x for r, _, ks in flat if merged.lo <= r.lo and r.hi <= merged.hi for x in ks}
            pieces.append((merged, rows, keys))
    out: list[RuleSpec] = []
    for r, rows, keys in pieces:
        from_port, to_port = r.lo, r.hi
        if proto == "icmp":
            to_port = 0 if r.lo in ECHO_TYPES else -1  # echo: code 0, its only code; others: every code (-1)
        elif proto == "icmpv6":
            from_port, to_port = icmpv6_type(r.lo), 0 if r.lo in ECHO_TYPES else -1
        sorted_rows, description = shared.rows(rows)
        out.append(
            RuleSpec(
                direction=direction,
                peer=peer,
                protocol=proto,
                from_port=from_port,
                to_port=to_port,
                rows=sorted_rows,
                description=description,
                peer_keys=shared.keys(keys),
            )
        )
    return out


class _Shared:
    """What the rules of one plan share rather than each holding a copy: one ``Peer`` per CIDR and per group, one
    sorted tuple of catalog rows (with its description) per set of rows, one sorted tuple of config keys per set of
    keys, and ``_rows_by_range``'s answers."""

    def __init__(self) -> None:
        self._cidr_peers: dict[Network, Peer] = {}
        self._group_peers: dict[GroupKey, Peer] = {}
        self._rows: dict[frozenset[str], tuple[tuple[str, ...], str]] = {}
        self._keys: dict[frozenset[str], tuple[str, ...]] = {}
        # By (rows, ports, the ports of those rows in the flow's cluster).
        self.pieces: dict[tuple[tuple[str, ...], PortSet, tuple[PortSet, ...]], _Pieces] = {}

    def cidr_peer(self, network: Network) -> Peer:
        peer = self._cidr_peers.get(network)
        if peer is None:
            peer = self._cidr_peers[network] = Peer(cidr=network)
        return peer

    def group_peer(self, key: GroupKey) -> Peer:
        peer = self._group_peers.get(key)
        if peer is None:
            peer = self._group_peers[key] = Peer(group=key)
        return peer

    def rows(self, rows: set[str]) -> tuple[tuple[str, ...], str]:
        """The rows sorted, and their description (``describe``)."""
        key = frozenset(rows)
        found = self._rows.get(key)
        if found is None:
            ordered = tuple(sorted(rows))
            found = self._rows[key] = (ordered, describe(ordered))
        return found

    def keys(self, keys: set[str]) -> tuple[str, ...]:
        key = frozenset(keys)
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = tuple(sorted(keys))
        return found


def describe(rows: tuple[str, ...]) -> str:
    """``EKS-A Kubernetes API server [cp-kube-apiserver, snow-kube-apiserver]``: purpose and catalog rows.

    Only the characters EC2 accepts in a rule description, at most 255 of them: purposes are dropped
    first, then trailing rows (``+N more``), never the first row.
    """
    catalog = load_catalog()
    purposes = list(dict.fromkeys(catalog[r].purpose for r in rows))
    ids = ", ".join(rows)
    for text in (f"EKS-A {'; '.join(purposes)} [{ids}]", f"EKS-A [{ids}]"):
        clean = _DESCRIPTION_UNSAFE.sub(" ", text)
        if len(clean) <= MAX_DESCRIPTION:
            return clean
    kept: list[str] = []
    for i, r in enumerate(rows):
        candidate = f"EKS-A [{', '.join([*kept, r])} +{len(rows) - i - 1} more]"
        if len(candidate) > MAX_DESCRIPTION:
            break
        kept.append(r)
    return _DESCRIPTION_UNSAFE.sub(" ", f"EKS-A [{', '.join(kept)} +{len(rows) - len(kept)} more]")


def _sorted_nets(nets: Iterable[Network]) -> list[Network]:
    return sorted(set(nets), key=lambda n: (n.version, int(n.network_address), n.prefixlen))


# --- quotas --------------------------------------------------------------------------------------------


def rule_entries(group: GroupSpec, direction: Direction, mode: str) -> dict[str, int]:
    """How AWS counts a group's rules in one direction: {"ipv4": n, "ipv6": m} (Snow: {"all": n})."""
    rules = group.rules(direction)
    if mode == "snow":
        return {"all": len(rules)}
    refs = sum(1 for r in rules if r.peer.group is not None)
    v4 = sum(1 for r in rules if r.peer.cidr is not None and r.peer.cidr.version == 4)
    v6 = sum(1 for r in rules if r.peer.cidr is not None and r.peer.cidr.version == 6)
    return {"ipv4": v4 + refs, "ipv6": v6 + refs}


def _counts_in(rule: RuleSpec, family: str) -> bool:
    if family == "all" or rule.peer.cidr is None:
        return True  # a group reference counts in both families
    return rule.peer.cidr.version == (4 if family == "ipv4" else 6)


def _check_quotas(plan: AwsPlan, topology: Topology) -> None:
    problems: list[Problem] = []
    settings = plan.settings
    where = "Snow" if plan.mode == "snow" else "AWS"
    for g in plan.groups:
        for direction in ("ingress", "egress"):
            for family, count in rule_entries(g, direction, plan.mode).items():
                if count <= RULES_PER_GROUP_AND_DIRECTION:
                    continue
                counted = [r for r in g.rules(direction) if _counts_in(r, family)]
                by_key = Counter(k for r in counted for k in r.peer_keys)
                top, top_n = by_key.most_common(1)[0] if by_key else (settings.key, count)
                breakdown = ", ".join(f"{k}: {n}" for k, n in by_key.most_common(4))
                fam = "" if family == "all" else f" {family.replace('ipv', 'IPv')}"
                problems.append(
                    Problem(
                        top,
                        f"security group {g.key.label} would need {count}{fam} {'inbound' if direction == 'ingress' else 'outbound'} rules; "
                        f"{where} allows {RULES_PER_GROUP_AND_DIRECTION} per group and direction (every CIDR and port range is one rule; "
                        f"rules by address list: {breakdown}; this list: {top_n})",
                        f"summarize {top} into fewer, wider CIDRs, or move some of these machines to another cluster",
                    )
                )
    if plan.mode == "snow":
        per_device = Counter(d.name for g in plan.groups for d in g.devices)
        for device, n in sorted(per_device.items()):
            if n > GROUPS_PER_DEVICE:
                problems.append(
                    Problem(
                        key_join(settings.key, "placement"),
                        f"device {device} would hold {n} security groups of this stack; Snow allows {GROUPS_PER_DEVICE} per device",
                        f"place some clusters on other devices with {key_join(settings.key, 'placement')}: {{<cluster>: [<device>]}}",
                    )
                )
    if problems:
        raise QuotaError(problems)
