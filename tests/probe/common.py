"""Shared by the probe tests: the lab stacks and reading a stack file as the command line does."""

from __future__ import annotations

import argparse
from pathlib import Path

from components.cli.common import Stack, load_stack_args
from tests.helpers import PROJECT_DIR

LAB_STACKS = Path(__file__).resolve().parent / "stacks"
# Each lab stack and the example it moves into the lab's address ranges (bare metal's example is already there).
LAB_OF_EXAMPLE = {
    "snow-example": "snow-lab",
    "aws-region-example": "aws-region-lab",
    "vsphere-example": "vsphere-lab",
    "nutanix-example": "nutanix-lab",
}


def load_stack_file(path: Path) -> Stack:
    return load_stack_args(argparse.Namespace(stack=None, stack_file=str(path), project_dir=str(PROJECT_DIR)))


def load_example(name: str) -> Stack:
    return load_stack_args(argparse.Namespace(stack=name, stack_file=None, project_dir=str(PROJECT_DIR)))
