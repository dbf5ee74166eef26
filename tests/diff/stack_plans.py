"""Plans of the example stacks (stacks/Pulumi.<name>.yaml) and of modified copies, as `plan --stack-file` makes them."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import yaml

from components.cli import main

PROJECT_DIR = Path(__file__).resolve().parents[2]
NS = "eksa-firewall:"
# The example stacks that exist; add each platform's example when it lands.
EXAMPLE_STACKS = ("vsphere-example", "nutanix-example", "baremetal-example", "aws-region-example", "snow-example")
# The stacks that hold the node-side objects, where a client range or Jenkins shows as inbound rules.
# aws-region-example holds only the peers' groups in a VPC (its nodes' groups are on the Snow devices): a
# client range changes its egress rules, and it asks for a Jenkins group, which needs Jenkins.
NODE_STACKS = tuple(s for s in EXAMPLE_STACKS if s != "aws-region-example")


def stack_file(name: str) -> Path:
    return PROJECT_DIR / "stacks" / f"Pulumi.{name}.yaml"


def plan_file(path: Path) -> dict[str, Any]:
    """`eksa-firewall plan --stack-file PATH --format json`, parsed."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["plan", "--stack-file", str(path), "--project-dir", str(PROJECT_DIR), "--format", "json"])
    assert code == 0, f"plan failed for {path}"
    return json.loads(out.getvalue())


def modified_copy(name: str, change: Callable[[dict[str, Any]], None], directory: Path) -> Path:
    """A copy of the example stack file with ``change`` applied to its config (keys with the project prefix)."""
    doc = yaml.safe_load(stack_file(name).read_text(encoding="utf-8"))
    config = copy.deepcopy(doc["config"])
    change(config)
    path = directory / f"Pulumi.{name}.yaml"  # same stack name: the diff compares like with like
    path.write_text(yaml.safe_dump({**doc, "config": config}, sort_keys=False), encoding="utf-8")
    return path


def add_ssh_range(config: dict[str, Any]) -> None:
    config[f"{NS}clients"]["ssh"].append("172.16.99.0/24")


def open_api_to_internet(config: dict[str, Any]) -> None:
    config[f"{NS}clients"]["api"] = ["0.0.0.0/0"]


def toggle_jenkins(config: dict[str, Any]) -> None:
    """Remove Jenkins where the example has it, add it where it has not."""
    if config.get(f"{NS}managementTools"):
        del config[f"{NS}managementTools"]
    else:
        config[f"{NS}managementTools"] = {"jenkins": {"address": "10.99.0.50", "clients": ["10.99.1.0/24"]}}


def remove_api_range(config: dict[str, Any]) -> None:
    """Drop the last API client range (the only one, on some stacks: then its flows go too)."""
    config[f"{NS}clients"]["api"].pop()


def add_worker_group(config: dict[str, Any]) -> None:
    """A new worker group in the first cluster: by address, or (bare metal) by a hardware selector."""
    groups = config[f"{NS}clusters"][0].setdefault("workerGroups", [])
    groups.append({"name": "md-new", "addresses": ["10.99.8.0/24"]})


def add_nodeport_client(config: dict[str, Any]) -> None:
    config[f"{NS}clients"]["nodePort"] = [*config[f"{NS}clients"].get("nodePort", []), "10.99.9.0/24"]
