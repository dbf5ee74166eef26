"""`diff` on plans of the example stacks and modified copies (known changes), made with `plan --stack-file`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.cli import main
from components.diff import diff_plans, load_plan, render_markdown

from .mermaid_grammar import check as check_mermaid
from .stack_plans import (
    EXAMPLE_STACKS,
    NODE_STACKS,
    NS,
    add_nodeport_client,
    add_ssh_range,
    add_worker_group,
    modified_copy,
    open_api_to_internet,
    plan_file,
    remove_api_range,
    stack_file,
    toggle_jenkins,
)

_BASES: dict[str, dict[str, Any]] = {}


def base_plan(name: str) -> dict[str, Any]:
    if name not in _BASES:
        _BASES[name] = plan_file(stack_file(name))
    return _BASES[name]


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_an_unchanged_stack_diffs_to_nothing(stack: str, tmp_path: Path) -> None:
    head = plan_file(modified_copy(stack, lambda c: None, tmp_path))
    d = diff_plans(base_plan(stack), head)
    assert (d.flows, d.resources, d.new_exposures) == ([], [], [])


@pytest.mark.parametrize("stack", NODE_STACKS)
def test_a_new_ssh_range_changes_objects_not_flows(stack: str, tmp_path: Path) -> None:
    d = diff_plans(base_plan(stack), plan_file(modified_copy(stack, add_ssh_range, tmp_path)))
    assert d.flows == []  # flows name endpoints; the range is an address of ssh-clients, shown per role:
    assert {(c.peer, c.sign, c.peer_addresses) for c in d.addresses} == {("ssh-clients", "+", ("172.16.99.0/24",))}
    assert d.resources, "a new SSH range must change some firewall object"
    assert d.new_exposures == []


@pytest.mark.parametrize("stack", NODE_STACKS)
def test_api_opened_to_the_internet_is_flagged_on_every_platform(stack: str, tmp_path: Path) -> None:
    d = diff_plans(base_plan(stack), plan_file(modified_copy(stack, open_api_to_internet, tmp_path)))
    assert d.flows == []
    assert d.new_exposures, f"{stack}: the rendering of api-clients = 0.0.0.0/0 was not recognised as open to the Internet"
    assert d.new_peer_exposures, f"{stack}: api-clients = 0.0.0.0/0 was not judged anywhere from the plan's endpoints"
    assert "OPEN TO ANYWHERE" in render_markdown(d)


@pytest.mark.parametrize("stack", NODE_STACKS)
def test_the_internet_in_two_halves_is_anywhere_on_every_platform(stack: str, tmp_path: Path) -> None:
    def halves(config: dict[str, Any]) -> None:
        config[f"{NS}clients"]["api"] = ["0.0.0.0/1", "128.0.0.0/1"]

    d = diff_plans(base_plan(stack), plan_file(modified_copy(stack, halves, tmp_path)))
    assert {x.source for x in d.new_peer_exposures} == {"api-clients"}
    assert all(x.families == (4,) for x in d.new_peer_exposures)
    assert "OPEN TO ANYWHERE" in render_markdown(d)


CHANGES: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    # name: (change to the stack's config, text the diff must contain, address ranges it must name)
    "ssh range added": (add_ssh_range, ("ssh-clients", "tcp 22"), ("172.16.99.0/24",)),
    "api range removed": (remove_api_range, ("api-clients", "➖"), ()),
    "worker group added": (add_worker_group, ("worker",), ("10.99.8.0/24",)),
    "client added": (add_nodeport_client, ("nodeport-clients", "tcp 30000-32767"), ("10.99.9.0/24",)),
}


@pytest.mark.parametrize("stack", NODE_STACKS)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_diff_names_every_changed_range_and_port(stack: str, change: str, tmp_path: Path) -> None:
    edit, texts, ranges = CHANGES[change]
    base = base_plan(stack)
    head = plan_file(modified_copy(stack, edit, tmp_path))
    d = diff_plans(base, head)
    text = render_markdown(d)
    section = text.split("### Addresses and ports, per cluster and role", 1)[1].split("### Flows added and removed", 1)[0]
    assert d.addresses, f"{stack}: {change}: no address change found"
    for t in texts:
        assert t in section, (t, section)
    expected = set(ranges) or {r for r in _api_ranges(base) if r not in _api_ranges(head)}
    for r in expected:
        assert f"**{r}**" in section, (r, section)  # the changed side, in bold
    assert text.index("### Addresses and ports") < text.index("### Resources")


@pytest.mark.parametrize("stack", NODE_STACKS)
def test_jenkins_toggled_shows_its_flows(stack: str, tmp_path: Path) -> None:
    base = base_plan(stack)
    d = diff_plans(base, plan_file(modified_copy(stack, toggle_jenkins, tmp_path)))
    had_jenkins = any("jenkins" in (f["source"], f["destination"]) for f in base["flows"])
    assert d.flows
    assert {f.sign for f in d.flows} == ({"-"} if had_jenkins else {"+"})
    assert all("jenkins" in (f.source, f.destination) or f.source == "jenkins-clients" for f in d.flows)
    assert d.resources
    text = render_markdown(d)
    assert "### Changed flows" in text
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert check_mermaid(block) == []


def test_the_cli_writes_the_comment_from_two_plan_files(tmp_path: Path) -> None:
    stack = EXAMPLE_STACKS[0]
    base_json, head_json = tmp_path / "base.json", tmp_path / "head.json"
    import json

    base_json.write_text(json.dumps(base_plan(stack)), encoding="utf-8")
    head_json.write_text(json.dumps(plan_file(modified_copy(stack, toggle_jenkins, tmp_path))), encoding="utf-8")
    out = tmp_path / "comment.md"
    assert main(["diff", str(base_json), str(head_json), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_markdown(diff_plans(load_plan(base_json), load_plan(head_json)))


def _api_ranges(doc: dict[str, Any]) -> set[str]:
    return {a for e in doc["endpoints"] if e["endpoint"] == "api-clients" for a in e["addresses"]}
