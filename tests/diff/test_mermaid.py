"""``plan --format mermaid`` (components.mermaid.render_plan): golden diagrams, determinism, escaping."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from components.mermaid import Edge, escape, render_flows, render_plan
from components.ports import PortSet, parse_ports, subtract

from .golden import check_golden
from .mermaid_grammar import check
from .scenarios import SCENARIO_HEADS, scenarios
from .stack_plans import EXAMPLE_STACKS, PROJECT_DIR, plan_file, stack_file

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("name", ["base", *SCENARIO_HEADS])
def test_render_plan_golden(name: str) -> None:
    base, _ = scenarios()["no-change"]
    doc = base if name == "base" else scenarios()[name][1]
    text = render_plan(doc)
    assert check(text) == []
    check_golden(GOLDEN / f"plan-{name}.mmd", text)


_NODE = re.compile(r'^ {2,4}(?P<id>[a-z0-9_]+)(?:\["|\("|\(\[")(?P<label>[^"]*)')
_SUBGRAPH = re.compile(r'^  subgraph (?P<id>[a-z0-9_]+)\["cluster (?P<name>[^"]*)"\]$')
_EDGE = re.compile(r'^  (?P<a>[a-z0-9_]+) (?:-->|-\.->)\|"(?P<label>[^"]*)"\| (?P<b>[a-z0-9_]+)$')


def drawn(text: str) -> tuple[dict[tuple[str, str], str], dict[str, str], list[tuple[str, str, dict[str, PortSet]]]]:
    """What a diagram declares, read from its text alone: (cluster, endpoint) -> node id (peers under cluster ""),
    cluster -> subgraph id, and the edges with their ports per protocol."""
    nodes: dict[tuple[str, str], str] = {}
    subgraphs: dict[str, str] = {}
    edges: list[tuple[str, str, dict[str, PortSet]]] = []
    cluster = ""
    for line in text.splitlines():
        if m := _SUBGRAPH.match(line):
            cluster = m["name"]
            subgraphs[cluster] = m["id"]
        elif line == "  end":
            cluster = ""
        elif m := _EDGE.match(line):
            ports: dict[str, PortSet] = {}
            for part in m["label"].split("<br/>"):
                proto, _, text_ports = part.lstrip("+- ").partition(" ")
                ports[proto] = parse_ports(text_ports.removeprefix("type ").replace(", ", "|"))
            edges.append((m["a"], m["b"], ports))
        elif (m := _NODE.match(line)) and not line.startswith("  subgraph"):
            nodes[(cluster, m["label"])] = m["id"]
    return nodes, subgraphs, edges


def check_every_flow_is_drawn(doc: dict[str, Any], text: str) -> None:
    """Every flow is an edge (from its node, its cluster's subgraph when every role shares the edge, or its
    managing cluster's subgraph) carrying its ports; no two edges join the same nodes."""
    nodes, subgraphs, edges = drawn(text)
    managers = {c["name"]: c["managedBy"] for c in doc.get("clusters") or [] if c.get("managedBy")}

    def ids(cluster: str, endpoint: str) -> set[str]:
        if endpoint == "management-cluster" and cluster in managers:
            return {subgraphs[managers[cluster]]}
        out = {nodes[k] for k in ((cluster, endpoint), ("", endpoint)) if k in nodes}
        return out | ({subgraphs[cluster]} if endpoint in ("control-plane", "etcd", "worker") else set())

    for f in doc["flows"]:
        wanted = parse_ports(f["ports"])
        assert any(
            a in ids(f["cluster"], f["source"])
            and b in ids(f["cluster"], f["destination"])
            and not subtract(wanted, p.get(f["protocol"], ()))
            for a, b, p in edges
        ), f
    assert len({(a, b) for a, b, _ in edges}) == len(edges), "two edges join the same nodes"
    assert ("", "management-cluster") not in nodes or not managers


def test_every_flow_is_an_edge_label() -> None:
    doc, _ = scenarios()["no-change"]
    text = render_plan(doc)
    check_every_flow_is_drawn(doc, text)


def test_the_check_catches_a_missing_flow() -> None:
    doc, _ = scenarios()["no-change"]
    text = render_plan(doc)
    with pytest.raises(AssertionError):
        check_every_flow_is_drawn(doc, text.replace('"tcp 22"', '"tcp 23"'))


def test_an_edge_between_shared_peers_is_drawn_once_with_every_cluster_s_ports() -> None:
    flows = [
        {"cluster": "a", "source": "admin-machine", "destination": "vcenter", "protocol": "tcp", "ports": "443"},
        {"cluster": "b", "source": "admin-machine", "destination": "vcenter", "protocol": "tcp", "ports": "443|8443"},
    ]
    text = render_plan({"project": "p", "stack": "s", "flows": flows})
    assert check(text) == []
    assert text.count("p_admin_machine -->") == 1 and '"tcp 443, 8443"' in text


def test_the_managing_cluster_s_edges_start_from_that_cluster() -> None:
    doc = scenarios()["workload-cluster-added"][1]
    text = render_plan(doc)
    assert check(text) == []
    assert "management-cluster" not in text
    assert 'cluster_mgmt -->|"tcp 443"| c_prod_1_control_plane' in text
    check_every_flow_is_drawn(doc, text)


def test_a_peer_that_reaches_every_role_of_a_cluster_has_one_edge_to_it() -> None:
    doc, _ = scenarios()["no-change"]
    text = render_plan(doc)
    assert 'p_ssh_clients -->|"tcp 22"| cluster_mgmt' in text
    assert 'p_ssh_clients -->|"tcp 22"| c_mgmt_worker' not in text


def test_the_order_of_flows_does_not_matter() -> None:
    doc, _ = scenarios()["workload-cluster-added"][1], None
    shuffled: dict[str, Any] = {**doc, "flows": list(doc["flows"])}
    random.Random(7).shuffle(shuffled["flows"])
    assert render_plan(shuffled) == render_plan(doc)


def test_labels_and_ids_are_escaped() -> None:
    nasty = 'a"b|c<d>e#f[g]{h} end'
    flows = [{"cluster": nasty, "source": "control-plane", "destination": "worker", "protocol": "tcp", "ports": "22|80"},
             {"cluster": "end", "source": 'peer "x"|y', "destination": "control-plane", "protocol": "udp", "ports": "53"}]  # fmt: skip
    text = render_plan({"project": "p", "stack": "s%%{init}%%", "flows": flows})
    assert check(text) == []
    assert '"cluster a#quot;b#124;c#lt;d#gt;e#35;f#91;g#93;#123;h#125; end"' in text
    assert "subgraph cluster_end[" in text  # never the bare keyword `end` as an id
    assert "%%{" not in text.split("\n", 2)[1]


def test_escape_uses_entity_codes() -> None:
    assert escape('x "y" | <z> #1') == "x #quot;y#quot; #124; #lt;z#gt; #35;1"
    assert escape("two\nlines") == "two lines"


def test_names_that_sanitise_alike_get_distinct_ids() -> None:
    flows = [Edge("a.b", "control-plane", "worker", "tcp", "22"), Edge("a-b", "control-plane", "worker", "tcp", "22")]
    text = render_flows(flows)
    assert check(text) == []
    assert "cluster_a_b[" in text and "cluster_a_b_2[" in text


def test_no_flows_is_still_a_diagram() -> None:
    text = render_plan({"project": "p", "stack": "s", "flows": []})
    assert check(text) == [] and "no flows" in text


def test_the_grammar_check_catches_broken_text() -> None:
    assert check('flowchart LR\n  a -->|"x| b\n') != []
    assert check('flowchart LR\n  subgraph s["x"]\n') == ["1 subgraph(s) not closed"]
    assert check('flowchart LR\n  a["x"]\n  a -->|"y"| b\n') == ["line 3: 'b' is not a declared node"]
    assert check('flowchart LR\n  a["x"]\n  a -->|"y"| a\n  linkStyle 1 stroke:red\n') != []


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_plan_format_mermaid_on_the_example_stacks(stack: str) -> None:
    import io
    from contextlib import redirect_stdout

    from components.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["plan", "--stack-file", str(stack_file(stack)), "--project-dir", str(PROJECT_DIR), "--format", "mermaid"]) == 0
    text = out.getvalue()
    assert check(text) == []
    doc = plan_file(stack_file(stack))
    assert text == render_plan(doc)
    check_every_flow_is_drawn(doc, text)


def test_plan_mermaid_fence_for_markdown() -> None:
    import io
    from contextlib import redirect_stdout

    from components.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["plan", "--stack", "vsphere-example", "--project-dir", str(PROJECT_DIR), "--format", "mermaid", "--fence"]) == 0
    text = out.getvalue()
    assert text.startswith("```mermaid\nflowchart LR\n") and text.endswith("\n```\n")
    assert check(text.removeprefix("```mermaid\n").removesuffix("```\n")) == []
