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
from collections.abc import Iterable, Mapping
from functools import cache
from typing import NamedTuple

from .catalog import Catalog, Protocol, Row, load_catalog
from .errors import ConfigError, Problem
from .ports import PortRange, PortSet, format_ports, merge
from .reader import Network, canonical_networks, is_everywhere, key_join
from .topology import Cluster, Topology

# Endpoints that are the cluster's own machines; everything else is a peer.
NODE_ROLES = ("control-plane", "etcd", "worker")
API_LOAD_BALANCER = "api-load-balancer"  # derived endpoint, only when controlPlane.loadBalancer is set
UNADDRESSED = ipaddress.IPv4Network("0.0.0.0/32")  # the source of a DHCPDISCOVER

# The values below are named tuples, not dataclasses: immutable, ordered field by field, and cheap to make by
# the thousand; defining a frozen dataclass costs about 0.3 ms at import, on every plan (make bench).


class Flow(NamedTuple):
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


class LocalOnly(NamedTuple):
    """A catalog row that needs no network rule in this cluster (Used By: Self), with the reason."""

    cluster: str
    row: str
    why: str

    def to_json(self) -> dict[str, str]:
        return {"cluster": self.cluster, "row": self.row, "why": self.why}


class FlowSet(NamedTuple):
    """What ``build_flows`` returns: the flows and the local-only rows, both sorted."""

    flows: tuple[Flow, ...]
    local_only: tuple[LocalOnly, ...]

    def for_cluster(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.cluster == name)


class Access(NamedTuple):
    """One address-level permission: ``source`` may open ``protocol`` connections to ``destination:ports``."""

    source: Network
    destination: Network
    protocol: Protocol
    ports: PortRange


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
    """``external-etcd``, the one condition that depends on the cluster."""
    return row.when != "external-etcd" or cluster.external_etcd is not None


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
    """A catalog word -> the endpoints it stands for in this cluster."""
    etcd = ("etcd",) if cluster.external_etcd else ("control-plane",)
    if word == "nodes":
        return ("control-plane", "worker") if cluster.worker_groups else ("control-plane",)
    if word == "machines":
        return tuple(dict.fromkeys(("control-plane", *etcd, *(("worker",) if cluster.worker_groups else ()))))
    if word == "etcd":
        return etcd
    if word == "worker":
        return ("worker",) if cluster.worker_groups else ()
    if word == "management-cluster":
        # A self-managed cluster runs the EKS-A controllers on its own nodes.
        return ("management-cluster",) if cluster.managed_by else _expand_word("nodes", topology, cluster)
    return (word,)


def endpoint_addresses(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[Network, ...]:
    """The addresses an endpoint of ``cluster`` stands for (empty: the endpoint is not configured).

    Computed once per (topology, cluster, endpoint): planners, the ACL export and ``expand`` ask for the same
    endpoints thousands of times in a large environment."""
    key = ("endpoint", cluster.name, endpoint)
    hit = topology.memo.get(key)
    if hit is not None and hit[0] is cluster:
        return hit[1]
    value = _endpoint_addresses(topology, cluster, endpoint)
    topology.memo[key] = (cluster, value)
    return value


def _endpoint_addresses(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[Network, ...]:
    ep = topology.endpoints
    if endpoint == "control-plane":
        return cluster.control_plane.addresses
    if endpoint == "etcd":
        return cluster.etcd
    if endpoint == "worker":
        return cluster.workers
    if endpoint == "management-cluster":
        if cluster.managed_by is None:
            return ()
        manager = topology.cluster(cluster.managed_by)
        return canonical_networks([*manager.control_plane.addresses, *manager.workers])
    if endpoint == API_LOAD_BALANCER:
        return (cluster.api_load_balancer.address,) if cluster.api_load_balancer else ()
    if endpoint == "admin-machine":
        return topology.admin_machine
    if endpoint == "control-plane-vip":
        return (cluster.endpoint,)
    if endpoint == "tinkerbell-vip":
        return (ep.tinkerbell_ip,) if ep.tinkerbell_ip else ()
    if endpoint == "bmc":
        return canonical_networks([b.address for b in ep.bmcs])
    if endpoint == "vcenter":
        return (ep.vcenter,) if ep.vcenter else ()
    if endpoint == "prism-central":
        return (ep.prism_central,) if ep.prism_central else ()
    if endpoint == "snow-device":
        return canonical_networks([d.address for d in ep.snow_devices])
    if endpoint == "jenkins":
        return (topology.jenkins.address,) if topology.jenkins else ()
    if endpoint == "jenkins-clients":
        return topology.jenkins.clients if topology.jenkins else ()
    if endpoint == "api-clients":
        return topology.clients.api
    if endpoint == "ssh-clients":
        return topology.clients.ssh
    if endpoint == "nodeport-clients":
        return topology.clients.node_port
    if endpoint == "dhcp-clients":
        # A machine asking for its first DHCP lease has no address yet.
        return (UNADDRESSED,)
    raise KeyError(f"unknown endpoint {endpoint!r}")


def endpoint_keys(topology: Topology, cluster: Cluster, endpoint: str) -> tuple[str, ...]:
    """The config keys that give an endpoint its addresses (for error messages)."""
    p = topology.key_prefix
    if endpoint == "control-plane":
        return (key_join(cluster.control_plane.key, "addresses"),)
    if endpoint == "etcd":
        return (
            endpoint_keys(topology, cluster, "control-plane")
            if not cluster.external_etcd
            else (key_join(cluster.external_etcd.key, "addresses"),)
        )
    if endpoint == "worker":
        return tuple(key_join(g.machines.key, "addresses") for g in cluster.worker_groups)
    if endpoint == "management-cluster" and cluster.managed_by:
        manager = topology.cluster(cluster.managed_by)
        return endpoint_keys(topology, manager, "control-plane") + endpoint_keys(topology, manager, "worker")
    keys = {
        "admin-machine": "adminMachine.addresses",
        "api-clients": "clients.api",
        "ssh-clients": "clients.ssh",
        "nodeport-clients": "clients.nodePort",
        "jenkins": "managementTools.jenkins.address",
        "jenkins-clients": "managementTools.jenkins.clients",
    }
    return (f"{p}{keys[endpoint]}",) if endpoint in keys else ()


# --- flows -------------------------------------------------------------------------------------


def _row_edges(row: Row, topology: Topology, cluster: Cluster) -> Iterable[tuple[str, str, PortSet]]:
    ports = row_ports(row, topology, cluster)
    sources = [e for w in row.sources if w != "self" for e in _expand_word(w, topology, cluster)]
    destinations = [e for w in row.destinations for e in _expand_word(w, topology, cluster)]
    lb = cluster.api_load_balancer
    for src in dict.fromkeys(sources):
        if lb is not None and row.port_option == "api-server" and src in ("api-clients", "jenkins"):
            # Clients come through the load balancer, which forwards to the API server's own port.
            yield src, API_LOAD_BALANCER, (PortRange.single(lb.port),)
            yield API_LOAD_BALANCER, "control-plane", ports
            continue
        for dst in dict.fromkeys(destinations):
            yield src, dst, ports


def _shape(cluster: Cluster) -> tuple[object, ...]:
    """What a cluster's edges depend on besides the row (see ``_row_edges``): clusters of one shape share them."""
    lb = cluster.api_load_balancer
    return (
        cluster.external_etcd is not None,
        bool(cluster.worker_groups),
        cluster.managed_by is None,
        None if lb is None else lb.port,
        cluster.api_server_port,
        cluster.etcd_client_port,
        cluster.etcd_peer_port,
    )


Edge = tuple[Row, str, str, PortSet]  # (row, source endpoint, destination endpoint, ports)


class _Template(NamedTuple):
    """One cluster's flows without the cluster: what every cluster of one shape, with the same optional
    peers configured, needs. Large environments repeat a few shapes: each is worked out once."""

    flows: tuple[tuple[str, str, Protocol, PortSet, tuple[str, ...]], ...]  # sorted (source, destination, protocol)
    local_only: tuple[Row, ...]
    sensitive: tuple[tuple[str, Row], ...]  # (source, row): checked per cluster, against its addresses


def _shape_edges(rows: Iterable[Row], topology: Topology, cluster: Cluster) -> tuple[tuple[Row, ...], tuple[Edge, ...]]:
    """The local-only rows and the edges of a cluster's shape, before optional peers are considered."""
    local: list[Row] = []
    edges: list[Edge] = []
    for row in rows:
        if not _applies_to_cluster(row, cluster):
            continue
        if row.local_only:
            local.append(row)
            continue
        edges.extend((row, src, dst, ports) for src, dst, ports in _row_edges(row, topology, cluster))
    return tuple(local), tuple(edges)


def _template(local: tuple[Row, ...], edges: Iterable[Edge], configured: Mapping[str, bool]) -> _Template:
    ports: dict[tuple[str, str, Protocol], list[PortRange]] = {}
    row_ids: dict[tuple[str, str, Protocol], set[str]] = {}
    sensitive: dict[tuple[str, Row], None] = {}
    for row, src, dst, row_ports_ in edges:
        if not (configured[src] and configured[dst]):
            continue  # an optional peer the environment does not have
        if row.sensitive:
            sensitive[(src, row)] = None
        k = (src, dst, row.protocol)
        if k in ports:
            ports[k].extend(row_ports_)
            row_ids[k].add(row.id)
        else:
            ports[k] = list(row_ports_)
            row_ids[k] = {row.id}
    flows: list[tuple[str, str, Protocol, PortSet, tuple[str, ...]]] = [
        (s, d, p, _merged(ports[(s, d, p)]), _sorted(row_ids[(s, d, p)])) for (s, d, p) in sorted(ports)
    ]
    return _Template(flows=tuple(flows), local_only=local, sensitive=tuple(sensitive))


def build_flows(topology: Topology, catalog: Catalog | None = None) -> FlowSet:
    """Every flow the environment needs, canonical and deterministic.

    Raises ConfigError when a sensitive port (etcd, kubelet, scheduler, controller-manager) would be
    reachable from a whole address family (0.0.0.0/0 or ::/0).
    """
    catalog = catalog or load_catalog()
    conditions = _topology_conditions(topology)
    rows = [r for r in catalog if _applies_to_environment(r, topology, conditions)]
    shapes: dict[tuple[object, ...], tuple[tuple[Row, ...], tuple[Edge, ...], tuple[str, ...]]] = {}
    templates: dict[tuple[object, ...], _Template] = {}
    flows: list[Flow] = []
    local: list[LocalOnly] = []
    problems: list[Problem] = []
    # Sorted by cluster, then by (source, destination, protocol) within a template: the flows come out sorted.
    for cluster in sorted(topology.clusters, key=_cluster_name):
        shape = _shape(cluster)
        if shape not in shapes:
            local_rows, edges = _shape_edges(rows, topology, cluster)
            shapes[shape] = (local_rows, edges, tuple(dict.fromkeys(e for _, s, d, _ in edges for e in (s, d))))
        local_rows, edges, endpoints = shapes[shape]
        configured = {e: bool(endpoint_addresses(topology, cluster, e)) for e in endpoints}
        key = (shape, *configured.values())
        template = templates.get(key)
        if template is None:
            template = templates[key] = _template(local_rows, edges, configured)
        name = cluster.name
        flows.extend([Flow(name, s, d, p, ports, row_ids) for s, d, p, ports, row_ids in template.flows])
        local.extend([LocalOnly(cluster=name, row=row.id, why=_local_only_why(row)) for row in template.local_only])
        for src, row in template.sensitive:
            problems.extend(_exposure(topology, cluster, src, row))
    if problems:
        raise ConfigError(sorted(set(problems), key=str))
    return FlowSet(flows=tuple(flows), local_only=tuple(sorted(local, key=lambda lo: (lo.cluster, lo.row))))


def _cluster_name(cluster: Cluster) -> str:
    return cluster.name


def _merged(ranges: list[PortRange]) -> PortSet:
    return (ranges[0],) if len(ranges) == 1 else merge(ranges)


def _sorted(ids: set[str]) -> tuple[str, ...]:
    return tuple(ids) if len(ids) == 1 else tuple(sorted(ids))


@cache
def _local_only_why(row: Row) -> str:
    return f"{row.purpose} (TCP {row.ports_text}) is used only by the node itself (Used By: Self): no network rule is needed"


def _exposure(topology: Topology, cluster: Cluster, source: str, row: Row) -> list[Problem]:
    if not any(is_everywhere(n) for n in endpoint_addresses(topology, cluster, source)):
        return []
    keys = endpoint_keys(topology, cluster, source) or (source,)
    return [
        Problem(
            key,
            f"contains a whole address family, which would open {row.purpose} (TCP {row.ports_text}) to the Internet",
            "list the real addresses of these machines; etcd, the kubelet and the control-plane components must never be reachable from 0.0.0.0/0 or ::/0",
        )
        for key in keys
    ]


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
