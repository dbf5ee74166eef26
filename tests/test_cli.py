"""The command line: matrix, the plan JSON contract on every example stack, errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.cli import PLAN_SCHEMA, catalog_reference, main
from components.stackfile import list_stacks, load_project
from tests.helpers import PROJECT_DIR

STACKS = list_stacks(load_project(PROJECT_DIR))


def test_matrix_for_one_platform_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--platform", "baremetal", "--eksa-version", "v0.24", "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"bm-hegel", "bm-smee-http", "cp-kube-apiserver"} <= set(rows)
    assert "bm-tootles" not in rows and "vsphere-vcenter" not in rows and "snow-ec2-https" not in rows
    assert rows["bm-smee-http"]["since"] == "v0.22"

    assert main(["matrix", "--platform", "snow", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "snow-ec2-https" in out and "8243" in out and "(erratum)" in out


def test_matrix_refuses_a_bad_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--eksa-version", "zero"]) == 2
    assert "not an EKS Anywhere version" in capsys.readouterr().err


def test_docs_catalog_table_is_generated_from_the_data() -> None:
    text = (PROJECT_DIR / "docs" / "catalog.md").read_text(encoding="utf-8")
    generated = text.split("<!-- generated: components.cli.catalog_reference -->\n", 1)[1].split("\n<!-- end generated -->", 1)[0]
    assert generated.strip() == catalog_reference().strip(), (
        "run: python -c 'from components.cli import catalog_reference; print(catalog_reference())' and paste into docs/catalog.md"
    )


def test_every_platform_has_an_example_stack() -> None:
    assert {"vsphere-example", "nutanix-example", "snow-example", "baremetal-example"} <= set(STACKS)


URN = re.compile(r"^urn:pulumi:[^:]+::eksa-firewall::.+::[^:]+$")


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_follows_the_documented_shape(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", stack, "--format", "json", "--project-dir", str(PROJECT_DIR)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["schema", "project", "stack", "resources", "outputs", "flows", "local_only", "clusters", "endpoints"]
    assert (doc["schema"], doc["project"], doc["stack"]) == (PLAN_SCHEMA, "eksa-firewall", stack)
    assert doc["resources"], "the example stack registers resources"
    urns = {r["urn"] for r in doc["resources"]}
    for r in doc["resources"]:
        assert list(r) == ["urn", "type", "name", "id", "parent", "inputs"]
        assert URN.match(r["urn"]), r["urn"]
        assert isinstance(r["type"], str) and isinstance(r["name"], str) and isinstance(r["inputs"], dict)
        assert r["id"] is None or isinstance(r["id"], str)
        assert r["parent"] is None or r["parent"] in urns or r["parent"].endswith("::pulumi:pulumi:Stack::eksa-firewall-" + stack)
    assert any(r["type"].startswith("eksa-firewall:index:") for r in doc["resources"])
    assert isinstance(doc["outputs"], dict) and doc["outputs"]["platform"]
    assert doc["flows"]
    for f in doc["flows"]:
        assert list(f) == ["cluster", "source", "destination", "protocol", "ports", "rows"]
        assert f["protocol"] in ("tcp", "udp", "icmp")
        assert re.fullmatch(r"\d+(-\d+)?(\|\d+(-\d+)?)*", f["ports"]), f
        assert f["rows"] and all(isinstance(x, str) for x in f["rows"])
    for x in doc["local_only"]:
        assert list(x) == ["cluster", "row", "why"]


@pytest.mark.parametrize("stack", STACKS)
def test_verify_passes_on_every_example_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--stack", stack, "--project-dir", str(PROJECT_DIR)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "OK: the rendered objects allow exactly the required flows" in out


def test_plan_of_an_unknown_stack_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "nope", "--project-dir", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert "no stack file" in err and "stacks here:" in err


def test_plan_of_a_bad_stack_file_names_the_key(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  eksa-firewall:platform: vsphere\n  eksa-firewall:clusters: []\n", encoding="utf-8")
    assert main(["plan", "--stack-file", str(bad), "--project-dir", str(PROJECT_DIR)]) == 2
    err = capsys.readouterr().err
    assert "eksa-firewall:clusters: must not be empty" in err
    assert "eksa-firewall:adminMachine: is required" in err


def test_a_command_is_a_module_named_in_the_registry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    import types

    from components import cli

    module = types.ModuleType("components.cli.hello")

    def add_parser(subparsers: Any) -> None:
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    module.add_parser = add_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "components.cli.hello", module)
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, "hello"])
    assert main(["hello", "--name", "you"]) == 0
    assert capsys.readouterr().out == "hello you\n"


def test_platform_packages_hold_no_command_line() -> None:
    """argparse and the commands live in components/cli/; a platform package holds platform code only."""
    for platform in ("aws", "vsphere", "nutanix", "baremetal"):
        for path in (PROJECT_DIR / "components" / platform).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "argparse" not in text and "add_parser" not in text, path
