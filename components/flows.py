"""Flows: who may reach whom, on which protocol and ports, and which catalog rows say so.

``build_flows`` is a pure function of the catalog and the topology. Its result is canonical: one flow per
(cluster, source, destination, protocol), ports merged, rows sorted, flows sorted. Sources and destinations
are *endpoints*: node roles of the cluster (``control-plane``, ``etcd`` when external, ``worker``) or
peers (``admin-machine``, ``api-clients``, ``vcenter``, ...). ``endpoint_addresses`` says which addresses an
endpoint stands for; ``expand`` turns flows into address-level accesses, the unit ``verify`` compares.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from .addresses import Network, canonical_networks
from .catalog import Catalog, Protocol, Row, load_catalog
from .endpoints import (
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
    NODE_ROLES,
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
from .errors import ConfigError, Problem
from .exposure import anywhere_families, covered, exposure_share
from .ports import PortRange, PortSet, format_ports, merge
from .reader import key_join
from .topology import Cluster, Topology

__all__ = ["API_LOAD_BALANCER", "NODE_ROLES", "Access", "Flow", "FlowSet", "LocalOnly", "build_flows", "endpoint_addresses", "expand"]

UNADDRESSED = ipaddress.IPv4Network("0.0.0.0/32")  # the source of a DHCPDISCOVER


@dataclass(frozen=True, order=True, kw_only=True, slots=True)
class Flow:
    """One permission between two endpoints of a cluster: protocol, merged ports and the rows that ask for it."""

    cluster: str
    source: str
    destination: str
    protocol: Protocol
    ports: PortSet  # ICMP: the ICMP types
    rows: tuple[str, ...]

    @property
    def ports_text(self) -> str:
        return format_ports(self.ports)

    def to_json(self) -> dict[str, object]:
        return {
            "cluster": self.cluster,
            "source": self.source,
            "destination": self.destination,
            "protocol": self.protocol,
            "ports": self.ports_text,
            "rows": list(self.rows),
        }


@dataclass(frozen=True, order=True, kw_only=True, slots=True)
class LocalOnly:
    """A catalog row that needs no network rule in this cluster (Used By: Self), with the reason."""

    cluster: str
    row: str
    why: str

    def to_json(self) -> dict[str, str]:
        return {"cluster": self.cluster, "row": self.row, "why": self.why}


@dataclass(frozen=True, kw_only=True, slots=True)
class FlowSet:
    """What ``build_flows`` returns: the flows and the local-only rows, both sorted."""

    flows: tuple[Flow, ...]
    local_only: tuple[LocalOnly, ...]

    def for_cluster(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.cluster == name)


@dataclass(frozen=True, slots=True)
class Access:
    """One address-level permission: ``source`` may open ``protocol`` connections to ``destination:ports``.

    Sorted by source, destination (IPv4 before IPv6), protocol and ports."""

    source: Network
    destination: Network
    protocol: Protocol
    ports: PortRange

    @property
    def sort_key(self) -> tuple[object, ...]:
        return (self.source.version, self.source, self.destination.version, self.destination, self.protocol, self.ports)

    def __lt__(self, other: Access) -> bool:
        return self.sort_key < other.sort_key


# --- which rows apply --------------------------------------------------------------------------


def _topology_conditions(topology: Topology) -> dict[str, bool]:
    """The catalog conditions that depend on the whole environment (``external-etcd`` is per cluster)."""
    return {
        "always": True,
        "never": False,
        "cilium": topology.cilium,
        "jenkins": topology.jenkins is not None,
        "bmcs": bool(topology.endpoints.bmcs),
    }


def row_applies(row: Row, topology: Topology, cluster: Cluster) -> bool:
    return _applies_to_environment(row, topology, _topology_conditions(topology)) and _applies_to_cluster(row, cluster)


def _applies_to_environment(row: Row, topology: Topology, conditions: Mapping[str, bool]) -> bool:
    """Platform, EKS-A version and the environment-wide condition (``conditions``: ``_topology_conditions``)."""
    return row.for_platform(topology.platform) and row.for_version(topology.eksa_version) and conditions.get(row.when, True)


def _applies_to_cluster(row: Row, cluster: Cluster) -> bool:
    """What depends on the cluster: the ``external-etcd`` condition, and the add-on a row belongs to."""
    return (row.when != "external-etcd" or cluster.external_etcd is not None) and (row.addon is None or row.addon in cluster.addons)


def row_ports(row: Row, topology: Topology, cluster: Cluster) -> PortSet:
    """The row's ports after the topology's options (API server port, custom etcd ports, ...)."""
    option = row.port_option
    if option is None:
        return row.ports
    single = {
        "api-server": cluster.api_server_port,
        "etcd-client": cluster.etcd_client_port,
        "etcd-peer": cluster.etcd_peer_port,
        "prism-central": topology.endpoints.prism_central_port,
    }
    if option == "etcd":
        return merge([PortRange.single(cluster.etcd_client_port), PortRange.single(cluster.etcd_peer_port)])
    return (PortRange.single(single[option]),)


# --- endpoints ---------------------------------------------------------------------------------


def _expand_word(word: str, topology: Topology, cluster: Cluster) -> tuple[str, ...]:
    """A catalog word -> the endpoints it stands for in this cluster.

    A node-local word (``pods-on-node``) stands for packets that never leave the node they reach: it is an
    endpoint only where the platform's firewall sits on the node itself (``Platform.host_firewall``)."""
    if word in NODE_LOCAL:
        return (word,) if topology.platform_spec.host_firewall else ()
    if word == "nodes":
        return cluster.kubernetes_roles
    if word == "machines":
        return cluster.roles
    if word == ETCD:
        return (cluster.machine_role(ETCD),)
    if word == WORKER:
        return (WORKER,) if cluster.worker_groups else ()
    if word == MANAGEMENT_CLUSTER:
        # A self-managed cluster runs the EKS-A controllers on its own nodes.
        return (MANAGEMENT_CLUSTER,) if cluster.managed_by else _expand_word("nodes", topology, cluster)
    return (word,)


# The endpoints that stand for one address (or none, when the environment does not have them) ...
_SINGLE_ADDRESS: dict[str, Callable[[Topology, Cluster], Network | None]] = {
    CONTROL_PLANE_VIP: lambda t, c: c.endpoint,
    TINKERBELL_VIP: lambda t, c: t.endpoints.tinkerbell_ip,
    VCENTER: lambda t, c: t.endpoints.vcenter,
    PRISM_CENTRAL: lambda t, c: t.endpoints.prism_central,
    JENKINS: lambda t, c: t.jenkins.address if t.jenkins else None,
    API_LOAD_BALANCER: lambda t, c: c.api_load_balancer.address if c.api_load_balancer else None,
    DHCP_CLIENTS: lambda t, c: UNADDRESSED,  # a machine asking for its first DHCP lease has no address yet
    PODS_ON_NODE: lambda t, c: c.pods,  # the cluster's pod range (each node's share of it is assigned at run time)
}
# ... and those that stand for a list of ranges (node roles and the management cluster aside).
_RANGES: dict[str, Callable[[Topology, Cluster], tuple[Network, ...]]] = {
    ADMIN_MACHINE: lambda t, c: t.admin_machine,
    BMC: lambda t, c: t.endpoints.bmc_addresses,
    SNOW_DEVICE: lambda t, c: t.endpoints.snow_device_addresses,
    JENKINS_CLIENTS: lambda t, c: t.jenkins.clients if t.jenkins else (),
    API_CLIENTS: lambda t, c: t.clients.api,
    SSH_CLIENTS: lambda t, c: t.clients.ssh,
    NODEPORT_CLIENTS: lambda t, c: t.clients.node_port,
    ROUTERS: lambda t, c: c.routers,
}


def endpoint_addresses(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[Network, ...]:
    """The addresses an endpoint of ``cluster`` stands for (empty: the endpoint is not configured)."""
    if endpoint in NODE_ROLES:
        return cluster.addresses_of(endpoint)
    single = _SINGLE_ADDRESS.get(endpoint)
    if single is not None:
        address = single(topology, cluster)
        return (address,) if address is not None else ()
    if endpoint == MANAGEMENT_CLUSTER:
        if cluster.managed_by is None:
            return ()
        manager = topology.cluster(cluster.managed_by)
        return canonical_networks(a for role in manager.kubernetes_roles for a in manager.addresses_of(role))
    ranges = _RANGES.get(endpoint)
    if ranges is None:
        raise KeyError(f"unknown endpoint {endpoint!r}")
    return ranges(topology, cluster)


def endpoint_keys(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[str, ...]:
    """The config keys that give an endpoint its addresses (for error messages)."""
    p = topology.key_prefix
    if endpoint in NODE_ROLES:
        role = cluster.machine_role(endpoint)
        if role == CONTROL_PLANE:
            return (key_join(cluster.control_plane.key, "addresses"),)
        if role == ETCD and cluster.external_etcd is not None:
            return (key_join(cluster.external_etcd.key, "addresses"),)
        return tuple(key_join(g.machines.key, "addresses") for g in cluster.worker_groups)
    if endpoint == MANAGEMENT_CLUSTER and cluster.managed_by:
        manager = topology.cluster(cluster.managed_by)
        return endpoint_keys(topology, manager, CONTROL_PLANE) + endpoint_keys(topology, manager, WORKER)
    if endpoint == PODS_ON_NODE:
        return (key_join(key_join(cluster.key, "clusterNetwork"), "pods"),)
    if endpoint == ROUTERS:
        return (key_join(cluster.key, "routers"),)
    keys = {
        ADMIN_MACHINE: "adminMachine.addresses",
        API_CLIENTS: "clients.api",
        SSH_CLIENTS: "clients.ssh",
        NODEPORT_CLIENTS: "clients.nodePort",
        JENKINS: "managementTools.jenkins.address",
        JENKINS_CLIENTS: "managementTools.jenkins.clients",
    }
    return (f"{p}{keys[endpoint]}",) if endpoint in keys else ()


# --- flows -------------------------------------------------------------------------------------


def _row_edges(
    row: Row, topology: Topology, cluster: Cluster, endpoints: Mapping[str, tuple[str, ...]]
) -> Iterator[tuple[str, str, PortSet]]:
    """(source endpoint, destination endpoint, ports) for every edge a row asks for in ``cluster``.

    ``endpoints``: what each catalog word stands for in ``cluster`` (``_cluster_endpoints``)."""
    ports = row_ports(row, topology, cluster)
    sources = _row_sources(row, endpoints)
    destinations = dict.fromkeys(e for w in row.destinations for e in endpoints[w])
    lb = cluster.api_load_balancer
    for src in sources:
        if lb is not None and row.port_option == "api-server" and src in (API_CLIENTS, JENKINS):
            # Clients come through the load balancer, which forwards to the API server's own port (the load
            # balancer has its address, the control plane its machines).
            yield src, API_LOAD_BALANCER, (PortRange.single(lb.port),)
            yield API_LOAD_BALANCER, CONTROL_PLANE, ports
            continue
        for dst in destinations:
            yield src, dst, ports


def _row_sources(row: Row, endpoints: Mapping[str, tuple[str, ...]]) -> dict[str, None]:
    """The endpoints a row's sources stand for in a cluster, in order, once each (``self`` is none: Used By Self)."""
    return dict.fromkeys(e for w in row.sources if w != "self" for e in endpoints[w])


def _cluster_endpoints(
    words: Iterable[str], topology: Topology, cluster: Cluster
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[Network, ...]]]:
    """What each catalog word stands for in ``cluster``: its endpoints that have addresses (an optional peer the
    environment does not have stands for none); and each of those endpoints' addresses."""
    endpoints: dict[str, tuple[str, ...]] = {}
    addresses: dict[str, tuple[Network, ...]] = {}
    for word in words:
        expanded = _expand_word(word, topology, cluster)
        for e in expanded:
            if e not in addresses:
                addresses[e] = endpoint_addresses(topology, cluster, e)
        endpoints[word] = tuple(e for e in expanded if addresses[e])
    return endpoints, addresses


def build_flows(topology: Topology, catalog: Catalog | None = None) -> FlowSet:
    """Every flow the environment needs, canonical and deterministic.

    For each cluster, each applicable row becomes edges between endpoints; an endpoint with no address in this
    environment (an optional peer not configured) has no edges. Edges with the same (source, destination,
    protocol) merge their ports and rows.

    Raises ConfigError when a sensitive port (etcd, kubelet, scheduler, controller-manager) would be
    reachable from a whole address family.
    """
    catalog = catalog or load_catalog()
    conditions = _topology_conditions(topology)
    rows = [r for r in catalog if _applies_to_environment(r, topology, conditions)]
    words = {w for r in rows for w in (*r.sources, *r.destinations) if w != "self"}
    flows: list[Flow] = []
    local: list[LocalOnly] = []
    problems: set[Problem] = set()
    # Flows of many clusters ask for the same ports and the same rows: one tuple per distinct value, shared.
    same_ports: dict[PortSet, PortSet] = {}
    same_rows: dict[tuple[str, ...], tuple[str, ...]] = {}
    # The flows come out sorted: clusters by name, and in a cluster by (source, destination, protocol), which
    # no two flows share.
    for cluster in sorted(topology.clusters, key=lambda c: c.name):  # one cluster at a time: its edges merge only with its own
        endpoints, addresses = _cluster_endpoints(words, topology, cluster)
        anywhere: dict[str, tuple[int, ...]] = {}  # the families each source counts as anywhere in (exposure.py)
        edges: dict[tuple[str, str, Protocol], tuple[list[PortSet], set[str]]] = {}  # the rows' ports and ids
        for row in rows:
            if not _applies_to_cluster(row, cluster):
                continue
            if row.local_only:
                local.append(LocalOnly(cluster=cluster.name, row=row.id, why=_local_only_why(row)))
                continue
            if row.sensitive:
                problems.update(_exposures(topology, cluster, row, endpoints, addresses, anywhere))
            for src, dst, ports in _row_edges(row, topology, cluster, endpoints):
                key = (src, dst, row.protocol)
                if key not in edges:
                    edges[key] = ([], set())
                port_sets, ids = edges[key]
                port_sets.append(ports)
                ids.add(row.id)
        for (s, d, p), (port_sets, ids) in sorted(edges.items()):
            # A port set is canonical already (ports.py): only several need merging.
            merged = port_sets[0] if len(port_sets) == 1 else merge(r for ports in port_sets for r in ports)
            sorted_ids = tuple(sorted(ids))
            flows.append(
                Flow(
                    cluster=cluster.name,
                    source=s,
                    destination=d,
                    protocol=p,
                    ports=same_ports.setdefault(merged, merged),
                    rows=same_rows.setdefault(sorted_ids, sorted_ids),
                )
            )
    if problems:
        raise ConfigError(sorted(problems, key=str))
    return FlowSet(flows=tuple(flows), local_only=tuple(sorted(local)))


def _exposures(
    topology: Topology,
    cluster: Cluster,
    row: Row,
    endpoints: Mapping[str, tuple[str, ...]],
    addresses: Mapping[str, tuple[Network, ...]],
    anywhere: dict[str, tuple[int, ...]],
) -> list[Problem]:
    """The sources of a sensitive row in ``cluster`` whose ranges count as anywhere (``_exposure``): when the row
    reaches a machine here (a row towards workers in a cluster without workers opens nothing). ``anywhere``: each
    source's families, worked out once per cluster."""
    problems: list[Problem] = []
    if not any(endpoints[w] for w in row.destinations):
        return problems
    for src in _row_sources(row, endpoints):
        if src not in anywhere:
            anywhere[src] = anywhere_families(addresses[src])
        families = anywhere[src]
        if families:
            problems += _exposure(topology, cluster, src, row, families)
    return problems


def _local_only_why(row: Row) -> str:
    return f"{row.purpose} (TCP {row.ports_text}) is used only by the node itself (Used By: Self): no network rule is needed"


def _exposure(topology: Topology, cluster: Cluster, source: str, row: Row, families: tuple[int, ...]) -> list[Problem]:
    """``row`` would open a sensitive port to ``source``, whose ranges count as anywhere in ``families``."""
    internet = " and ".join(f"IPv{v}" for v in families)
    return [
        Problem(
            key,
            f"covers (alone or with the other ranges listed there) more than {exposure_share()} of the {internet} Internet, which "
            f"would open {_what(row)} ({row.protocol.upper()} {row.ports_text}, catalog row {row.id}) to it",
            "list the real addresses of these machines; etcd, the kubelet and the control-plane components must never be reachable "
            "from 0.0.0.0/0, ::/0 or ranges that add up to them (docs/configuration.md, exposure)",
        )
        for key in _blamed(_key_ranges(topology, cluster, source), families)
    ]


def _what(row: Row) -> str:
    """What a row's port is, in words. The page's provider tables put who connects ("Manager") in the Purpose column
    of their etcd rows and what the port is ("Etcd API endpoint") in Used By: a message names the port."""
    return row.used_by if row.purpose == "Manager" else row.purpose


def _key_ranges(topology: Topology, cluster: Cluster, endpoint: str) -> list[tuple[str, tuple[Network, ...]]]:
    """The config keys that give an endpoint its addresses, each with the ranges it gives."""
    if endpoint == CONTROL_PLANE or (endpoint == ETCD and not cluster.external_etcd):
        return [(key_join(cluster.control_plane.key, "addresses"), cluster.control_plane.addresses)]
    if endpoint == ETCD and cluster.external_etcd:
        return [(key_join(cluster.external_etcd.key, "addresses"), cluster.external_etcd.addresses)]
    if endpoint == WORKER:
        return [(key_join(g.machines.key, "addresses"), g.machines.addresses) for g in cluster.worker_groups]
    if endpoint == MANAGEMENT_CLUSTER and cluster.managed_by:
        manager = topology.cluster(cluster.managed_by)
        return _key_ranges(topology, manager, CONTROL_PLANE) + _key_ranges(topology, manager, WORKER)
    keys = endpoint_keys(topology, cluster, endpoint) or (endpoint,)
    return [(keys[0], endpoint_addresses(topology, cluster, endpoint))]


def _blamed(ranges: list[tuple[str, tuple[Network, ...]]], families: tuple[int, ...]) -> list[str]:
    """The keys whose ranges make the union count as anywhere: those that do alone, else the fewest that do together
    (largest first). A control plane listing its own /28 is never blamed for a worker group at 0.0.0.0/0."""
    alone = [k for k, nets in ranges if anywhere_families(nets)]
    if alone:
        return alone
    chosen: list[str] = []
    union: list[Network] = []
    for k, nets in sorted(ranges, key=lambda kn: -sum(covered(kn[1], v) for v in families)):
        chosen.append(k)
        union += nets
        if set(families) <= set(anywhere_families(union)):
            break
    return chosen


def expand(topology: Topology, flows: Iterable[Flow]) -> frozenset[Access]:
    """Flows -> address-level accesses (every source network x destination network x port range)."""
    out: set[Access] = set()
    for f in flows:
        cluster = topology.cluster(f.cluster)
        for s in endpoint_addresses(topology, cluster, f.source):
            for d in endpoint_addresses(topology, cluster, f.destination):
                if s.version != d.version:
                    continue
                for pr in f.ports:
                    out.add(Access(s, d, f.protocol, pr))
    return normalize(out)


def normalize(accesses: Iterable[Access]) -> frozenset[Access]:
    """Merge port ranges per (source, destination, protocol), so differently split rules compare equal."""
    grouped: dict[tuple[Network, Network, Protocol], list[PortRange]] = defaultdict(list)
    for a in accesses:
        grouped[(a.source, a.destination, a.protocol)].append(a.ports)
    return frozenset(Access(s, d, p, r) for (s, d, p), rs in grouped.items() for r in merge(rs))
