"""Read a Pulumi project (``Pulumi.yaml``) and one stack file, the way the Pulumi CLI would.

The CLI hands the program its config; without the CLI, ``plan`` and the tests use this module instead.
Values Pulumi would decrypt (``secure:``) cannot be read offline: they become the placeholder
``"[secret]"`` and are passed to the program as secrets.

The YAML is read as the Pulumi CLI reads it: with Go's gopkg.in/yaml.v3 (v3.0.1, pinned in pulumi/pulumi's
sdk/go.mod; ``encoding/marshal.go`` ``yamlMarshaler.Unmarshal``, called by ``workspace/loaders.go``
``LoadProjectStackBytes``). Where PyYAML's YAML 1.1 rules differ, this module follows yaml.v3 (go-yaml/yaml at
v3.0.1, commit f6f7691b1fdeb513f56608cd2c32c51f8194bf51):

- a key written twice in one mapping is an error naming both lines (decode.go 768-783: "mapping key ... already
  defined at line ..."), where PyYAML silently keeps the last one;
- only ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE`` are booleans, ``~``, ``null``, ``Null``,
  ``NULL`` and nothing are null (resolve.go 52-54): ``yes``, ``no``, ``on``, ``off`` stay text, so the config
  reader reports a wrong type with its key instead of reading ``yes`` as true;
- integers as Go's ``strconv.ParseInt(text, 0, 64)`` reads them after dropping ``_`` (``0x1bb``, ``0o17``,
  ``0b101``, ``017``; resolve.go 185-245), floats as resolve.go's ``yamlStyleFloat`` and ``.inf``/``.nan``;
  no base-60 numbers (resolve.go 173-175). Dates stay text (the program reads text, and a date is not JSON);
- a document whose aliases expand too much is refused as yaml.v3 refuses it (decode.go 455-491: "document
  contains excessive aliasing"): replayed on the composed nodes, counting as yaml.v3 counts, so an alias bomb
  fails after a few thousand steps instead of eating memory;
- a UTF-8 byte-order mark is skipped (workspace/loaders.go ``readFileStripUTF8BOM``) and a file that is not
  UTF-8 is refused with its name and the position of the first bad byte.

Only what the program reads is built into Python values: the project's own keys, and the scalar values of
other namespaces (provider settings such as ``nutanix:username``). Mappings and lists under other namespaces
(``aws:defaultTags``...) are checked (duplicate keys, aliasing) but neither built nor serialized: the
program never reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml import nodes

from .errors import EksaFirewallError, Problem, one_line

SECRET = "[secret]"  # what a secret value looks like offline: in config, plan inputs and outputs


@dataclass(frozen=True, slots=True)
class OtherNamespaceValue:
    """A mapping or list under another namespace's key: left unbuilt (the program never reads it)."""

    kind: str  # "mapping" or "list"
    line: int


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
        """What the program is given: the project's keys (strings, or JSON text for structured values) and the
        scalar values of other namespaces as text, as the Pulumi CLI passes them. Structured values of other
        namespaces are not serialized: nothing in the program reads them."""
        prefix = f"{self.project.name}:"
        out: dict[str, str] = {}
        for key, value in self.values.items():
            if isinstance(value, str):
                out[key] = value
            elif key.startswith(prefix):
                out[key] = json.dumps(value)
            elif isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, int | float):
                out[key] = json.dumps(value)
        return out

    def project_values(self) -> dict[str, Any]:
        """The project's own keys, without the namespace: the shape components take as ``args``."""
        prefix = f"{self.project.name}:"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}


# --- YAML as yaml.v3 reads it ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v3's implicit types (see the module docstring)."""


_Loader.yaml_implicit_resolvers = {}  # replaces SafeLoader's YAML 1.1 table (a class attribute, copied here)
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _construct_bool(loader: yaml.SafeLoader, node: nodes.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: yaml.SafeLoader, node: nodes.ScalarNode) -> int | str:
    written = str(loader.construct_scalar(node))
    text = written.replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return sign * int(digits, 8)  # 017: an octal, as Go's ParseInt with base 0 reads it
        return sign * int(digits, 0)
    except ValueError:  # "0x_": no digits once the underscores are gone; yaml.v3 keeps such text as text
        return written


def _construct_float(loader: yaml.SafeLoader, node: nodes.ScalarNode) -> float | str:
    written = str(loader.construct_scalar(node))
    try:
        return float(written.replace("_", "").lower().replace(".inf", "inf").replace(".nan", "nan"))
    except ValueError:
        return written


_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)  # an explicit !!timestamp: text

# yaml.v3 decode.go 455-491.
_ALIAS_RATIO_RANGE_LOW = 400_000
_ALIAS_RATIO_RANGE_HIGH = 4_000_000
_MAX_DEPTH = 200  # nesting levels; PyYAML's recursive composer runs out of stack a little beyond 300


def _allowed_alias_ratio(decode_count: int) -> float:
    if decode_count <= _ALIAS_RATIO_RANGE_LOW:
        return 0.99
    if decode_count >= _ALIAS_RATIO_RANGE_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decode_count - _ALIAS_RATIO_RANGE_LOW) / (_ALIAS_RATIO_RANGE_HIGH - _ALIAS_RATIO_RANGE_LOW)


def _children(node: nodes.Node) -> list[nodes.Node]:
    if isinstance(node, nodes.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, nodes.SequenceNode):
        return list(node.value)
    return []


def _line(node: nodes.Node) -> int:
    return node.start_mark.line + 1


def _check_nodes(root: nodes.Node, where: str) -> None:
    """Duplicate keys and excessive aliasing, as yaml.v3 would refuse them; each node object is read once.

    PyYAML's composer turns an alias (``*name``) into the anchored node object itself, so the first time a node
    object is met in document order is its definition and every later meeting is an alias."""
    seen: set[int] = set()
    alias_edges: set[tuple[int, int]] = set()  # (id(parent), child index) where the child is an alias
    duplicates: list[str] = []
    stack: list[tuple[nodes.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise EksaFirewallError(f"{where}:{_line(node)}: nested more than {_MAX_DEPTH} levels deep")
        seen.add(id(node))
        if isinstance(node, nodes.MappingNode):
            first: dict[str, int] = {}
            for key, _value in node.value:
                if isinstance(key, nodes.ScalarNode):
                    if key.value in first:
                        duplicates.append(
                            f"{where}:{_line(key)}: key {key.value!r} is already defined at line {first[key.value]}; "
                            "keep one of the two (YAML readers differ on which one wins)"
                        )
                    else:
                        first[key.value] = _line(key)
        fresh: list[tuple[nodes.Node, int]] = []
        for i, child in enumerate(_children(node)):
            if id(child) in seen:
                alias_edges.add((id(node), i))
            else:
                seen.add(id(child))
                fresh.append((child, depth + 1))
        stack.extend(reversed(fresh))
    if duplicates:
        raise EksaFirewallError(_listed(duplicates, f"{where}: {len(duplicates)} keys are written twice"))

    decoded = aliased = 0
    walk: list[tuple[nodes.Node, int]] = [(root, 0)]  # (node, alias depth)
    while walk:
        node, alias_depth = walk.pop()
        decoded += 1
        aliased += alias_depth > 0
        if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
            raise EksaFirewallError(
                f"{where}: its aliases (*name) expand to far more values than the file holds; the Pulumi CLI refuses it "
                "too (yaml.v3: document contains excessive aliasing). Write the values out, or use fewer aliases"
            )
        nxt: list[tuple[nodes.Node, int]] = []
        for i, child in enumerate(_children(node)):
            if (id(node), i) in alias_edges:
                decoded += 1  # the alias node itself
                aliased += alias_depth > 0
                nxt.append((child, alias_depth + 1))
            else:
                nxt.append((child, alias_depth))
        walk.extend(reversed(nxt))


MAX_FILE_BYTES = 16 * 2**20  # a stack file or a hardware CSV is a few kilobytes; /dev/zero would never end


def read_text(path: Path, what: str) -> str:
    """A file's text, UTF-8 (a byte-order mark skipped), or an error naming the file and the first bad byte.

    Only a regular file of at most ``MAX_FILE_BYTES`` is read (a device or a pipe could block or never end)."""
    try:
        if path.exists() and not path.is_file():
            raise EksaFirewallError(f"{path}: the {what} is not a regular file; give the path of the file itself")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise EksaFirewallError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise EksaFirewallError(f"{path}: the {what} is larger than {MAX_FILE_BYTES // 2**20} MiB; is it the right file?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EksaFirewallError(
            f"{path}:{line}:{column}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None


def _compose(path: Path, what: str) -> nodes.Node | None:
    text = read_text(path, what)
    try:
        loader = _Loader(text)  # the reader refuses control characters here, before any parsing
    except yaml.reader.ReaderError as exc:  # as yaml.v3 does ("control characters are not allowed")
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise EksaFirewallError(
            f"{path}:{line}:{column}: the {what} holds the control character U+{exc.character:04X}, which YAML does not allow; "
            "remove it (the editor or tool that wrote it may have garbled the file)"
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise EksaFirewallError(f"{path}{at}: the {what} is not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise EksaFirewallError(one_line(f"{path}: the {what} is not valid YAML: {exc}")) from None
    except RecursionError:
        raise EksaFirewallError(f"{path}: the {what} is nested too deeply to be a stack file") from None
    finally:
        loader.dispose()
    if node is not None:
        _check_nodes(node, str(path))
    return node


def _build(node: nodes.Node, path: Path) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else _line(node)
        raise EksaFirewallError(f"{path}:{line}: {exc.problem or exc.context}") from None
    finally:
        loader.dispose()


def _top_mapping(node: nodes.Node | None, path: Path, what: str, example: str) -> list[tuple[nodes.Node, nodes.Node]]:
    """The pairs of the file's top-level mapping (empty for an empty file); anything else is an error."""
    if node is None or (isinstance(node, nodes.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
        return []
    if not isinstance(node, nodes.MappingNode):
        kind = "a list" if isinstance(node, nodes.SequenceNode) else f"the value {node.value!r}"
        raise EksaFirewallError(f"{path}:{_line(node)}: the {what} must be a mapping ({example}), not {kind}")
    _Loader("").flatten_mapping(node)  # `<<: *defaults` merges, as yaml.v3 does
    return list(node.value)


def _text_key(key: nodes.Node, path: Path) -> str:
    if not isinstance(key, nodes.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
        shown = key.value if isinstance(key, nodes.ScalarNode) else "a mapping or list"
        raise EksaFirewallError(f"{path}:{_line(key)}: the key {shown!r} must be text: write it as a name, e.g. eksa-firewall:clusters")
    return str(key.value)


# --- project and stack -------------------------------------------------------------------------------


def load_project(directory: Path) -> Project:
    path = directory / "Pulumi.yaml"
    if not path.exists():
        raise EksaFirewallError(f"{path}: no Pulumi project file here; run from the project directory or pass --project-dir")
    pairs = _top_mapping(_compose(path, "Pulumi project file"), path, "Pulumi project file", "name: ..., runtime: ...")
    data = {_text_key(k, path): v for k, v in pairs}
    name = _build(data["name"], path) if "name" in data else None
    if not isinstance(name, str):
        raise EksaFirewallError(f"{path}: `name` is missing")
    config = _build(data["config"], path) if "config" in data else None
    stack_dir = _build(data["stackConfigDir"], path) if "stackConfigDir" in data else "."
    defaults: dict[str, Any] = {}
    for key, spec in (config or {}).items() if isinstance(config, Mapping) else ():
        if isinstance(spec, Mapping):
            for field in ("value", "default"):
                if field in spec:
                    defaults[str(key).split(":", 1)[-1]] = spec[field]
                    break
    return Project(
        name=name,
        directory=directory.resolve(),
        stack_config_dir=(directory / str(stack_dir)).resolve(),
        defaults=defaults,
    )


def stack_path(project: Project, stack: str) -> Path:
    return project.stack_config_dir / f"Pulumi.{stack}.yaml"


def list_stacks(project: Project) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))


def load_stack(project: Project, *, stack: str | None = None, path: Path | None = None, known_keys: Sequence[str] = ()) -> StackConfig:
    """The stack's config as the Pulumi CLI would give it to the program, project defaults applied.

    ``known_keys``: the project's own keys; a key of a namespace one or two letters away from the project's
    whose name is one of them (``eksa-firewal:clients``) is an error with a did-you-mean."""
    if path is None:
        if stack is None:
            raise EksaFirewallError("name a stack (--stack NAME) or a stack file (--stack-file PATH)")
        path = stack_path(project, stack)
        if not path.exists():
            known = ", ".join(list_stacks(project)) or "none"
            raise EksaFirewallError(f"no stack file {path} (stacks here: {known})")
    if stack is None:
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    pairs = _top_mapping(_compose(path, "stack file"), path, "stack file", "config: followed by the keys")
    config_node = next((v for k, v in pairs if isinstance(k, nodes.ScalarNode) and k.value == "config"), None)
    config_pairs = _top_mapping(config_node, path, "`config` section", "one `key: value` per line") if config_node else []

    values: dict[str, Any] = {f"{project.name}:{k}": v for k, v in project.defaults.items()}
    secret_keys: list[str] = []
    prefix = f"{project.name}:"
    for key_node, value_node in config_pairs:
        key = _text_key(key_node, path)
        full = key if ":" in key else f"{prefix}{key}"
        if _is_secure(value_node):
            values[full] = SECRET
            secret_keys.append(full)
        elif full.startswith(prefix) or isinstance(value_node, nodes.ScalarNode):
            values[full] = _build(value_node, path)
        else:
            kind = "mapping" if isinstance(value_node, nodes.MappingNode) else "list"
            values[full] = OtherNamespaceValue(kind, _line(value_node))
    written = {_text_key(k, path): _line(k) for k, _ in config_pairs}
    typos = misspelled_namespaces(project.name, list(written), known_keys)
    if typos:
        raise EksaFirewallError(
            _listed([f"{path}:{written[p.key]}: {p}" for p in typos], f"{path}: {len(typos)} keys have a misspelt namespace")
        )
    return StackConfig(project=project, stack=stack, path=path, values=values, secret_keys=tuple(secret_keys))


def _listed(problems: list[str], head: str) -> str:
    """One problem as one line; several as ``head`` and one ``  - `` line each (the shape of ConfigError)."""
    lines = [one_line(p) for p in problems]
    return lines[0] if len(lines) == 1 else head + ":\n  - " + "\n  - ".join(lines)


def _is_secure(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.MappingNode)
        and len(node.value) == 1
        and isinstance(node.value[0][0], nodes.ScalarNode)
        and node.value[0][0].value == "secure"
    )


def misspelled_namespaces(project: str, keys: Sequence[str], known_keys: Sequence[str]) -> list[Problem]:
    """Keys that look like the project's own with the namespace misspelt: ``eksa-firewal:clients``.

    A namespace counts as misspelt when it is one or two edits from the project's name and the key after it is
    one the project reads; other namespaces (providers', your own) are left alone. One problem per such key."""
    known = set(known_keys)
    out: list[Problem] = []
    for full in keys:
        namespace, _, key = full.partition(":")
        if namespace != project and key in known and _edits(namespace.lower(), project.lower()) <= 2:
            out.append(
                Problem(full, f"namespace {namespace!r} is not this project's, so nothing reads this key", f"did you mean {project}:{key}?")
            )
    return out


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (small strings only)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
