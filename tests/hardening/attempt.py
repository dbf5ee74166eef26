"""One hostile value in one field, through the real program under the mock engine: refused well, or rendered well."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from components.errors import ConfigError
from tests.hardening.artefacts import problems
from tests.hardening.fields import Field
from tests.helpers import plan_config

Outcome = Literal["refused", "accepted"]


def one_line_per_problem(error: ConfigError) -> list[str]:
    """What is wrong with how ``error`` reads: its text must be a head line and one line per problem (so that a
    reader, or the one-line-per-error contract of the command line, is not fooled by text the user wrote)."""
    lines = str(error).split("\n")
    out = []
    if len(lines) != 1 + len(error.problems):
        out.append(f"{len(error.problems)} problems printed on {len(lines)} lines: {str(error)[:400]!r}")
    out += [f"a line break of another kind in {line[:200]!r}" for line in lines if len(line.splitlines()) > 1]
    return out


def attempt(field: Field, value: Any, csv_dir: Path) -> Outcome:
    """Plan the base with ``value`` in ``field``. A refusal must name the field's key, one problem per line; an
    accepted value must render only well-formed, planned artefacts (tests/hardening/artefacts.py)."""
    config = field.apply(value, csv_dir)
    try:
        planned = plan_config(config)
    except ConfigError as error:
        return _refused(field, value, error)
    found = problems(planned)
    assert not found, f"{field.id} = {value!r} was accepted, and the plan holds what the planner did not make:\n" + "\n".join(found[:20])
    return "accepted"


def _refused(field: Field, value: Any, error: ConfigError) -> Outcome:
    assert any(field.named_by(p) for p in error.problems), (
        f"{field.id} = {value!r}: refused, but no problem names {field.key}: {[str(p)[:200] for p in error.problems]}"
    )
    bad = one_line_per_problem(error)
    assert not bad, f"{field.id} = {value!r}: {bad}"
    return "refused"
