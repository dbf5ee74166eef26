"""``plan --format mermaid`` (components.mermaid.render_plan): golden diagrams, determinism, escaping."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from components.mermaid import Edge, escape, render_flows, render_plan

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


def test_every_flow_is_an_edge_label() -> None:
    doc, _ = scenarios()["no-change"]
    text = render_plan(doc)
    for f in doc["flows"]:
        label = ("icmp type " if f["protocol"] == "icmp" else f"{f['protocol']} ") + f["ports"].replace("|", ", ")
        assert label in text, f
    assert text.count(" -->|") == len({(f["cluster"], f["source"], f["destination"]) for f in doc["flows"]})


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
    assert text == render_plan(doc) + "\n"  # print() adds the newline
    assert text.count(" -->|") == len({(f["cluster"], f["source"], f["destination"]) for f in doc["flows"]})
