"""How the platform components are served to other languages (``component_provider_host``).

The platform classes are served as they are, through a stand-in class of the same name (``hosted``) that
the analyzer reads and that builds the real component. It bridges four gaps between our Python components
and Pulumi's component analyzer (pulumi 3.272):

1. String annotations. Our modules use ``from __future__ import annotations``, and the analyzer reads
   ``inspect.get_annotations`` without evaluating them: it fails on ``'VSphereFirewallArgs'`` (a str). Here
   every annotation the analyzer reads (``__init__``'s ``args``, the args TypedDicts, nested TypedDicts and
   class-level output annotations) is evaluated with ``typing.get_type_hints``, in this process only.
2. ``args`` must be one TypedDict. A union such as ``AwsFirewallArgs | Mapping[str, Any]`` is narrowed
   to its TypedDict member (the same input shape).
3. Numbers. Hosted inputs arrive as floats (6443.0); integral floats are turned back into ints before
   the component sees them.
4. Class annotations. The analyzer takes every public class annotation along the MRO as an output
   (``plan: AwsPlan`` would be one, and fails); the stand-in shows only ``pulumi.Output[T]`` annotations.

Outputs: the typed outputs each component declares as class annotations (``security_group_ids:
pulumi.Output[...]``), served under their camelCase names (``securityGroupIds``), which are also the names a
stack exports them under.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi import output as pulumi_output

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "eksa-firewall"
VERSION = "0.1.0"  # keep equal to pyproject.toml's version (tests/reuse checks it)


# ``pulumi.Input[T]`` holds the forward reference 'Output[T]', which typing resolves in the namespace of the
# module that uses it: give it pulumi's Output there (the analyzer takes the resolved Output as well).
TYPE_NAMESPACE = {"Output": pulumi.Output, "T": pulumi_output.T}


def type_hints(obj: Any) -> dict[str, Any]:
    """``typing.get_type_hints`` with ``pulumi.Input`` resolvable."""
    return typing.get_type_hints(obj, localns=TYPE_NAMESPACE, include_extras=True)


def _resolve_typeddict(td: type, seen: set[int]) -> None:
    if id(td) in seen:
        return
    seen.add(id(td))
    hints = type_hints(td)
    td.__annotations__ = hints  # evaluated once, in the provider process
    for hint in hints.values():
        _resolve_nested(hint, seen)


def _resolve_nested(hint: Any, seen: set[int]) -> None:
    if typing.is_typeddict(hint):
        _resolve_typeddict(hint, seen)
    for arg in typing.get_args(hint):
        _resolve_nested(arg, seen)


def args_type(component: type) -> type:
    """The TypedDict of ``component.__init__``'s ``args``, annotations evaluated."""
    hint = type_hints(component.__init__).get("args")
    if hint is None:
        raise TypeError(f"{component.__name__}.__init__ needs a parameter `args` annotated with a TypedDict")
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if typing.is_typeddict(a)]
        if len(members) != 1:
            raise TypeError(f"{component.__name__}: `args` must be one TypedDict, not {hint}")
        hint = members[0]
    if not typing.is_typeddict(hint):
        raise TypeError(f"{component.__name__}: `args` is annotated {hint}, not a TypedDict")
    _resolve_typeddict(hint, set())
    return hint


def plain_ints(value: Any) -> Any:
    """6443.0 -> 6443, deeply (inputs through the hosted provider are floats)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain_ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_ints(v) for v in value]
    return value


def hosted(component: type[pulumi.ComponentResource]) -> type[pulumi.ComponentResource]:
    """A stand-in class of the same name: what the analyzer reads, and a factory of the real component.

    The analyzer collects every public class annotation along the MRO as an output, so the stand-in is not a
    subclass: its MRO holds only what the schema should show. Calling it (the host's ``construct``) builds
    the real component, whose ``__new__`` result Python returns as is (``__init__`` is skipped for an object
    of another class), with ``outputs`` set for the host to read.
    """
    args_td = args_type(component)
    declared: dict[str, Any] = {}
    for cls in reversed(component.__mro__):  # the component's own classes, not pulumi's
        if not cls.__module__.startswith("pulumi"):
            annotations = inspect.get_annotations(cls, eval_str=True)
            declared.update({k: v for k, v in annotations.items() if typing.get_origin(v) is pulumi.Output and not k.startswith("_")})

    def __new__(cls: type, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> Any:  # noqa: N807
        factory: Any = component  # the platform's own (name, args, opts) signature
        return factory(name, plain_ints(dict(args)), opts)

    def __init__(self: Any, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:  # noqa: N807
        raise AssertionError("never called: __new__ returns the platform component")  # pragma: no cover

    __init__.__annotations__ = {"name": str, "args": args_td, "opts": pulumi.ResourceOptions | None, "return": None}
    return types.new_class(
        component.__name__,
        (pulumi.ComponentResource,),
        {},
        lambda ns: ns.update(
            {
                "__new__": __new__,
                "__init__": __init__,
                "__annotations__": declared,
                "__doc__": component.__doc__ or f"eksa-firewall {component.__name__}",
                "__module__": component.__module__,
                "__qualname__": component.__qualname__,
            }
        ),
    )


def platform_components() -> list[type[pulumi.ComponentResource]]:
    """The platform classes, in the registry's order (components/platform.py; the repository root goes on sys.path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from components.platform import platforms  # noqa: PLC0415 - after the sys.path entry above

    return [p.load_component() for p in platforms().values()]


def hosted_components() -> list[type[pulumi.ComponentResource]]:
    return [hosted(c) for c in platform_components()]


def schema(components: list[type[pulumi.ComponentResource]] | None = None) -> dict[str, Any]:
    """The package schema the host serves, made in this process (no CLI, no gRPC)."""
    from pulumi.provider.experimental.component import ComponentProvider  # noqa: PLC0415 - only for schema users

    text = ComponentProvider(hosted_components() if components is None else components, PACKAGE, None, VERSION).schema
    assert text is not None
    return json.loads(text)
