"""Every doc snippet runs as written: the YAML stack snippets of README.md and docs/ are planned, and every
`eksa-firewall ...` (or `python -m components.cli ...`) line is checked against the command line's own parser.

Data-driven: SNIPPETS says how each YAML snippet is run, keyed by its file and first line. A snippet not in the
table fails the test until it is classified, so a new snippet is never left unchecked.
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from components.cli import main, parser
from tests.helpers import PROJECT_DIR

DOCS = sorted([PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").rglob("*.md")])


class Run(NamedTuple):
    """How a YAML snippet runs. ``into``: None, the snippet is a whole stack file; else the example stack whose
    `config:` the snippet's keys replace. ``extra``: config the docs tell you to set beside it (secrets).
    ``why_not``: not stack config (an EKS-A cluster spec, a Pulumi YAML program): it only has to parse."""

    into: str | None = None
    extra: dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated
    why_not: str = ""


SNIPPETS: dict[tuple[str, str], Run] = {
    ("docs/configuration.md", "config:"): Run(),
    ("docs/platforms/baremetal.md", "  eksa-firewall:baremetal:"): Run(
        into="baremetal-example", extra={"eksa-firewall:sshPrivateKey": {"secure": "v1:offline-placeholder"}}
    ),
    ("docs/platforms/baremetal.md", "  eksa-firewall:hardwareCsv: stacks/hardware-example.csv"): Run(into="baremetal-example"),
    ("docs/platforms/vsphere.md", "  eksa-firewall:vsphere:"): Run(into="vsphere-example"),
    ("docs/platforms/nutanix.md", "apiVersion: anywhere.eks.amazonaws.com/v1alpha1"): Run(why_not="an EKS-A NutanixMachineConfig"),
    ("docs/platforms/snow.md", "spec:"): Run(why_not="an EKS-A SnowMachineConfig"),
    ("docs/platforms/snow.md", "      additionalSecurityGroups:"): Run(why_not="part of an EKS-A SnowMachineConfig"),
    ("docs/platforms/vsphere.md", "kind: VSphereMachineConfig"): Run(why_not="an EKS-A VSphereMachineConfig"),
    ("docs/reuse.md", "resources:"): Run(why_not="a Pulumi YAML program using the component package"),
    ("docs/export.md", "  # mgmt: control-plane -> worker, TCP 4240|10250|30000-32767"): Run(why_not="a term of the Aerleon export"),
}

_BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_snippets() -> list[tuple[str, str, str]]:
    """(doc path relative to the project, first line, text) of every ```yaml block."""
    out = []
    for doc in DOCS:
        for m in _BLOCK.finditer(doc.read_text(encoding="utf-8")):
            if m.group(1) in ("yaml", "yml"):
                out.append((doc.relative_to(PROJECT_DIR).as_posix(), m.group(2).split("\n", 1)[0], m.group(2)))
    return out


def test_every_yaml_snippet_is_classified() -> None:
    found = {(path, first) for path, first, _ in yaml_snippets()}
    assert found - set(SNIPPETS) == set(), "classify these snippets in SNIPPETS (tests/cli/test_docs.py)"
    assert set(SNIPPETS) - found == set(), "these snippets are gone from the docs: remove them from SNIPPETS"


@pytest.mark.parametrize(("path", "first", "text"), yaml_snippets(), ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "")
def test_yaml_snippet_runs_as_written(path: str, first: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = SNIPPETS[(path, first)]
    if run.why_not:
        yaml.safe_load(text if not text.startswith(" ") else _dedent(text))
        return
    if run.into is None:
        doc = yaml.safe_load(text)
    else:
        doc = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{run.into}.yaml").read_text(encoding="utf-8"))
        doc["config"].update(yaml.safe_load(_dedent(text)))
    doc["config"].update(run.extra)
    stack = tmp_path / "Pulumi.snippet.yaml"
    stack.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    code = main(["plan", "--stack-file", str(stack), "--project-dir", str(PROJECT_DIR), "--format", "json"])
    assert code == 0, f"{path}: the snippet starting {first!r} does not plan: {capsys.readouterr().err}"


def _dedent(text: str) -> str:
    indent = min(len(line) - len(line.lstrip()) for line in text.splitlines() if line.strip())
    return "\n".join(line[indent:] for line in text.splitlines())


# --- command lines ------------------------------------------------------------------------------------

_COMMAND = re.compile(r"(?:^|[\s`(])(?:\.venv/bin/)?(?:eksa-firewall|python -m components\.cli)(?= |$)((?: [^`#\n]*)?)")
_SHELL_LANGS = ("", "sh", "bash", "shell", "console")


def command_lines() -> list[tuple[str, int, str, bool]]:
    """(doc, line number, arguments, in a shell block?) of every `eksa-firewall ...` line: shell blocks and inline code."""
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        name = doc.relative_to(PROJECT_DIR).as_posix()
        blocks = [(m.start(2), m.end(2)) for m in _BLOCK.finditer(text) if m.group(1) in _SHELL_LANGS]
        in_shell = {text.count("\n", 0, a) + 1 + i for a, b in blocks for i in range(text.count("\n", a, b))}
        for number, line in enumerate(text.splitlines(), start=1):
            candidates = [line.split(" #", 1)[0]] if number in in_shell else re.findall(r"`([^`]+)`", line)  # no shell comments
            for piece in candidates:
                for m in _COMMAND.finditer(piece):
                    out.append((name, number, m.group(1).strip(), number in in_shell))
    return out


def _parse(args: list[str]) -> argparse.Namespace | None:
    with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):
        try:
            return parser().parse_args(args)
        except SystemExit:
            return None


def _options(command: str) -> set[str]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {o for action in sub.choices[command]._actions for o in action.option_strings}


def test_there_are_command_lines_to_check() -> None:
    lines = command_lines()
    assert len(lines) > 20 and any(shell for *_, shell in lines)


@pytest.mark.parametrize(("doc", "number", "args", "shell"), command_lines(), ids=lambda v: str(v)[:50])
def test_command_line_matches_the_parser(doc: str, number: int, args: str, shell: bool) -> None:
    words = shlex.split(args.replace("|", " | ")) if args else []
    if not words or words[0].startswith("<") or words[0] in ("-h", "--help"):
        return  # `eksa-firewall <command>`: the command itself is a placeholder
    command = words[0]
    from components.cli import COMMANDS

    assert command in COMMANDS, f"{doc}:{number}: no command {command!r}"
    synopsis = any(c in args for c in "[]|<>") or "..." in args or "…" in args
    if shell and not synopsis:
        assert _parse(words) is not None, f"{doc}:{number}: `eksa-firewall {args}` is refused by the parser"
        return
    used = {w.split("=")[0] for w in re.findall(r"(?<![\w-])--?[a-z][\w-]*", args)}
    unknown = used - _options(command)
    assert not unknown, f"{doc}:{number}: `{command}` has no option {sorted(unknown)}"
