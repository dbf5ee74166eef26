"""The flows of a plan as a Mermaid flowchart that GitHub renders: endpoints as nodes, flows as edges.

``render_plan(doc)`` draws a plan document (``eksa-firewall/plan/v1``): one subgraph per cluster holding
the cluster's own endpoints (node roles, the control-plane VIP, the API load balancer, the managing
cluster), shared peers (admin machine, client ranges, vCenter, ...) outside the subgraphs, and one edge
per (cluster, source, destination) labelled with every protocol and port it allows. ``render_flows``
draws any list of flows, each optionally marked added or removed (the diagram section of ``diff``).

The output is plain Mermaid text (no Markdown fence): wrap it in a ```` ```mermaid ```` fence to show
it in a GitHub comment or Markdown file. It is deterministic: the same flows give the same text,
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


def render_flows(edges: Sequence[Edge], *, title: str = "") -> str:
    """A Mermaid flowchart of ``edges``; added edges are solid green with ``+``, removed dashed red with ``-``."""
    lines = ["flowchart LR"]
    if title:
        lines.append(f"  %% {' '.join(re.sub(r'[%{}]', '', title).split())}")
    if not edges:
        lines.append('  none["no flows"]')
        return "\n".join(lines) + "\n"
    ids = _Ids()
    # Assign ids in sorted order so they never depend on the document's order.
    clusters = sorted({e.cluster for e in edges})
    peers = sorted({ep for e in edges for ep in (e.source, e.destination) if ep not in CLUSTER_ENDPOINTS})
    members: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        for ep in (e.source, e.destination):
            if ep in CLUSTER_ENDPOINTS:
                members[e.cluster].add(ep)

    def node(cluster: str, endpoint: str) -> str:
        return ids.get("c", cluster, endpoint) if endpoint in CLUSTER_ENDPOINTS else ids.get("p", endpoint)

    for peer in peers:
        lines.append(f'  {node("", peer)}(["{escape(peer)}"])')
    for cluster in clusters:
        lines.append(f'  subgraph {ids.get("cluster", cluster)}["cluster {escape(cluster)}"]')
        for ep in sorted(members[cluster], key=CLUSTER_ENDPOINTS.index):
            shape = ('["', '"]') if ep in NODE_ROLES else ('("', '")')
            lines.append(f"    {node(cluster, ep)}{shape[0]}{escape(ep)}{shape[1]}")
        lines.append("  end")

    grouped: dict[tuple[str, str, str, Mark], list[Edge]] = defaultdict(list)
    for e in edges:
        grouped[(e.cluster, e.source, e.destination, e.mark)].append(e)
    order: dict[Mark, int] = {"added": 0, "removed": 1, "same": 2}
    styled: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(sorted(grouped, key=lambda k: (k[0], k[1], k[2], order[k[3]]))):
        cluster, src, dst, mark = key
        parts = sorted(grouped[key], key=lambda e: (_PROTOCOL_ORDER.get(e.protocol, 9), e.protocol, e.ports))
        sign = {"added": "+ ", "removed": "- ", "same": ""}[mark]
        label = "<br/>".join(escape(sign + ports_label(e.protocol, e.ports)) for e in parts)
        arrow = "-.->" if mark == "removed" else "-->"
        lines.append(f'  {node(cluster, src)} {arrow}|"{label}"| {node(cluster, dst)}')
        if mark != "same":
            styled[mark].append(index)
    for mark in ("added", "removed"):
        if styled[mark]:
            lines.append(f"  linkStyle {','.join(str(i) for i in styled[mark])} {_STYLE[mark]}")
    lines.append("  classDef role fill:#ddf4ff,stroke:#0969da")
    lines.append("  classDef peer fill:#f6f8fa,stroke:#57606a")
    role_ids = sorted(node(c, ep) for c in clusters for ep in members[c] if ep in NODE_ROLES)
    if role_ids:
        lines.append(f"  class {','.join(role_ids)} role")
    if peers:
        lines.append(f"  class {','.join(node('', p) for p in peers)} peer")
    return "\n".join(lines) + "\n"


def render_plan(doc: Mapping[str, Any]) -> str:
    """The flows of a plan document as a Mermaid flowchart (text, without a Markdown fence)."""
    title = f"eksa-firewall plan {doc.get('project', '')}/{doc.get('stack', '')}: {len(doc.get('flows', []))} flows"
    return render_flows(sorted(_edges_of(doc.get("flows", []))), title=title)
