"""What ``__main__.py`` runs: stack config -> validated topology -> the platform's component -> exports.

Everything is checked before the first resource is registered: a bad config ends the program with one
error naming every key to fix, and nothing is created.
"""

from __future__ import annotations

import gc
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .catalog import format_version
from .component import config_key_prefix, prepared
from .flows import build_flows
from .platforms import ALL_SECRET_KEYS, load_component
from .topology import parse_topology

COMPONENT_NAME = "eksa"
_STRING_KEYS = ("platform", "eksaVersion", "hardwareCsv")


def configured_keys(project: str) -> list[str]:
    """Every key of this project's namespace in the stack config (so a typo is reported, not ignored)."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})
    prefix = f"{project}:"
    return sorted(k[len(prefix) :] for k in keys if k.startswith(prefix))


def read_args(config: pulumi.Config, keys: list[str]) -> dict[str, Any]:
    """The stack config as the component ``args`` dict. Secret keys stay Outputs marked secret."""
    args: dict[str, Any] = {}
    for key in keys:
        if key in ALL_SECRET_KEYS:
            args[key] = config.get_secret(key)
        elif key in _STRING_KEYS:
            args[key] = config.get(key)
        else:
            try:
                args[key] = config.get_object(key)
            except Exception:  # noqa: BLE001 - a plain string where an object was expected
                args[key] = config.get(key)  # parse_topology reports the wrong type with its key
    return args


_FROZEN: set[str] = set()


def freeze_once(stage: str) -> None:
    """Move what is alive now out of the garbage collector's reach, once per process and stage.

    ``imports``, once the provider SDK is loaded: pulumi_nutanix alone is 163 MB of objects, and every full
    collection while resources register walked it again (on a 50-cluster Nutanix stack the collector took 1.6 s
    of a 2.6 s plan; 0.9 s of 2.0 s frozen). ``program``, once the program has registered everything: what it
    built lives until the engine is done, and later collections walked it too (make bench). A real `pulumi
    preview` runs the program once; a process that runs many (the tests, an Automation API host) freezes only
    the first run's objects, so memory stays bounded."""
    if stage not in _FROZEN:
        _FROZEN.add(stage)
        gc.freeze()


def main() -> None:
    # The pure phases allocate many small, short-lived objects and no reference cycles worth collecting:
    # the collector's passes over them were a tenth of a 50-cluster plan (make bench). It runs again after.
    # (One function, not a wrapper: Pulumi records the Python stack of every registration, frame by frame.)
    gc.disable()
    try:
        project = pulumi.get_project()
        args = read_args(pulumi.Config(), configured_keys(project))
        topology = parse_topology(args, key_prefix=f"{project}:")
        flows = build_flows(topology)  # refuses sensitive ports opened to the Internet, before anything exists
        component_class = load_component(topology.platform)
        freeze_once("imports")
        # Errors of the platform settings name eksa-firewall:<key>; the component reuses the topology and flows.
        with config_key_prefix(f"{project}:"), prepared(args, topology, flows):
            component = component_class(COMPONENT_NAME, args)
        pulumi.export("platform", topology.platform)
        pulumi.export("eksaVersion", format_version(topology.eksa_version))
        for key, value in component.stack_outputs().items():
            pulumi.export(key, value)
        freeze_once("program")
    finally:
        gc.enable()
