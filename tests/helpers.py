"""Shared test helpers: run the real program under Pulumi's mock engine with a given config.

The environments to run it with come from tests/environments.py (the builder and the hypothesis strategy).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.engine import ProgramRun, Registration, run_program, run_stack
from components.flows import FlowSet, build_flows
from components.stackfile import StackConfig, load_project, load_stack
from components.topology import Topology, parse_topology

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "eksa-firewall"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Planned:
    run: ProgramRun
    topology: Topology
    flows: FlowSet


def stack_config(name: str) -> StackConfig:
    """A stack of stacks/ as the Pulumi CLI would read it (project defaults applied)."""
    return load_stack(load_project(PROJECT_DIR), stack=name)


def example_args(name: str) -> dict[str, Any]:
    """The project's config keys of a stack in stacks/, un-namespaced: the component ``args`` shape."""
    return stack_config(name).project_values()


def read_file(path: str) -> str:
    """Read a file a config names (the hardware CSV, a CA bundle), relative to the project directory."""
    p = Path(path)
    return (p if p.is_absolute() else PROJECT_DIR / p).read_text(encoding="utf-8")


def plan_config(
    config: Mapping[str, Any],
    *,
    stack: str = "test",
    secrets: Mapping[str, str] | None = None,
    recorded: list[Registration] | None = None,
) -> Planned:
    """Run __main__.py under mocks with ``config`` (un-namespaced keys, as in a stack file).

    Project defaults from Pulumi.yaml are applied first, as the Pulumi CLI does. ``secrets`` are
    passed as secret config values.
    """
    project = load_project(PROJECT_DIR)
    values: dict[str, Any] = {**project.defaults, **config, **(secrets or {})}
    engine_config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    run = run_program(
        project.program,
        project=PROJECT,
        stack=stack,
        config=engine_config,
        secret_keys=[f"{PROJECT}:{k}" for k in (secrets or {})],
        recorded=recorded,
    )
    topology = parse_topology(values, read_file=read_file)
    return Planned(run=run, topology=topology, flows=build_flows(topology))


def plan_stack(name: str) -> Planned:
    """Run __main__.py under mocks with a stack file of stacks/."""
    sc = stack_config(name)
    run = run_stack(sc)
    topology = parse_topology(sc.project_values(), read_file=read_file)
    return Planned(run=run, topology=topology, flows=build_flows(topology))


def shuffled(config: Any, seed: int) -> Any:
    """The same environment with every list in another order (a seeded shuffle, deterministic)."""
    rnd = random.Random(seed)

    def walk(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [walk(v) for v in value]
            rnd.shuffle(items)
            return items
        return value

    return walk(config)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
