"""Run the hostile corpus through the real command line, in subprocesses, and judge what comes out.

Per case, as a CI job would: ``plan --format json`` (kept as the head plan), ``verify``, ``acl``, ``export``, then
``diff`` of the platform's base plan against the head plan. Cases run concurrently (one worker per CPU); every
command has a timeout, so a file that makes the reader loop or eat memory fails the test instead of hanging it.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.hardening.corpus import CSV_PLACEHOLDER, Case
from tests.helpers import PROJECT_DIR

COMMANDS = ("plan", "verify", "acl", "export", "diff")
TIMEOUT = 120  # seconds per command: far above the slowest real plan, far below "never ends"
PREFIX = "eksa-firewall: "


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class CaseRun:
    case: Case
    stack_file: Path
    export_dir: Path
    runs: Mapping[str, Ran]


def cli(args: list[str]) -> Ran:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "components.cli", *args],
            cwd=PROJECT_DIR,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"},
        )
    except subprocess.TimeoutExpired:
        return Ran(args[0], -1, "", f"no result within {TIMEOUT} s")
    return Ran(args[0], proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def write_case(case: Case, root: Path) -> Path:
    """The case's stack file (and CSV) under ``root``; returns the stack file."""
    folder = root / case.id
    folder.mkdir(parents=True, exist_ok=True)
    stack = case.stack
    if case.csv is not None:
        csv_path = folder / "hardware.csv"
        csv_path.write_bytes(case.csv)
        stack = stack.replace(CSV_PLACEHOLDER.encode(), str(csv_path).encode())
    path = folder / f"Pulumi.{case.id}.yaml"
    path.write_bytes(stack)
    return path


_DIFFS: dict[tuple[str, str], Ran] = {}  # (base plan, head plan text) -> the diff run: one run per distinct pair
_DIFFS_LOCK = threading.Lock()


def diff(base: Path, head: Path) -> Ran:
    """``diff BASE HEAD``; a refused stack leaves an empty head plan, so the refusals of one platform share one run."""
    key = (str(base), head.read_text(encoding="utf-8"))
    with _DIFFS_LOCK:
        known = _DIFFS.get(key)
    if known is None:
        known = cli(["diff", str(base), str(head)])
        if not key[1]:
            with _DIFFS_LOCK:
                _DIFFS[key] = known
    return known


def run_case(case: Case, root: Path, base_plans: Mapping[str, Path]) -> CaseRun:
    stack_file = write_case(case, root)
    folder = stack_file.parent
    where = ["--stack-file", str(stack_file), "--project-dir", str(PROJECT_DIR)]
    runs = {"plan": cli(["plan", *where, "--format", "json"])}
    head = folder / "head.json"
    head.write_text(runs["plan"].stdout if runs["plan"].returncode == 0 else "", encoding="utf-8")
    runs["verify"] = cli(["verify", *where])
    runs["acl"] = cli(["acl", *where])
    runs["export"] = cli(["export", *where, "-o", str(folder / "aerleon")])
    runs["diff"] = diff(base_plans.get(case.platform, head), head)  # a base: against itself
    return CaseRun(case, stack_file, folder / "aerleon", runs)


def run_all(cases: list[Case], root: Path, base_plans: Mapping[str, Path]) -> dict[str, CaseRun]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = list(pool.map(lambda c: run_case(c, root, base_plans), cases))
    return {r.case.id: r for r in done}


# --- judging ----------------------------------------------------------------------------------------------


def error_shape(ran: Ran) -> list[str]:
    """What is wrong with a refusal: exit 2, no traceback, and one error on stderr: one ``eksa-firewall: ...`` line,
    or (several problems) that line as a head ending with ':' and one ``  - `` line per problem."""
    out: list[str] = []
    if ran.returncode != 2:
        out.append(f"{ran.command}: exit {ran.returncode}, expected 2")
    if "Traceback" in ran.stderr:
        out.append(f"{ran.command}: a traceback on stderr")
    lines = ran.stderr.rstrip("\n").split("\n")
    if not lines[0].startswith(PREFIX):
        out.append(f"{ran.command}: stderr does not start with {PREFIX!r}: {ran.stderr[:300]!r}")
    rest = lines[1:]
    if any(not line.startswith("  - ") for line in rest):
        out.append(f"{ran.command}: more than one error line: {ran.stderr[:600]!r}")
    if rest and not lines[0].endswith(":"):
        out.append(f"{ran.command}: problems listed under a head that does not end with ':': {lines[0][:200]!r}")
    count = re.search(r"\((\d+) problems\):$", lines[0])
    if count and int(count.group(1)) != len(rest):
        out.append(f"{ran.command}: the head announces {count.group(1)} problems, {len(rest)} are listed")
    if any(len(line.splitlines()) > 1 for line in lines):
        out.append(f"{ran.command}: a line holds another kind of line break (\\r, \\u2028...): {ran.stderr[:300]!r}")
    return out


def success_shape(ran: Ran) -> list[str]:
    out = []
    if ran.returncode != 0:
        out.append(f"{ran.command}: exit {ran.returncode}, expected 0: {ran.stderr[:600]!r}")
    if "Traceback" in ran.stderr:
        out.append(f"{ran.command}: a traceback on stderr")
    return out


def acl_problems(text: str) -> list[str]:
    """The ACL is CSV whose address columns hold canonical CIDRs only."""
    out = []
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        for column in ("source_cidr", "destination_cidr"):
            value = row.get(column) or ""
            try:
                canonical = str(ipaddress.ip_network(value, strict=True))
            except ValueError:
                canonical = None
            if canonical != value:
                out.append(f"acl line {i}: {column} {value!r} is not a canonical CIDR")
    return out


def plan_document(ran: Ran) -> dict[str, object]:
    doc = json.loads(ran.stdout)
    assert isinstance(doc, dict)
    return doc
