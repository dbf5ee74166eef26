"""The multi-language package's schema, generated without the CLI: tokens, inputs and outputs of every component."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pytest
import yaml

from components.component import camel_case
from components.platform import platforms
from provider.hosting import PACKAGE, args_type, hosted, plain_ints, platform_components, type_hints
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
    expected = {f"eksa-firewall:index:{p.component_class}" for p in platforms().values()}
    assert set(schema()["resources"]) == expected
    assert all(r["isComponent"] for r in schema()["resources"].values())


def _td_keys(td: Any) -> tuple[set[str], set[str]]:
    """All keys and the required ones. Not ``__required_keys__``: under ``from __future__ import annotations``
    Python cannot see ``NotRequired`` when the class is made, and counts every key as required."""
    hints = type_hints(td)
    return set(hints), {k for k, v in hints.items() if typing.get_origin(v) is not NotRequired}


@pytest.mark.parametrize("component", platform_components(), ids=lambda c: c.__name__)
def test_inputs_are_the_args_typeddict(component: type) -> None:
    resource = schema()["resources"][f"eksa-firewall:index:{component.__name__}"]
    keys, required = _td_keys(args_type(component))
    assert set(resource["inputProperties"]) == keys
    assert set(resource.get("requiredInputs", [])) == required == {"adminMachine", "clusters"}  # no `platform`: the class decides
    platform = next(p for p in platforms().values() if p.component_class == component.__name__)
    assert platform.section in resource["inputProperties"]  # the platform's own section
    assert set(platform.secret_keys) <= set(resource["inputProperties"])


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
def test_typed_outputs_have_the_same_names_in_python_and_in_the_schema(component: Any) -> None:
    resource = schema()["resources"][f"eksa-firewall:index:{component.__name__}"]
    names = component.output_names()
    assert names, "every platform component declares typed outputs"
    assert set(resource["properties"]) == {camel_case(n) for n in names}
    assert set(resource.get("required", [])) <= set(resource["properties"])


def test_pass_through_values_are_inputs_and_planned_values_are_plain() -> None:
    aws = schema()["types"]["eksa-firewall:index:AwsSettingsArgs"]["properties"]
    assert "plain" not in aws["vpcId"]  # an Output of another resource may be passed
    assert aws["region"].get("plain") is True
    cluster = schema()["types"]["eksa-firewall:index:ControlPlaneArgs"]["properties"]
    assert cluster["endpoint"].get("plain") is True  # addresses are planned before anything exists


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


def test_declared_outputs_are_served() -> None:
    schema_ = package_schema([hosted(_Demo)])
    resource = schema_["resources"]["eksa-firewall:index:_Demo"]
    assert set(resource["properties"]) == {"ready"}
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
