"""What every platform component does before it registers anything, and how it names children.

A platform component is a thin ``pulumi.ComponentResource``:

    class VSphereFirewall(pulumi.ComponentResource):
        def __init__(self, name: str, args: VSphereFirewallArgs, opts: pulumi.ResourceOptions | None = None):
            topology, flows = prepare(args, "vsphere")      # validates: raises before any registration
            super().__init__(token("VSphereFirewall"), name, None, opts)
            ...                                              # children: parent=self, names from child_name()
            self.register_outputs(self.stack_outputs())

        def stack_outputs(self) -> dict[str, pulumi.Output[Any]]: ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .errors import ConfigError
from .flows import FlowSet, build_flows
from .topology import Topology, parse_topology

PACKAGE = "eksa-firewall"

# How config keys are spelled in messages. Empty for a component reused with `args`; the stack program sets
# "eksa-firewall:" so that errors name the key exactly as the stack file does. A context variable rather
# than a constructor argument keeps the components' signature the one multi-language hosts expect.
_KEY_PREFIX: ContextVar[str] = ContextVar("eksa_firewall_key_prefix", default="")


@contextmanager
def config_key_prefix(prefix: str) -> Iterator[None]:
    token_ = _KEY_PREFIX.set(prefix)
    try:
        yield
    finally:
        _KEY_PREFIX.reset(token_)


# The stack program has already parsed the config and computed the flows (to fail before importing a provider
# SDK); it hands them to the component so that ``prepare`` does not do the same work a second time.
_PREPARED: ContextVar[tuple[Mapping[str, Any], str, Topology, FlowSet] | None] = ContextVar("eksa_firewall_prepared", default=None)


@contextmanager
def prepared(args: Mapping[str, Any], topology: Topology, flows: FlowSet) -> Iterator[None]:
    """Within this block, ``prepare(args, ...)`` (the same ``args`` object) returns ``topology`` and ``flows``."""
    token_ = _PREPARED.set((args, topology.key_prefix, topology, flows))
    try:
        yield
    finally:
        _PREPARED.reset(token_)


def token(type_name: str) -> str:
    """The component type token; the ``index`` module is what multi-language packages require."""
    return f"{PACKAGE}:index:{type_name}"


def prepare(args: Mapping[str, Any], platform: str, *, key_prefix: str | None = None) -> tuple[Topology, FlowSet]:
    """Validate ``args`` for ``platform`` and compute the flows; raises ConfigError, registers nothing."""
    key_prefix = _KEY_PREFIX.get() if key_prefix is None else key_prefix
    known = _PREPARED.get()
    if known is not None and known[0] is args and known[1] == key_prefix:
        topology, flows = known[2], known[3]
    else:
        topology = parse_topology(args, key_prefix=key_prefix)
        flows = None
    if topology.platform != platform:
        raise ConfigError.one(
            f"{key_prefix}platform",
            f"is {topology.platform!r}, but this component builds {platform!r} firewalls",
            f"set platform: {platform}, or use the {topology.platform} component",
        )
    return topology, flows if flows is not None else build_flows(topology)


_UNSAFE = re.compile(r"[^a-z0-9-]+")


def child_name(component: str, *keys: str) -> str:
    """A logical name from stable keys (cluster, role, row id, peer), never from list positions."""
    parts = [component, *(_UNSAFE.sub("-", k.lower()).strip("-") for k in keys)]
    return "-".join(p for p in parts if p)
