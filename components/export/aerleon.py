"""The flows as an Aerleon policy: network and service definitions and a policy, as YAML texts (pure).

Aerleon (PyPI ``aerleon``, the maintained successor of Capirca) generates nftables, iptables, Juniper SRX, Palo
Alto, Cisco ASA and many other configurations from one policy. This module writes its YAML formats; it never
imports Aerleon. Formats, as documented for Aerleon 1.18.0 (github.com/aerleon/aerleon, docs/reference/):
``naming.md`` (networks and services), ``yaml_reference.md`` (policies, includes, ICMP type names) and
``generators.md`` (the options of each target).

``aerleon_files`` returns the files of one export, paths relative to an Aerleon repository (aclgen's default
directories are ``./def`` and ``./policies``, aerleon/utils/config.py; it renders the ``pol`` folders only):

    def/<name>-networks.yaml             one network per endpoint (a role of a cluster, a VIP, the admin machine, ...)
    def/<name>-services.yaml             one service per catalog row the flows use, named after the row
    policies/includes/<name>-ipv4.yaml   the IPv4 terms: one per flow, in the flows' order
    policies/includes/<name>-ipv6.yaml   the IPv6 terms, when some flow has IPv6 addresses at both ends
    policies/pol/<name>.yaml             a policy: one filter per address family with default targets,
                                         including the terms, then the default term

A network team's own policies include the terms files under their own headers; regenerating rewrites only these
files. Names and order come from stable keys (cluster, endpoint, catalog row), so a change to the environment
is a change to the lines it concerns.

What Aerleon's generators need, and where it is in Aerleon 1.18.0's source (aerleon/lib/):
- Term names of at most 24 characters: iptables' ``_TERM_MAX_LENGTH`` (iptables.py); longer names are errors.
- One filter per address family: iptables filters are ``inet`` or ``inet6`` (iptables.py), and a term with no
  address of the filter's family is skipped with a warning (iptables.py, junipersrx.py, paloaltofw.py). The ASA
  generator renders IPv4 only (ciscoasa.py ``Term(af=4)``): it is a target of the IPv4 filter only.
- One-line comments of at most 128 characters: the nftables generator writes a ``comment`` statement per line
  into the term's chain (nftables.py ``RulesetGenerator``), and nft accepts one chain comment of at most 128.
- ICMP: the nftables generator fails on a term with exactly one ICMP type (nftables.py ``PortsAndProtocols``
  concatenates the list), so each ICMP term has an nftables twin listing the type twice (nft merges the two).
- nftables has no ``reject`` action (nftables.py ``_BuildTokens``): a reject default term excludes nftables,
  whose base chain drops by default.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..addresses import within
from ..catalog import Catalog, Row, load_catalog
from ..endpoints import (
    ADMIN_MACHINE,
    API_CLIENTS,
    API_LOAD_BALANCER,
    BMC,
    CONTROL_PLANE,
    CONTROL_PLANE_VIP,
    DHCP_CLIENTS,
    ETCD,
    JENKINS,
    JENKINS_CLIENTS,
    MANAGEMENT_CLUSTER,
    NODE_LOCAL,
    NODEPORT_CLIENTS,
    PODS_ON_NODE,
    PRISM_CENTRAL,
    ROUTERS,
    SNOW_DEVICE,
    SSH_CLIENTS,
    TINKERBELL_VIP,
    VCENTER,
    WORKER,
)  # fmt: skip
from ..errors import EksaFirewallError
from ..flows import Flow, FlowSet, endpoint_addresses
from ..ports import PortSet, format_ports, merge, subtract
from ..reader import Network, canonical_networks
from ..topology import Topology

MAX_TERM_NAME = 24  # iptables (aerleon/lib/iptables.py _TERM_MAX_LENGTH)
CLUSTER_IN_NAME = 9  # characters of a cluster's name in its term names (the rest: up to 14, e.g. sshc-etcd-tcp6)
MAX_COMMENT = 128  # nft's limit for a chain comment (the nftables generator's term comments)
DEFAULT_ACTIONS = ("deny", "reject")
DEFAULT_PREFIX = "EKSA"
_PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

# Endpoints whose addresses belong to one cluster; every other endpoint is one network for the environment
# (unless its addresses differ between clusters, which the code checks).
CLUSTER_SCOPED = frozenset({CONTROL_PLANE, ETCD, WORKER, MANAGEMENT_CLUSTER, CONTROL_PLANE_VIP, API_LOAD_BALANCER, PODS_ON_NODE, ROUTERS})

# Short forms of the endpoints in term names (24 characters at most, see MAX_TERM_NAME).
ABBREVIATIONS = {
    CONTROL_PLANE: "cp",
    ETCD: "etcd",
    WORKER: "wk",
    ADMIN_MACHINE: "adm",
    MANAGEMENT_CLUSTER: "mc",
    CONTROL_PLANE_VIP: "vip",
    API_LOAD_BALANCER: "lb",
    TINKERBELL_VIP: "tvip",
    BMC: "bmc",
    VCENTER: "vc",
    PRISM_CENTRAL: "pc",
    SNOW_DEVICE: "snow",
    JENKINS: "jks",
    API_CLIENTS: "apic",
    SSH_CLIENTS: "sshc",
    NODEPORT_CLIENTS: "npc",
    JENKINS_CLIENTS: "jksc",
    DHCP_CLIENTS: "dhcp",
    PODS_ON_NODE: "pod",
    ROUTERS: "rtr",
}

# ICMP type -> Aerleon's names for ICMP and ICMPv6 (yaml_reference.md, "ICMP_TYPE"). The flows carry ICMP types;
# on IPv6 the same message has another number (echo request: 8, ICMPv6 128), which Aerleon's names take care of.
ICMP_NAMES = {
    0: ("echo-reply", "echo-reply"),
    3: ("unreachable", "destination-unreachable"),
    8: ("echo-request", "echo-request"),
    11: ("time-exceeded", "time-exceeded"),
    12: ("parameter-problem", "parameter-problem"),
}

# The ready policy's targets per address family (generators.md): None = not in that family's filter.
# {hook}/{chain}: input/INPUT for a policy of every flow, forward/FORWARD for a segment's edge.
TARGETS: tuple[tuple[str, str | None, str | None], ...] = (
    ("nftables", "inet {hook}", "inet6 {hook}"),
    ("iptables", "{chain} DROP inet", "{chain} DROP inet6"),
    ("srx", "from-zone all to-zone all inet", "from-zone all to-zone all inet6"),
    ("paloalto", "from-zone any to-zone any inet", "from-zone any to-zone any inet6"),
    ("ciscoasa", "{name}", None),
)


class ExportError(EksaFirewallError):
    """The export cannot be written as asked (an option names what to fix)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AerleonOptions:
    """How to export: names, the enforcement point and the default action.

    ``segment``: the networks of an L2 segment behind the enforcement point. Empty: the policy holds every flow
    (a firewall every flow crosses, or the hosts themselves). Otherwise it holds the flows that cross between the
    segment and the rest, restricted to the addresses on either side, and the ready policy filters forwarding.
    """

    name: str
    prefix: str = DEFAULT_PREFIX
    segment: tuple[Network, ...] = ()
    default_action: str = "deny"

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ExportError(
                f"--name {self.name!r}: not a file name Aerleon can use; use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
            )
        if not _PREFIX_RE.match(self.prefix):
            raise ExportError(
                f"--prefix {self.prefix!r}: Aerleon names are upper-case here; use A-Z, 0-9 and '_', starting with a letter (e.g. EKSA_PROD)"
            )
        if self.default_action not in DEFAULT_ACTIONS:
            raise ExportError(f"--default-action {self.default_action!r}: use one of {', '.join(DEFAULT_ACTIONS)}")


def parse_segment(texts: Iterable[str]) -> tuple[Network, ...]:
    """``--segment`` values -> networks; an address with host bits set is an error (which network was meant?)."""
    out: list[Network] = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as exc:
            raise ExportError(f"--segment {text!r}: {exc}; give the segment's network, e.g. 198.51.100.0/24") from exc
    return canonical_networks(out)


# --- the model -----------------------------------------------------------------------------------


class NetworkDef(NamedTuple):
    name: str
    description: str
    addresses: tuple[Network, ...]


class ServiceDef(NamedTuple):
    name: str
    protocol: str
    ports: PortSet
    row: str
    purpose: str


class Term(NamedTuple):
    name: str
    comment: str  # one line (nftables)
    notes: tuple[str, ...]  # YAML comment lines above the term, for people
    source: str
    destination: str
    protocol: str
    ports: tuple[str, ...] = ()  # service names
    icmp_types: tuple[str, ...] = ()
    platform: tuple[str, ...] = ()
    platform_exclude: tuple[str, ...] = ()


class AerleonPolicy(NamedTuple):
    """Everything one export holds; ``aerleon_files`` renders it."""

    options: AerleonOptions
    networks: tuple[NetworkDef, ...]  # sorted by name
    services: tuple[ServiceDef, ...]  # sorted by name
    terms: dict[int, tuple[Term, ...]]  # IP version -> terms, in the flows' order


# --- names ---------------------------------------------------------------------------------------


def token(*parts: str) -> str:
    """An Aerleon network or service name: ``EKSA``, ``mgmt``, ``control-plane`` -> ``EKSA_MGMT_CONTROL_PLANE``."""
    return "_".join(re.sub(r"[^A-Z0-9]+", "_", p.upper()).strip("_") for p in parts)


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def abbreviation(endpoint: str) -> str:
    known = ABBREVIATIONS.get(endpoint)
    if known:
        return known
    # An endpoint this module does not know yet: its initials and a digest, so that two never meet.
    return "".join(w[0] for w in endpoint.split("-") if w)[:2] + _digest(endpoint, 2)


def cluster_part(cluster: str) -> str:
    """The cluster in term names: its name, or when longer than 9 characters its first 5 and a digest of it."""
    cluster = re.sub(r"[^a-z0-9-]+", "-", cluster.lower())
    return cluster if len(cluster) <= CLUSTER_IN_NAME else cluster[:5] + _digest(cluster, 4)


def term_name(cluster: str, rest: str) -> str:
    """``<cluster>-<rest>`` in at most 24 characters (iptables). Every term of a cluster starts the same way;
    only a term whose ``rest`` is unusually long gets the cluster's digest alone, or a digest of the whole name."""
    for name in (f"{cluster_part(cluster)}-{rest}", f"{_digest(cluster, 4)}-{rest}"):
        if len(name) <= MAX_TERM_NAME:
            return name
    return "t" + _digest(f"{cluster}-{rest}", MAX_TERM_NAME - 1)


def one_line(text: str, limit: int = MAX_COMMENT) -> str:
    text = " ".join(text.replace('"', "'").split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# --- networks ------------------------------------------------------------------------------------


def _endpoint_networks(topology: Topology, flows: FlowSet, prefix: str) -> dict[tuple[str, str], NetworkDef]:
    """(cluster, endpoint) -> its network, for every endpoint of the flows."""
    by_endpoint: dict[str, dict[str, tuple[Network, ...]]] = {}
    for f in flows.flows:
        cluster = topology.cluster(f.cluster)
        for ep in (f.source, f.destination):
            seen = by_endpoint.setdefault(ep, {})
            if f.cluster not in seen:
                seen[f.cluster] = endpoint_addresses(topology, cluster, ep)
    out: dict[tuple[str, str], NetworkDef] = {}
    owners: dict[str, str] = {}
    for ep, per_cluster in by_endpoint.items():
        shared = ep not in CLUSTER_SCOPED and len(set(per_cluster.values())) == 1
        for cluster, addresses in per_cluster.items():
            if shared:
                net = NetworkDef(token(prefix, ep), ep, addresses)
            else:
                net = NetworkDef(token(prefix, cluster, ep), f"cluster {cluster}: {ep}", addresses)
            if owners.setdefault(net.name, net.description) != net.description:
                raise ExportError(
                    f"two endpoints would share the Aerleon name {net.name} ({owners[net.name]}; {net.description}): rename one of the clusters"
                )
            out[(cluster, ep)] = net
    return out


def _split(addresses: Sequence[Network], segment: Sequence[Network]) -> tuple[list[Network], list[Network]]:
    """The parts of ``addresses`` inside the segment and outside it (CIDR blocks nest or are disjoint)."""
    inside: list[Network] = []
    outside: list[Network] = []
    for net in addresses:
        rest = [net]
        for seg in segment:
            if seg.version != net.version:
                continue
            left: list[Network] = []
            for r in rest:
                if within(r, seg):
                    inside.append(r)
                elif within(seg, r):
                    inside.append(seg)
                    left.extend(r.address_exclude(seg))  # type: ignore[arg-type]
                else:
                    left.append(r)
            rest = left
        outside.extend(rest)
    return _collapse(inside), _collapse(outside)


def _collapse(nets: Iterable[Network]) -> list[Network]:
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]  # type: ignore[arg-type]


# --- services ------------------------------------------------------------------------------------


def _within(ports: PortSet, outer: PortSet) -> bool:
    return not subtract(ports, outer)


def _flow_services(flow: Flow, catalog: Catalog, prefix: str) -> list[ServiceDef]:
    """The services whose ports make up exactly the flow's ports.

    A row whose catalog ports are in the flow is its own service, named after the row. Ports the environment
    moved (``apiServerPort``, the etcd ports, a load balancer's port) are the rest: each row that did not fit
    gets a service named after it and those ports (``EKSA_CP_KUBE_APISERVER_443``)."""
    rows = [catalog[r] for r in flow.rows]
    fitted = [r for r in rows if _within(r.ports, flow.ports)]
    moved = [r for r in rows if r not in fitted]
    out = [_service(prefix, r, r.ports, suffix=False) for r in fitted]
    rest = subtract(flow.ports, merge([p for r in fitted for p in r.ports]))
    if rest and not moved:
        raise ExportError(
            f"cannot attribute the ports {format_ports(rest)} of flow {flow} to its rows: a bug in eksa-firewall, please report it"
        )
    # (A moved port that another row of the flow already opens needs no service of its own.)
    return out + [_service(prefix, r, rest, suffix=True) for r in moved] if rest else out


def _service(prefix: str, row: Row, ports: PortSet, *, suffix: bool) -> ServiceDef:
    name = token(prefix, row.id, *([format_ports(ports)] if suffix else []))
    return ServiceDef(name=name, protocol=row.protocol, ports=ports, row=row.id, purpose=row.purpose)


def _icmp_names(flow: Flow, version: int) -> tuple[str, ...]:
    names: list[str] = []
    for r in flow.ports:
        for t in range(r.lo, r.hi + 1):
            pair = ICMP_NAMES.get(t)
            if pair is None:
                raise ExportError(f"ICMP type {t} of flow {flow} has no Aerleon name here; known types: {sorted(ICMP_NAMES)}")
            names.append(pair[0] if version == 4 else pair[1])
    return tuple(dict.fromkeys(names))


# --- terms ---------------------------------------------------------------------------------------


class _Side(NamedTuple):
    name: str
    addresses: tuple[Network, ...]


def _sides(net: NetworkDef, segment: Sequence[Network], extra: dict[str, NetworkDef]) -> tuple[_Side | None, _Side | None]:
    """The endpoint's (inside, outside) parts as networks: the endpoint's own when it is wholly on one side.
    Without a segment everything is "outside": every flow is one part, from outside to outside."""
    if not segment:
        return None, _Side(net.name, net.addresses)
    inside, outside = _split(net.addresses, segment)
    if not outside:
        return _Side(net.name, net.addresses), None
    if not inside:
        return None, _Side(net.name, net.addresses)
    parts: list[_Side] = []
    for where, addresses in (("inside", inside), ("outside", outside)):
        name = f"{net.name}_{where.upper()}"
        extra[name] = NetworkDef(name, f"{net.description}, {where} the segment", tuple(addresses))
        parts.append(_Side(name, tuple(addresses)))
    return parts[0], parts[1]


def _families(src: Sequence[Network], dst: Sequence[Network]) -> list[int]:
    return sorted({s.version for s in src} & {d.version for d in dst})


def build_policy(topology: Topology, flows: FlowSet, options: AerleonOptions, catalog: Catalog | None = None) -> AerleonPolicy:
    catalog = catalog or load_catalog()
    segment = options.segment
    nets = _endpoint_networks(topology, flows, options.prefix)
    extra: dict[str, NetworkDef] = {}
    services: dict[str, ServiceDef] = {}
    terms: dict[int, list[Term]] = {4: [], 6: []}
    for f in flows.flows:
        if segment and f.source in NODE_LOCAL:
            continue  # a node's own pods reaching it: the packet never leaves the node, so it crosses no segment
        src_net, dst_net = nets[(f.cluster, f.source)], nets[(f.cluster, f.destination)]
        src_in, src_out = _sides(src_net, segment, extra)
        dst_in, dst_out = _sides(dst_net, segment, extra)
        if not segment:
            parts = [("", src_out, dst_out)]
        else:
            parts = [(d, s, t) for d, s, t in (("o", src_in, dst_out), ("i", src_out, dst_in)) if s is not None and t is not None]
            parts = [(d if len(parts) > 1 else "", s, t) for d, s, t in parts]
        flow_services = _flow_services(f, catalog, options.prefix) if f.protocol != "icmp" else []
        for s in flow_services:
            services.setdefault(s.name, s)
        for direction, src, dst in parts:
            assert src is not None and dst is not None
            for version in _families(src.addresses, dst.addresses):
                terms[version].extend(_terms(f, version, direction, src.name, dst.name, flow_services, catalog))
    for version, ts in terms.items():
        names = [t.name for t in ts]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ExportError(f"term names {dupes} are not unique in the IPv{version} filter: a bug in eksa-firewall, please report it")
    networks = {n.name: n for n in nets.values()} | extra
    return AerleonPolicy(
        options=options,
        networks=tuple(networks[k] for k in sorted(networks)),
        services=tuple(services[k] for k in sorted(services)),
        terms={v: tuple(ts) for v, ts in terms.items() if ts},
    )


def _comment(title: str, rows: Sequence[str]) -> str:
    """The term's one-line comment: the flow and its catalog rows; only the rows when both do not fit."""
    full = f"{title} ({', '.join(rows)})"
    return one_line(full if len(full) <= MAX_COMMENT else f"rows: {', '.join(rows)}")


def _terms(f: Flow, version: int, direction: str, src: str, dst: str, flow_services: list[ServiceDef], catalog: Catalog) -> list[Term]:
    family = "" if version == 4 else "6"
    base = f"{abbreviation(f.source)}-{abbreviation(f.destination)}-{f.protocol}{family}"
    suffix = f"-{direction}" if direction else ""
    where = {"o": " (from the segment)", "i": " (into the segment)", "": ""}[direction]
    title = f"{f.cluster}: {f.source} -> {f.destination}{where}"
    if f.protocol == "icmp":
        proto = "icmp" if version == 4 else "icmpv6"
        types = _icmp_names(f, version)
        notes = (f"{title}, {proto} {' '.join(types)}", *(f"  {r}: {catalog[r].purpose}" for r in f.rows))
        comment = _comment(title, f.rows)
        common = Term(name=term_name(f.cluster, base + suffix), comment=comment, notes=notes, source=src, destination=dst, protocol=proto)
        if len(types) > 1:
            return [common._replace(icmp_types=types)]
        # Aerleon 1.18's nftables generator fails on a single ICMP type: its own term lists it twice.
        twin = common._replace(
            name=term_name(f.cluster, f"{base}n{suffix}"),
            notes=("the same for nftables, the type listed twice (Aerleon's nftables generator fails on one type)",),
            icmp_types=types * 2,
            platform=("nftables",),
        )
        return [common._replace(icmp_types=types, platform_exclude=("nftables",)), twin]
    notes = (f"{title}, {f.protocol.upper()} {f.ports_text}", *(f"  {s.row}: {s.purpose} ({format_ports(s.ports)})" for s in flow_services))
    comment = _comment(title, f.rows)
    return [
        Term(
            name=term_name(f.cluster, base + suffix),
            comment=comment,
            notes=notes,
            source=src,
            destination=dst,
            protocol=f.protocol,
            ports=tuple(s.name for s in flow_services),
        )
    ]


# --- YAML ----------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _words(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


GENERATED = "Written by `eksa-firewall export`: regenerate it when the environment changes; do not edit it."


def paths(name: str) -> dict[str, str]:
    """The files of an export named ``name``, by kind."""
    return {
        "networks": f"def/{name}-networks.yaml",
        "services": f"def/{name}-services.yaml",
        "ipv4": f"policies/includes/{name}-ipv4.yaml",
        "ipv6": f"policies/includes/{name}-ipv6.yaml",
        "policy": f"policies/pol/{name}.yaml",
    }


def render_networks(policy: AerleonPolicy) -> str:
    lines = [
        f"# Aerleon network definitions of {policy.options.name}: one network per endpoint of the EKS Anywhere flows.",
        f"# {GENERATED}",
        "networks:",
    ]
    for net in policy.networks:
        lines += [f"  # {net.description}", f"  {net.name}:", "    values:"]
        lines += [f"      - address: {_q(str(a))}" for a in net.addresses]
    return "\n".join(lines) + "\n"


def render_services(policy: AerleonPolicy) -> str:
    lines = [
        f"# Aerleon service definitions of {policy.options.name}: one service per catalog row the flows use.",
        f"# {GENERATED}",
        "services:",
    ]
    for s in policy.services:
        lines += [f"  # {s.row}: {s.purpose}", f"  {s.name}:"]
        for r in s.ports:
            port = str(r.lo) if r.lo == r.hi else _q(f"{r.lo}-{r.hi}")
            lines += [f"    - port: {port}", f"      protocol: {s.protocol}"]
    return "\n".join(lines) + "\n"


def render_terms(policy: AerleonPolicy, version: int) -> str:
    lines = [
        f"# The IPv{version} terms of {policy.options.name}: one per flow (eksa-firewall's flows, address level).",
        f"# Include it in a filter of your own: `- include: includes/{policy.options.name}-ipv{version}.yaml`.",
        f"# {GENERATED}",
        "terms:",
    ]
    for t in policy.terms.get(version, ()):
        lines += [f"  # {n}" for n in t.notes]
        lines += [
            f"  - name: {t.name}",
            f"    comment: {_q(t.comment)}",
            f"    source-address: {t.source}",
            f"    destination-address: {t.destination}",
        ]
        lines.append(f"    protocol: {t.protocol}")
        if t.ports:
            lines.append(f"    destination-port: {_words(t.ports)}")
        if t.icmp_types:
            lines.append(f"    icmp-type: {_words(t.icmp_types)}")
        if t.platform:
            lines.append(f"    platform: {_words(t.platform)}")
        if t.platform_exclude:
            lines.append(f"    platform-exclude: {_words(t.platform_exclude)}")
        lines.append("    action: accept")
    return "\n".join(lines) + "\n"


def render_policy(policy: AerleonPolicy) -> str:
    o = policy.options
    forward = bool(o.segment)
    where = f"the edge of {', '.join(map(str, o.segment))}" if forward else "every flow"
    lines = [
        f"# Aerleon policy of {o.name}: the EKS Anywhere flows ({where}), one filter per address family.",
        "# Targets: nftables, iptables, Juniper SRX, Palo Alto and Cisco ASA (IPv4); for other targets or your own",
        "# zones and filter names, include the terms files in a policy of your own.",
        f"# {GENERATED}",
        "filters:",
    ]
    for version in sorted(policy.terms) or [4]:
        family = "" if version == 4 else "6"
        lines += [
            "  - header:",
            f"      comment: {_q(one_line(f'EKS Anywhere flows of {o.name}, IPv{version}, {where} (eksa-firewall export)'))}",
        ]
        lines.append("      targets:")
        for platform, v4, v6 in TARGETS:
            text = v4 if version == 4 else v6
            if text is not None:
                fields = {"hook": "forward" if forward else "input", "chain": "FORWARD" if forward else "INPUT", "name": o.name}
                lines.append(f"        {platform}: {_q(text.format(**fields))}")
        lines.append("    terms:")
        if version in policy.terms:
            lines.append(f"      - include: includes/{o.name}-ipv{version}.yaml")
        action = o.default_action
        lines += [f"      - name: default-{action}{family}", f"        comment: {_q(f'everything else: {action}')}"]
        if action == "reject":
            lines.append("        platform-exclude: [nftables]  # no reject in Aerleon's nftables generator: its chain policy drops")
        lines.append(f"        action: {action}")
    return "\n".join(lines) + "\n"


def aerleon_files(topology: Topology, flows: FlowSet, options: AerleonOptions, catalog: Catalog | None = None) -> dict[str, str]:
    """Relative path -> text of every file of the export, in a fixed order."""
    policy = build_policy(topology, flows, options, catalog)
    p = paths(options.name)
    files = {p["networks"]: render_networks(policy), p["services"]: render_services(policy)}
    for version in sorted(policy.terms):
        files[p[f"ipv{version}"]] = render_terms(policy, version)
    files[p["policy"]] = render_policy(policy)
    return files
