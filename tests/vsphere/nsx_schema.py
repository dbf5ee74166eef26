"""The vendored NSX Policy API schema subset (nsx_policy_schema.json): validators and readable errors.

Each error names the field (a JSON path into the body), what is wrong, and the vendor's rule for it (the
``x-vendor-rule`` of the schema node that refused, else the Go struct it was derived from).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_FILE = Path(__file__).with_name("nsx_policy_schema.json")
TYPES = ("Group", "Service", "SecurityPolicy")


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def validator(resource_type: str) -> Draft202012Validator:
    s = schema()
    return Draft202012Validator({"$ref": f"#/$defs/{resource_type}", "$defs": s["$defs"]})


def _branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the oneOf branch the instance's resource_type selects (the others are noise)."""
    instance, options = error.instance, error.schema.get("oneOf") if isinstance(error.schema, Mapping) else None
    if not (isinstance(instance, Mapping) and isinstance(options, list)):
        return list(error.context or [])
    chosen = [i for i, o in enumerate(options) if str(o.get("$ref", "")).rsplit("/", 1)[-1] == instance.get("resource_type")]
    picked = [e for e in error.context or [] if e.relative_schema_path and e.relative_schema_path[0] in chosen]
    return picked or list(error.context or [])


def _leaf(error: ValidationError) -> ValidationError:
    while error.context:
        error = best_match(_branch(error)) or error.context[0]
    return error


def _rule(error: ValidationError, body: Mapping[str, Any], resource_type: str) -> str:
    """The vendor rule for the refused field: the rule the schema node states, else the one of the field in the
    definition of the nearest enclosing object (by its resource_type), else the struct it was derived from."""
    e: Any = error
    while e is not None:
        if isinstance(e.schema, Mapping) and e.schema.get("x-vendor-rule"):
            return str(e.schema["x-vendor-rule"])
        e = e.parent
    defs = schema()["$defs"]
    definition, field = defs[resource_type], None
    node: Any = body
    for step in error.absolute_path:
        if isinstance(node, Mapping):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            node = None
        if isinstance(node, Mapping) and node.get("resource_type") in defs:
            definition, field = defs[node["resource_type"]], None
        elif isinstance(step, str):
            field = step
    prop = (definition.get("properties") or {}).get(field) if field else None
    if isinstance(prop, Mapping) and prop.get("x-vendor-rule"):
        return str(prop["x-vendor-rule"])
    return str(definition.get("x-source", "nsx_policy_schema.json"))


def describe(errors: Iterable[ValidationError], body: Mapping[str, Any], resource_type: str) -> list[str]:
    out = []
    for e in errors:
        leaf = _leaf(e)
        out.append(f"{leaf.json_path}: {leaf.message} (vendor rule: {_rule(leaf, body, resource_type)})")
    return sorted(set(out))


def schema_errors(resource_type: str, body: Mapping[str, Any]) -> list[str]:
    """Every way ``body`` breaks the vendor model for ``resource_type`` (empty when it conforms)."""
    if resource_type not in TYPES:
        return [f"$: no schema for resource type {resource_type!r}"]
    return describe(validator(resource_type).iter_errors(dict(body)), body, resource_type)
