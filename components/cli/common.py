"""What the commands share: exit codes, the ``--stack``/``--stack-file`` arguments, reading a stack, writing output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from ..errors import EksaFirewallError
from ..flows import FlowSet, build_flows
from ..stackfile import StackConfig, load_project, load_stack, read_text
from ..topology import Topology, parse_topology, top_level_keys

PLAN_SCHEMA = "eksa-firewall/plan/v1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class CliError(EksaFirewallError):
    """A usage problem: printed as one line, exit 2."""


class Stack(NamedTuple):
    config: StackConfig
    topology: Topology
    flows: FlowSet


def add_stack_arguments(p: argparse.ArgumentParser) -> None:
    """``--stack NAME | --stack-file PATH`` and ``--project-dir``: for every command that reads a stack."""
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name: reads stacks/Pulumi.<NAME>.yaml")
    which.add_argument("--stack-file", help="a stack file anywhere on disk")
    p.add_argument("--project-dir", default=".", help="directory holding Pulumi.yaml (default: .)")


def load_stack_args(args: argparse.Namespace) -> Stack:
    """The stack named by ``--stack``/``--stack-file`` (see ``add_stack_arguments``): config, topology, flows."""
    project = load_project(Path(args.project_dir))
    stack_file = Path(args.stack_file) if args.stack_file else None
    sc = load_stack(project, stack=args.stack, path=stack_file, known_keys=top_level_keys())

    def read_file(path: str) -> str:
        p = Path(path)
        try:
            return read_text(p if p.is_absolute() else project.directory / p, "hardware CSV")
        except EksaFirewallError as exc:  # parse_topology reports an OSError with the config key
            raise OSError(str(exc)) from None

    topology = parse_topology(sc.project_values(), key_prefix=f"{project.name}:", read_file=read_file)
    flows = build_flows(topology)
    # The platform's own section too, so that every command refuses a broken stack alike (and without the SDK).
    topology.platform_spec.module("settings").parse_settings(topology)
    return Stack(sc, topology, flows)


def stack_label(args: argparse.Namespace) -> str:
    return str(args.stack or args.stack_file)


def write_output(path: str | None, text: str) -> None:
    """``text`` to the file ``path`` (its folder made when missing), or to standard output."""
    if not path:
        sys.stdout.write(text)
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot write the output ({exc.strerror or exc})") from None
