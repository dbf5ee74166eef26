"""The SDK floor: what registering the same resources costs with the Pulumi SDK alone, without our code.

``register_all`` takes the registrations recorded from a real plan and registers them again, in the same
order, with the same type tokens, names, inputs, parents and providers: each custom resource through its
provider SDK's own class (``aws:ec2/securityGroup:SecurityGroup`` -> ``pulumi_aws.ec2.SecurityGroup``), the
class any Pulumi program must use, so the provider SDK's own per-resource work (typed arguments, output
properties) is in the floor; dynamic resources (``pulumi-python:dynamic/<module>:<Name>``) as
``pulumi.dynamic.Resource`` registers them, with a provider that does nothing, serialized once; components
through a ``ComponentResource`` class (see ``_Component``) and providers as the SDK's ``Provider``.

Inputs keep their shape: a secret input becomes a secret Output again, and an input equal to the id of a
resource registered earlier becomes that resource's ``id`` Output (the SDK waits on the same dependencies).
The options the bench records besides (tests/bench/child.py ``record_options``) are given again: explicit
dependencies (``depends_on``), additional secret outputs, delete-before-replace. Components call
``register_outputs({})``. Not reproduced: the components' outputs and the stack's exports (what our program
chooses to export is its own cost). ``tests/bench/run.py`` checks that the floor registers exactly the same
(type, name, parent, inputs) as the plan it copies.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dyn
from pulumi.dynamic.dynamic import serialize_provider

from components.engine import SECRET

PROVIDER_PREFIX = "pulumi:providers:"
DYNAMIC_PREFIX = "pulumi-python:dynamic/"


class _NoOp(dyn.ResourceProvider):
    """A dynamic provider that does nothing (the mock engine never calls it)."""


# Components and dynamic resources are declared through a class of the program's own, as every program declares
# them (``pulumi.dynamic.Resource`` is such a class too): the SDK records the program's stack for each resource
# created through a constructor chain of three ``__init__``s (pulumi/runtime/resource.py ``_get_stack_trace``),
# and a resource made by calling ``ComponentResource`` or ``CustomResource`` directly would skip that cost.


class _Component(pulumi.ComponentResource):
    def __init__(self, t: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(t, name, props, opts)


class _Dynamic(pulumi.CustomResource):
    def __init__(self, t: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(t, name, props, opts)


@cache
def _noop_provider() -> str:
    return serialize_provider(_NoOp())


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


@cache
def sdk_class(type_token: str) -> type[Any] | None:
    """The provider SDK class registering ``type_token``, or None (components, unknown packages)."""
    if type_token.startswith(DYNAMIC_PREFIX):
        return dyn.Resource
    if type_token.startswith(PROVIDER_PREFIX):
        package, cls = type_token[len(PROVIDER_PREFIX) :], "Provider"
        module = f"pulumi_{package}"
    else:
        package, mod, cls = type_token.split(":", 2)
        mod = mod.split("/", 1)[0]
        module = f"pulumi_{package}" + ("" if mod == "index" else f".{mod}")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None


@cache
def _arg_names(cls: type[Any]) -> Mapping[str, str]:
    """Engine property name -> the SDK class's keyword argument."""
    params = inspect.signature(cls._internal_init).parameters
    return {_camel(p): p for p in params if p not in ("__self__", "resource_name", "opts", "__props__")}


def _inputs(value: Any, ids: Mapping[str, pulumi.CustomResource]) -> Any:
    if isinstance(value, dict):
        return {k: _inputs(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_inputs(v, ids) for v in value]
    if value == SECRET:
        return pulumi.Output.secret(SECRET)
    if isinstance(value, str) and value in ids:
        return ids[value].id
    return value


def _json_value(value: Any) -> Any:
    if not isinstance(value, str) or not (value in ("true", "false") or value[:1] in ("[", "{")):
        return value  # a number given as a string stays a string (pulumi-nutanix's port is one)
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_registrations(path: Path) -> Iterator[dict[str, Any]]:
    """The registrations of a dump (one JSON object a line), each decoded when it is asked for."""
    for line in path.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)


def register_all(registrations: Iterable[Mapping[str, Any]]) -> None:
    by_urn: dict[str, pulumi.Resource] = {}
    ids: dict[str, pulumi.CustomResource] = {}
    components: list[pulumi.ComponentResource] = []
    for r in registrations:
        parent = by_urn.get(r["parent"] or "")
        # A provider reference is "<urn>::<id>".
        provider = by_urn.get(str(r["provider"]).rsplit("::", 1)[0]) if r.get("provider") else None
        props: dict[str, Any] = _inputs(dict(r["inputs"]), ids)
        typ: str = r["type"]
        cls = sdk_class(typ) if r["custom"] else None
        # A provider SDK's class adds its own secret outputs (a Provider's keys): given again, they would be twice.
        own_secrets = cls is not None and not typ.startswith(DYNAMIC_PREFIX)
        opts = pulumi.ResourceOptions(
            parent=parent,
            provider=provider,  # type: ignore[arg-type]
            depends_on=[by_urn[urn] for urn in r.get("depends_on") or ()] or None,
            additional_secret_outputs=None if own_secrets else r.get("additional_secret_outputs") or None,
            delete_before_replace=r.get("delete_before_replace") or None,
        )
        res: pulumi.Resource
        if typ.startswith(PROVIDER_PREFIX):
            props = {k: _json_value(v) for k, v in props.items()}  # the SDK sends provider inputs JSON-encoded
        if cls is not None and typ.startswith(DYNAMIC_PREFIX):
            # What dyn.Resource.__init__ does, with a do-nothing provider serialized once (as ours is once per
            # kind: pulumi's serialize_provider gets slower with every call in a process).
            props["__provider"] = pulumi.Output.secret(_noop_provider())
            res = _Dynamic(typ, r["name"], props, opts)
        elif cls is not None:
            names = _arg_names(cls)
            res = cls(r["name"], opts=opts, **{names.get(k, _snake(k)): v for k, v in props.items()})
        elif typ.startswith(PROVIDER_PREFIX):
            res = pulumi.ProviderResource(typ[len(PROVIDER_PREFIX) :], r["name"], props, opts)
        elif r["custom"]:
            res = pulumi.CustomResource(typ, r["name"], props, opts)
        else:
            res = _Component(typ, r["name"], props, opts)
            components.append(res)
        by_urn[r["urn"]] = res
        if r["custom"] and r.get("id"):
            ids[r["id"]] = res  # type: ignore[assignment]
    for c in components:
        c.register_outputs({})
