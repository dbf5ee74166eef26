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


def token(type_name: str) -> str:
    """The component type token; the ``index`` module is what multi-language packages require."""
    return f"{PACKAGE}:index:{type_name}"


def prepare(args: Mapping[str, Any], platform: str, *, key_prefix: str | None = None) -> tuple[Topology, FlowSet]:
    """Validate ``args`` for ``platform`` and compute the flows; raises ConfigError, registers nothing."""
    key_prefix = _KEY_PREFIX.get() if key_prefix is None else key_prefix
    topology = parse_topology(args, key_prefix=key_prefix)
    if topology.platform != platform:
        raise ConfigError.one(
            f"{key_prefix}platform",
            f"is {topology.platform!r}, but this component builds {platform!r} firewalls",
            f"set platform: {platform}, or use the {topology.platform} component",
        )
    return topology, build_flows(topology)


_UNSAFE = re.compile(r"[^a-z0-9-]+")


def child_name(component: str, *keys: str) -> str:
    """A logical name from stable keys (cluster, role, row id, peer), never from list positions."""
    parts = [component, *(_UNSAFE.sub("-", k.lower()).strip("-") for k in keys)]
    return "-".join(p for p in parts if p)
