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


_FROZEN = False


def freeze_imports() -> None:
    """Move what is alive now (Pulumi, the provider SDK: pulumi_nutanix alone is 163 MB of objects) out of the
    garbage collector's reach. Without it, every full collection while resources register walks the whole
    SDK again: on a 50-cluster Nutanix stack the collector took 1.6 s of a 2.6 s plan (0.9 s of 2.0 s frozen;
    make bench). Once per process: a real `pulumi preview` runs the program once; tests that run many plans in
    one process freeze only the first."""
    global _FROZEN  # noqa: PLW0603 - once per process, by design
    if not _FROZEN:
        _FROZEN = True
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
        freeze_imports()
        # Errors of the platform settings name eksa-firewall:<key>; the component reuses the topology and flows.
        with config_key_prefix(f"{project}:"), prepared(args, topology, flows):
            component = component_class(COMPONENT_NAME, args)
        pulumi.export("platform", topology.platform)
        pulumi.export("eksaVersion", format_version(topology.eksa_version))
        for key, value in component.stack_outputs().items():
            pulumi.export(key, value)
        # What the program built lives until the engine is done with it: out of the collector's reach too.
        gc.freeze()
    finally:
        gc.enable()
