"""The flows of a plan as a Mermaid flowchart that GitHub renders: endpoints as nodes, flows as edges.

``render_plan(doc)`` draws a plan document (``eksa-firewall/plan/v1``): one subgraph per cluster holding
the cluster's own endpoints (node roles, the control-plane VIP, the API load balancer), shared peers (admin
machine, client ranges, vCenter, ...) outside the subgraphs, and one edge per (cluster, source, destination)
labelled with every protocol and port it allows. An edge between two shared peers (the admin machine to
vCenter) is drawn once, whatever the number of clusters that need it, with the ports of all of them. The
managing cluster of a workload cluster (``management-cluster``) is not a box of its own: its edges start
from (or end at) the managing cluster's subgraph, when the plan says which cluster that is (``clusters``).
``render_flows`` draws any list of flows, each optionally marked added or removed (the diagram section of
``diff``).

The output is plain Mermaid text (no Markdown fence): ``plan --format mermaid --fence`` and ``diff`` wrap
it in a ```` ```mermaid ```` fence for GitHub. It is deterministic: the same flows give the same text,
whatever their order in the document.

Escaping: labels are always double-quoted and every character that Mermaid gives a meaning inside
them is written as an entity code (``#quot;``, ``#124;``, ...), so no user text (a cluster name) can end
a label early. Node ids are made only of ``[a-z0-9_]`` with a prefix, never a Mermaid keyword.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .endpoints import API_LOAD_BALANCER, CONTROL_PLANE_VIP, MANAGEMENT_CLUSTER, NODE_ROLES
from .ports import PortRange, format_ports, merge, parse_ports

Mark = Literal["same", "added", "removed"]

# Endpoints that belong to one cluster (drawn inside its subgraph); every other endpoint is a shared peer.
CLUSTER_ENDPOINTS = (*NODE_ROLES, CONTROL_PLANE_VIP, API_LOAD_BALANCER, MANAGEMENT_CLUSTER)
_PROTOCOL_ORDER = {"tcp": 0, "udp": 1, "icmp": 2}
_ESCAPES = {"#": "#35;", '"': "#quot;", "|": "#124;", "<": "#lt;", ">": "#gt;", "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;"}
_ID_UNSAFE = re.compile(r"[^a-z0-9]+")
_STYLE = {"added": "stroke:#1a7f37,stroke-width:2px,color:#1a7f37", "removed": "stroke:#cf222e,stroke-width:2px,color:#cf222e"}


@dataclass(frozen=True, order=True, slots=True)
class Edge:
    cluster: str
    source: str
    destination: str
    protocol: str
    ports: str  # the plan's text form: ``2379-2380|10250``
    mark: Mark = "same"


def escape(text: str) -> str:
    """Text for a double-quoted Mermaid label: every special character as an entity code."""
    out = "".join(_ESCAPES.get(c, c) for c in text)
    return " ".join(out.split())  # no newlines or tabs inside a label


def _id(*parts: str) -> str:
    return "_".join(_ID_UNSAFE.sub("_", p.lower()).strip("_") or "x" for p in parts)


def ports_label(protocol: str, ports: str) -> str:
    if protocol == "icmp":
        return f"icmp type {ports.replace('|', ', ')}"
    return f"{protocol} {ports.replace('|', ', ')}"


def _edges_of(flows: Iterable[Mapping[str, Any]], mark: Mark = "same") -> list[Edge]:
    return [Edge(str(f["cluster"]), str(f["source"]), str(f["destination"]), str(f["protocol"]), str(f["ports"]), mark) for f in flows]


class _Ids:
    """Node and subgraph ids: readable, unique, stable for a given set of names."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], str] = {}
        self._used: set[str] = set()

    def get(self, prefix: str, *key: str) -> str:
        full = (prefix, *key)
        if full not in self._ids:
            base = f"{prefix}_{_id(*key)}"
            candidate, n = base, 2
            while candidate in self._used:  # two names that sanitise alike ("a.b" and "a-b")
                candidate, n = f"{base}_{n}", n + 1
            self._ids[full] = candidate
            self._used.add(candidate)
        return self._ids[full]


def render_flows(edges: Sequence[Edge], *, title: str = "", managers: Mapping[str, str] | None = None) -> str:
    """A Mermaid flowchart of ``edges``; added edges are solid green with ``+``, removed dashed red with ``-``.

    ``managers``: workload cluster -> management cluster; a ``management-cluster`` endpoint is then drawn as
    the managing cluster's subgraph."""
    managers = managers or {}
    lines = ["flowchart LR"]
    if title:
        lines.append(f"  %% {' '.join(re.sub(r'[%{}]', '', title).split())}")
    if not edges:
        lines.append('  none["no flows"]')
        return "\n".join(lines) + "\n"
    ids = _Ids()

    def managed(e: Edge, endpoint: str) -> str | None:
        return managers.get(e.cluster) if endpoint == MANAGEMENT_CLUSTER else None

    def is_peer(e: Edge, endpoint: str) -> bool:
        return endpoint not in CLUSTER_ENDPOINTS

    # Assign ids in sorted order so they never depend on the document's order.
    clusters = sorted({e.cluster for e in edges} | {m for e in edges for ep in (e.source, e.destination) if (m := managed(e, ep))})
    peers = sorted({ep for e in edges for ep in (e.source, e.destination) if is_peer(e, ep)})
    members: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        for ep in (e.source, e.destination):
            if not is_peer(e, ep) and managed(e, ep) is None:
                members[e.cluster].add(ep)
    for peer in peers:
        ids.get("p", peer)
    for cluster in clusters:
        ids.get("cluster", cluster)

    def node(e: Edge, endpoint: str) -> str:
        manager = managed(e, endpoint)
        if manager is not None:
            return ids.get("cluster", manager)
        return ids.get("p", endpoint) if is_peer(e, endpoint) else ids.get("c", e.cluster, endpoint)

    for peer in peers:
        lines.append(f'  {ids.get("p", peer)}(["{escape(peer)}"])')
    for cluster in clusters:
        lines.append(f'  subgraph {ids.get("cluster", cluster)}["cluster {escape(cluster)}"]')
        for ep in sorted(members[cluster], key=CLUSTER_ENDPOINTS.index):
            shape = ('["', '"]') if ep in NODE_ROLES else ('("', '")')
            lines.append(f"    {ids.get('c', cluster, ep)}{shape[0]}{escape(ep)}{shape[1]}")
        lines.append("  end")

    # One edge per (source node, destination node, mark), with the ports of every flow it stands for: between two
    # nodes outside a cluster's subgraph (shared peers, a managing cluster) that is one edge for every cluster.
    # Edges are listed cluster by cluster (shared ones first), in the order of their nodes.
    drawn: dict[tuple[str, str, Mark], list[Edge]] = defaultdict(list)
    group: dict[tuple[str, str, Mark], str] = {}
    for e in edges:
        shared = all(is_peer(e, ep) or managed(e, ep) for ep in (e.source, e.destination))
        key = (node(e, e.source), node(e, e.destination), e.mark)
        drawn[key].append(e)
        group[key] = min(group.get(key, "\uffff"), "" if shared else e.cluster)
    # A node outside a cluster that reaches every node role of it (or that every node role reaches) on the same
    # ports: one edge to (or from) the cluster's subgraph instead of one per role.
    for cluster in clusters:
        roles = {ids.get("c", cluster, ep) for ep in members[cluster] if ep in NODE_ROLES}
        if len(roles) < 2:
            continue
        inside = {ids.get("c", cluster, ep) for ep in members[cluster]}
        for outward in (False, True):
            candidates: dict[tuple[str, Mark, str], list[tuple[str, str, Mark]]] = defaultdict(list)
            for key, parts in drawn.items():
                src, dst, mark = key
                role, other = (src, dst) if outward else (dst, src)
                if role in roles and other not in inside:
                    candidates[(other, mark, _label(mark, parts))].append(key)
            for (other, mark, _text), keys in candidates.items():
                if {k[0] if outward else k[1] for k in keys} != roles:
                    continue
                subgraph = ids.get("cluster", cluster)
                merged = (subgraph, other, mark) if outward else (other, subgraph, mark)
                for k in keys:
                    drawn[merged].extend(drawn.pop(k))
                    group[merged] = min(group.get(merged, "\uffff"), group.pop(k))
    order: dict[Mark, int] = {"added": 0, "removed": 1, "same": 2}
    styled: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(sorted(drawn, key=lambda k: (group[k], k[0], k[1], order[k[2]]))):
        src, dst, mark = key
        arrow = "-.->" if mark == "removed" else "-->"
        lines.append(f'  {src} {arrow}|"{_label(mark, drawn[key])}"| {dst}')
        if mark != "same":
            styled[mark].append(index)
    for mark in ("added", "removed"):
        if styled[mark]:
            lines.append(f"  linkStyle {','.join(str(i) for i in styled[mark])} {_STYLE[mark]}")
    lines.append("  classDef role fill:#ddf4ff,stroke:#0969da")
    lines.append("  classDef peer fill:#f6f8fa,stroke:#57606a")
    role_ids = sorted(ids.get("c", c, ep) for c in clusters for ep in members[c] if ep in NODE_ROLES)
    if role_ids:
        lines.append(f"  class {','.join(role_ids)} role")
    if peers:
        lines.append(f"  class {','.join(ids.get('p', p) for p in peers)} peer")
    return "\n".join(lines) + "\n"


def _label(mark: Mark, edges: Sequence[Edge]) -> str:
    sign = {"added": "+ ", "removed": "- ", "same": ""}[mark]
    return "<br/>".join(escape(sign + ports_label(proto, ports)) for proto, ports in _merged(edges))


def _merged(edges: Sequence[Edge]) -> list[tuple[str, str]]:
    """(protocol, ports) per protocol, the ports of every edge merged: ``tcp 8243|9092`` once for two clusters."""
    by_protocol: dict[str, list[PortRange]] = defaultdict(list)
    for e in edges:
        by_protocol[e.protocol].extend(parse_ports(e.ports))
    return [(p, format_ports(merge(by_protocol[p]))) for p in sorted(by_protocol, key=lambda p: (_PROTOCOL_ORDER.get(p, 9), p))]


def render_plan(doc: Mapping[str, Any]) -> str:
    """The flows of a plan document as a Mermaid flowchart (text, without a Markdown fence)."""
    title = f"eksa-firewall plan {doc.get('project', '')}/{doc.get('stack', '')}: {len(doc.get('flows', []))} flows"
    managers = {str(c["name"]): str(c["managedBy"]) for c in doc.get("clusters") or [] if c.get("managedBy")}
    return render_flows(sorted(_edges_of(doc.get("flows", []))), title=title, managers=managers)
