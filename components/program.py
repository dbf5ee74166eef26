"""What ``__main__.py`` runs: stack config -> validated topology and flows -> the platform's component -> exports.

The program is the only place that reads stack config. Everything is checked before the first resource is
registered and before the platform's provider SDK is imported: a bad config ends the program with one error
naming every key to fix, and nothing is created. The parsed environment is handed to the component
explicitly (``from_environment``), so it is not parsed twice.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .catalog import format_version
from .component import Environment
from .errors import ConfigError, Problem
from .flows import build_flows
from .platform import all_secret_keys
from .stackfile import misspelled_namespaces
from .topology import parse_topology, top_level_keys

COMPONENT_NAME = "eksa"
_STRING_KEYS = ("platform", "eksaVersion", "hardwareCsv")


def all_config_keys() -> set[str]:
    """Every key of the stack config, of every namespace (``eksa-firewall:clusters``, ``aws:region``...)."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})


def configured_keys(project: str) -> list[str]:
    """Every key of this project's namespace in the stack config (so a typo is reported, not ignored)."""
    prefix = f"{project}:"
    return sorted(k[len(prefix) :] for k in all_config_keys() if k.startswith(prefix))


def read_args(config: pulumi.Config, keys: list[str]) -> dict[str, Any]:
    """The stack config as the component ``args`` dict. Secret keys stay Outputs marked secret."""
    secret_keys = all_secret_keys()
    args: dict[str, Any] = {}
    for key in keys:
        if key in secret_keys:
            args[key] = config.get_secret(key)
        elif key in _STRING_KEYS:
            args[key] = config.get(key)
        else:
            try:
                args[key] = config.get_object(key)
            except Exception:  # noqa: BLE001 - a plain string where an object was expected
                args[key] = config.get(key)  # parse_topology reports the wrong type with its key
    return args


def plain_text_secrets(project: str, keys: list[str]) -> list[Problem]:
    """Secret keys written in plain text. Pulumi.yaml cannot mark them ``secret: true`` (the CLI would then
    require them in every stack), so the program checks what the CLI would have."""
    return [
        Problem(f"{project}:{key}", "is stored in plain text in the stack file", f"run `pulumi config set --secret {key}` instead")
        for key in keys
        if key in all_secret_keys() and not runtime_config.is_config_secret(f"{project}:{key}")
    ]


def main() -> None:
    project = pulumi.get_project()
    keys = configured_keys(project)
    # A key of the project's own whose namespace is misspelt (eksa-firewal:clients) would be ignored silently.
    problems = misspelled_namespaces(project, sorted(all_config_keys()), top_level_keys())
    problems += plain_text_secrets(project, keys)
    if problems:
        raise ConfigError(problems)
    args = read_args(pulumi.Config(), keys)
    topology = parse_topology(args, key_prefix=f"{project}:")
    flows = build_flows(topology)  # refuses sensitive ports opened to the Internet, before anything exists
    platform = topology.platform_spec
    platform.module("settings").parse_settings(topology)  # the platform's section, before its provider SDK is imported
    secrets = {k: args[k] for k in platform.secret_keys if args.get(k) is not None}
    component_class = platform.load_component()  # the platform's provider SDK is imported here, and no other
    component = component_class.from_environment(COMPONENT_NAME, Environment(topology=topology, flows=flows, secrets=secrets))
    pulumi.export("platform", topology.platform)
    pulumi.export("eksaVersion", format_version(topology.eksa_version))
    for key, value in component.outputs().items():
        pulumi.export(key, value)
