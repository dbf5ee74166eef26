"""What every platform component shares: how it is built, how it names children, how it gives its outputs.

A platform component is a thin ``pulumi.ComponentResource`` over its pure planner. It can be built two ways:

- ``VSphereFirewall("eksa", args)``: from ``args``, the same keys as a stack file's ``eksa-firewall:*``
  (docs/configuration.md), minus ``platform`` (the class decides it). Use this inside your own stacks.
- ``VSphereFirewall.from_environment("eksa", environment)``: from an ``Environment`` somebody already parsed
  and planned. The project's own program (components/program.py) does this: it reads the stack config,
  validates it and computes the flows before importing any provider SDK, then hands them over explicitly.

Either way everything is checked before the first child is registered. Values a planner reasons about
(addresses, ports, names) must be plain; values that only pass through to a resource (a VPC id, Prism ids,
passwords) may be ``pulumi.Input``s. Outputs are typed attributes (``pulumi.Output[...]`` class annotations),
registered with ``register_outputs`` under their camelCase names, which are also the stack outputs and the
multi-language schema's output names.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import pulumi

from .flows import FlowSet, build_flows
from .topology import Topology, parse_topology

PACKAGE = "eksa-firewall"


def token(type_name: str) -> str:
    """The component type token; the ``index`` module is what multi-language packages require."""
    return f"{PACKAGE}:index:{type_name}"


_UNSAFE = re.compile(r"[^a-z0-9-]+")


def child_name(component: str, *keys: str) -> str:
    """A logical name from stable keys (cluster, role, row id, peer), never from list positions."""
    parts = [component, *(_UNSAFE.sub("-", k.lower()).strip("-") for k in keys)]
    return "-".join(p for p in parts if p)


def camel_case(name: str) -> str:
    """``security_group_ids`` -> ``securityGroupIds``: how Pulumi names properties across languages."""
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


@dataclass(frozen=True, kw_only=True, slots=True)
class Environment:
    """One environment, validated and planned: what a platform component is built from.

    ``secrets``: the platform's secret inputs (its ``Platform.secret_keys``), plain strings or pulumi Outputs;
    the component marks them secret whatever it is given.
    """

    topology: Topology
    flows: FlowSet
    secrets: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], platform: str, *, key_prefix: str = "") -> Environment:
        """Parse and plan component ``args`` for ``platform``: raises ``ConfigError``, registers nothing."""
        topology = parse_topology(args, platform=platform, key_prefix=key_prefix)
        secrets = {k: args[k] for k in topology.platform_spec.secret_keys if args.get(k) is not None}
        return cls(topology=topology, flows=build_flows(topology), secrets=secrets)


class FirewallComponent(pulumi.ComponentResource):
    """The base of the four platform components: the two ways to build one, and its typed outputs."""

    PLATFORM: ClassVar[str]  # the platform name (components/platform.py) this class builds

    def __init__(self, name: str, args: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, Environment.from_args(args, self.PLATFORM), opts)

    @classmethod
    def from_environment(cls, name: str, environment: Environment, opts: pulumi.ResourceOptions | None = None) -> Self:
        """Build the component from an environment that is already parsed and planned (see the module doc)."""
        if environment.topology.platform != cls.PLATFORM:
            raise TypeError(f"{cls.__name__} builds {cls.PLATFORM} firewalls, not {environment.topology.platform}")
        component = cls.__new__(cls)
        component._build(name, environment, opts)
        return component

    def _build(self, name: str, environment: Environment, opts: pulumi.ResourceOptions | None) -> None:
        """Check, plan (raising before anything is registered), then register the children and the outputs."""
        raise NotImplementedError

    @classmethod
    def output_names(cls) -> tuple[str, ...]:
        """The typed output attributes (``pulumi.Output[...]`` class annotations of the platform class)."""
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if klass is FirewallComponent or not issubclass(klass, FirewallComponent):
                continue
            for attr, hint in inspect.get_annotations(klass, eval_str=True).items():
                if typing.get_origin(hint) is pulumi.Output and not attr.startswith("_") and attr not in names:
                    names.append(attr)
        return tuple(names)

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        """Every typed output by its camelCase name: what the stack exports and ``register_outputs`` records."""
        return {camel_case(attr): getattr(self, attr) for attr in self.output_names()}

    def _set_outputs(self, **values: Any) -> None:
        """Set every typed output (each an Output), then register them: call once, last."""
        missing = set(self.output_names()) - set(values)
        unknown = set(values) - set(self.output_names())
        if missing or unknown:
            raise TypeError(f"{type(self).__name__}: outputs missing {sorted(missing)}, unknown {sorted(unknown)}")
        for attr, value in values.items():
            setattr(self, attr, settled(value))
        self.register_outputs(self.outputs())


def settled(value: Any) -> pulumi.Output[Any]:
    """``value``, plain data with Outputs anywhere inside (dicts and lists), as one Output of plain data.

    The same value and dependencies as ``pulumi.Output.from_input(value)``, which wraps every dict and list
    level in an Output of its own and waits on each level: here one wait covers every Output inside, so what
    registers or exports the result waits once (a Snow stack of 200 clusters has 1,021 group ids in one output).
    """
    if isinstance(value, pulumi.Output):
        return value
    leaves: list[pulumi.Output[Any]] = []

    def collect(v: Any) -> None:
        if isinstance(v, pulumi.Output):
            leaves.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                collect(item)
        elif isinstance(v, list | tuple):
            for item in v:
                collect(item)

    def rebuild(v: Any, resolved: Iterator[Any]) -> Any:
        if isinstance(v, pulumi.Output):
            return next(resolved)
        if isinstance(v, dict):
            return {k: rebuild(item, resolved) for k, item in v.items()}
        if isinstance(v, list):
            return [rebuild(item, resolved) for item in v]
        if isinstance(v, tuple):
            return tuple(rebuild(item, resolved) for item in v)
        return v

    collect(value)
    # With no Output inside too: one Output of the value, where from_input would make one per level and value.
    return pulumi.Output.all(*leaves).apply(lambda resolved: rebuild(value, iter(resolved)))
