"""The multi-language package's schema, generated without the CLI: tokens, inputs and outputs of every component."""

from __future__ import annotations

import inspect
import tomllib
import typing
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pytest
import yaml

from components.platforms import PLATFORMS
from components.topology import PLATFORM_SECTIONS
from provider.hosting import PACKAGE, args_type, hosted, plain_ints, platform_components
from provider.hosting import schema as package_schema

ROOT = Path(__file__).resolve().parents[2]
_SCHEMA: dict[str, Any] = {}


def schema() -> dict[str, Any]:
    if not _SCHEMA:
        _SCHEMA.update(package_schema())
    return _SCHEMA


def test_the_plugin_is_a_python_component_package() -> None:
    plugin = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text(encoding="utf-8"))
    assert plugin["runtime"] == "python"
    assert (ROOT / "provider" / "__main__.py").exists()
    assert "-r ../requirements.txt" in (ROOT / "provider" / "requirements.txt").read_text(encoding="utf-8")


def test_the_package_name_and_version_match_the_python_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert (schema()["name"], schema()["version"]) == (PACKAGE, project["version"])


def test_one_token_per_platform_in_the_index_module() -> None:
    expected = {f"eksa-firewall:index:{p.component.partition(':')[2]}" for p in PLATFORMS.values()}
    assert set(schema()["resources"]) == expected
    assert all(r["isComponent"] for r in schema()["resources"].values())


def _td_keys(td: Any) -> tuple[set[str], set[str]]:
    """All keys and the required ones. Not ``__required_keys__``: under ``from __future__ import annotations``
    Python cannot see ``NotRequired`` when the class is made, and counts every key as required."""
    hints = typing.get_type_hints(td, include_extras=True)
    return set(hints), {k for k, v in hints.items() if typing.get_origin(v) is not NotRequired}


@pytest.mark.parametrize("component", platform_components(), ids=lambda c: c.__name__)
def test_inputs_are_the_args_typeddict(component: type) -> None:
    resource = schema()["resources"][f"eksa-firewall:index:{component.__name__}"]
    keys, required = _td_keys(args_type(component))
    assert set(resource["inputProperties"]) == keys
    assert set(resource.get("requiredInputs", [])) == required == {"platform", "adminMachine", "clusters"}
    platform = next(name for name, p in PLATFORMS.items() if p.component.endswith(f":{component.__name__}"))
    assert PLATFORM_SECTIONS[platform] in resource["inputProperties"]  # the platform's own section


def test_nested_types_are_defined_and_typed() -> None:
    types = schema()["types"]
    refs = {
        v["$ref"].removeprefix("#/types/")
        for t in [*types.values(), *schema()["resources"].values()]
        for props in (t.get("properties", {}), t.get("inputProperties", {}))
        for v in props.values()
        if "$ref" in v and v["$ref"].startswith("#/types/")
    }
    assert refs <= set(types)
    cluster = types["eksa-firewall:index:ClusterArgs"]
    assert cluster["properties"]["workerGroups"]["items"]["$ref"] == "#/types/eksa-firewall:index:WorkerGroupArgs"
    assert set(cluster["required"]) == {"name", "controlPlane"}
    assert types["eksa-firewall:index:ControlPlaneArgs"]["properties"]["apiServerPort"]["type"] == "integer"


@pytest.mark.parametrize("component", platform_components(), ids=lambda c: c.__name__)
def test_outputs_are_served(component: type) -> None:
    resource = schema()["resources"][f"eksa-firewall:index:{component.__name__}"]
    assert resource["properties"]["outputs"] == {"type": "object", "additionalProperties": {"$ref": "pulumi.json#/Any"}}
    declared = {k for cls in component.__mro__ if not cls.__module__.startswith("pulumi") for k, v in inspect.get_annotations(cls).items()
                if "Output" in str(v)}  # fmt: skip
    assert declared <= set(resource["properties"])


# --- the hosting bridge --------------------------------------------------------------------------------------


class _Inner(TypedDict):
    port: int


class _Args(TypedDict):
    platform: str
    inner: NotRequired[_Inner]


class _Demo(pulumi.ComponentResource):
    ready: pulumi.Output[bool]

    def __init__(self, name: str, args: _Args | dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("eksa-firewall:index:_Demo", name, None, opts)


def test_a_union_args_annotation_is_narrowed_to_its_typeddict() -> None:
    assert args_type(_Demo) is _Args


def test_declared_outputs_are_kept_next_to_the_outputs_map() -> None:
    schema_ = package_schema([hosted(_Demo)])
    resource = schema_["resources"]["eksa-firewall:index:_Demo"]
    assert set(resource["properties"]) == {"ready", "outputs"}
    assert set(resource["inputProperties"]) == {"platform", "inner"}


def test_args_must_be_a_typeddict() -> None:
    class Bad(pulumi.ComponentResource):
        def __init__(self, name: str, args: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("x:index:Bad", name, None, opts)

    with pytest.raises(TypeError, match="not a TypedDict"):
        args_type(Bad)


def test_hosted_inputs_get_their_integers_back() -> None:
    assert plain_ints({"port": 6443.0, "ratio": 0.5, "on": True, "list": [1.0, {"x": 2.0}]}) == {
        "port": 6443, "ratio": 0.5, "on": True, "list": [1, {"x": 2}],
    }  # fmt: skip
