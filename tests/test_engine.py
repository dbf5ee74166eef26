"""The mock engine runner: every registration recorded with engine names, parents, secrets hidden."""

from __future__ import annotations

import gc

import pytest

from components.engine import SECRET, mock_id, run_program
from tests.helpers import FIXTURES, plan_stack

PROGRAM = FIXTURES / "engine_program" / "__main__.py"


def run(stack: str = "dev", password: str = "hunter2"):
    return run_program(
        PROGRAM,
        project="engine-fixture",
        stack=stack,
        config={"engine-fixture:greeting": "hi", "engine-fixture:password": password},
        secret_keys=["engine-fixture:password"],
    )


def test_registrations_parents_and_inputs() -> None:
    result = run()
    box, child = result.resources
    assert (box.type, box.name, box.custom, box.id) == ("engine-fixture:index:Box", "box", False, None)
    assert box.parent is not None and box.parent.endswith("::pulumi:pulumi:Stack::engine-fixture-dev")
    assert (child.type, child.name, child.custom, child.parent) == ("pulumi-python:dynamic/test:Echo", "box-child", True, box.urn)
    assert child.inputs["greeting"] == "hi"
    assert child.inputs["count"] == 3  # numbers come back as ints, not floats
    assert child.id == mock_id(child.type, child.name)


def test_secrets_never_appear_in_plain_text() -> None:
    result = run(password="hunter2-very-secret")
    assert result.resources[1].inputs["password"] == SECRET
    assert result.outputs["password"] == SECRET
    assert "hunter2-very-secret" not in repr(result)
    assert result.outputs["greeting"] == "hi"
    assert result.outputs["childId"] == result.resources[1].id


def test_runs_are_isolated_and_deterministic() -> None:
    first, second = run("a"), run("b")
    assert [r.name for r in first.resources] == [r.name for r in second.resources]
    assert [r.id for r in first.resources] == [r.id for r in second.resources]
    assert first.resources[0].urn != second.resources[0].urn  # the stack name is part of the URN
    assert len(run("a").resources) == 2  # no leftovers from earlier runs


def test_program_errors_propagate_with_what_was_registered() -> None:
    recorded: list = []
    with pytest.raises(Exception, match="boom"):
        run_program(FIXTURES / "engine_program" / "failing.py", project="engine-fixture", stack="x", config={}, recorded=recorded)
    assert [r.name for r in recorded] == ["before-the-error"]


def test_a_process_that_plans_many_times_freezes_only_the_first_plan() -> None:
    # The program moves what it built out of the collector's reach (components/program.py): once per process,
    # or a long-lived host (these tests, an Automation API server) would keep every plan's objects forever.
    plan_stack("baremetal-example")
    frozen = gc.get_freeze_count()
    plan_stack("baremetal-example")
    assert gc.get_freeze_count() == frozen
