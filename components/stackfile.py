"""Read a Pulumi project (``Pulumi.yaml``) and one stack file, the way the Pulumi CLI would.

The CLI hands the program its config; without the CLI, ``plan`` and the tests use this module instead.
Values Pulumi would decrypt (``secure:``) cannot be read offline: they become the placeholder
``"[secret]"`` and are passed to the program as secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import EksaFirewallError

SECRET = "[secret]"  # what a secret value looks like offline: in config, plan inputs and outputs


@dataclass(frozen=True, kw_only=True, slots=True)
class Project:
    name: str
    directory: Path
    stack_config_dir: Path
    defaults: Mapping[str, Any]  # project config defaults, by un-namespaced key

    @property
    def program(self) -> Path:
        return self.directory / "__main__.py"


@dataclass(frozen=True, kw_only=True, slots=True)
class StackConfig:
    project: Project
    stack: str
    path: Path
    values: Mapping[str, Any]  # full keys ("eksa-firewall:clusters") -> parsed YAML values
    secret_keys: tuple[str, ...]

    def engine_config(self) -> dict[str, str]:
        """What the Pulumi CLI would pass the program: strings, or JSON text for structured values."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}

    def project_values(self) -> dict[str, Any]:
        """The project's own keys, without the namespace: the shape components take as ``args``."""
        prefix = f"{self.project.name}:"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}


def load_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise EksaFirewallError(
            f"{path}: cannot read the Pulumi project file ({exc.strerror}); run from the project directory or pass --project-dir"
        ) from exc
    name = data.get("name")
    if not isinstance(name, str):
        raise EksaFirewallError(f"{path}: `name` is missing")
    defaults: dict[str, Any] = {}
    for key, spec in (data.get("config") or {}).items():
        if isinstance(spec, Mapping) and "default" in spec:
            defaults[key.split(":", 1)[-1]] = spec["default"]
    return Project(
        name=name,
        directory=directory.resolve(),
        stack_config_dir=(directory / data.get("stackConfigDir", ".")).resolve(),
        defaults=defaults,
    )


def stack_path(project: Project, stack: str) -> Path:
    return project.stack_config_dir / f"Pulumi.{stack}.yaml"


def list_stacks(project: Project) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))


def load_stack(project: Project, *, stack: str | None = None, path: Path | None = None) -> StackConfig:
    if path is None:
        if stack is None:
            raise EksaFirewallError("name a stack (--stack NAME) or a stack file (--stack-file PATH)")
        path = stack_path(project, stack)
        if not path.exists():
            known = ", ".join(list_stacks(project)) or "none"
            raise EksaFirewallError(f"no stack file {path} (stacks here: {known})")
    if stack is None:
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise EksaFirewallError(f"{path}: cannot read the stack file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise EksaFirewallError(f"{path}: not valid YAML: {exc}") from exc
    raw = data.get("config") or {}
    if not isinstance(raw, Mapping):
        raise EksaFirewallError(f"{path}: `config` must be a mapping")
    values: dict[str, Any] = {f"{project.name}:{k}": v for k, v in project.defaults.items()}
    secret_keys: list[str] = []
    for key, value in raw.items():
        full = key if ":" in key else f"{project.name}:{key}"
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            value = SECRET
            secret_keys.append(full)
        values[full] = value
    return StackConfig(project=project, stack=stack, path=path, values=values, secret_keys=tuple(secret_keys))
