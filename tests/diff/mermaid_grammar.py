"""A strict checker for the Mermaid subset components/mermaid.py writes.

Every line must be one of the forms below, every edge must join declared nodes, subgraphs must close,
``linkStyle`` indices must name existing edges, and labels must be double-quoted with no raw ``"``.
The golden files were also checked by Mermaid 11's own parser (tests/diff/check_mermaid.mjs, by hand:
it needs node and npm packages that `make test` does not install).
"""

from __future__ import annotations

import re

_ID = r"[a-z][a-z0-9_]*"
_LABEL = r'"[^"\n]*"'
_KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "class", "classdef", "linkstyle", "click", "default", "direction"}
_FORMS = {
    "comment": re.compile(r"^  %% [^%{}\n]*$"),
    "node": re.compile(rf"^ {{2,4}}(?P<id>{_ID})(?:\[{_LABEL}\]|\({_LABEL}\)|\(\[{_LABEL}\]\))$"),
    "subgraph": re.compile(rf"^  subgraph (?P<id>{_ID})\[{_LABEL}\]$"),
    "end": re.compile(r"^  end$"),
    "edge": re.compile(rf"^  (?P<a>{_ID}) (?:-->|-\.->)\|{_LABEL}\| (?P<b>{_ID})$"),
    "linkstyle": re.compile(r"^  linkStyle (?P<idx>\d+(?:,\d+)*) [a-z-]+:[^;\s]+(?:,[a-z-]+:[^;\s]+)*$"),
    "classdef": re.compile(r"^  classDef [a-z]+ [a-z-]+:[^;\s]+(?:,[a-z-]+:[^;\s]+)*$"),
    "class": re.compile(rf"^  class (?P<ids>{_ID}(?:,{_ID})*) [a-z]+$"),
}


def check(text: str) -> list[str]:
    """Problems found (empty: the text is in the subset)."""
    lines = text.rstrip("\n").split("\n")
    problems: list[str] = []
    if lines[0] != "flowchart LR":
        problems.append(f"line 1 is {lines[0]!r}, expected 'flowchart LR'")
    nodes: set[str] = set()
    edges = 0
    depth = 0
    pending: list[tuple[int, str]] = []
    for n, line in enumerate(lines[1:], start=2):
        kind = next((k for k, rx in _FORMS.items() if rx.match(line)), None)
        if kind is None:
            problems.append(f"line {n}: not in the subset: {line!r}")
            continue
        m = _FORMS[kind].match(line)
        assert m is not None
        if kind in ("node", "subgraph"):
            ident = m.group("id")
            if ident.lower() in _KEYWORDS:
                problems.append(f"line {n}: id {ident!r} is a Mermaid keyword")
            if ident in nodes:
                problems.append(f"line {n}: id {ident!r} declared twice")
            nodes.add(ident)
            depth += kind == "subgraph"
        elif kind == "end":
            depth -= 1
            if depth < 0:
                problems.append(f"line {n}: 'end' without a subgraph")
        elif kind == "edge":
            edges += 1
            pending += [(n, m.group("a")), (n, m.group("b"))]
        elif kind == "linkstyle":
            bad = [i for i in m.group("idx").split(",") if int(i) >= edges]
            if bad:
                problems.append(f"line {n}: linkStyle names edges {bad} but only {edges} exist")
        elif kind == "class":
            pending += [(n, i) for i in m.group("ids").split(",")]
    problems += [f"line {n}: {ident!r} is not a declared node" for n, ident in pending if ident not in nodes]
    if depth:
        problems.append(f"{depth} subgraph(s) not closed")
    return problems
