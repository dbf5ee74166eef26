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
    add_ssh_range,
    modified_copy,
    open_api_to_internet,
    plan_file,
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
    assert d.flows == []  # flows name endpoints; the range is an address of ssh-clients
    assert d.resources, "a new SSH range must change some firewall object"
    assert d.new_exposures == []


@pytest.mark.parametrize("stack", NODE_STACKS)
def test_api_opened_to_the_internet_is_flagged_on_every_platform(stack: str, tmp_path: Path) -> None:
    d = diff_plans(base_plan(stack), plan_file(modified_copy(stack, open_api_to_internet, tmp_path)))
    assert d.flows == []
    assert d.new_exposures, f"{stack}: the rendering of api-clients = 0.0.0.0/0 was not recognised as open to the Internet"
    assert "OPEN TO THE WHOLE INTERNET" in render_markdown(d)


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
