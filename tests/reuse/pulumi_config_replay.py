"""The Pulumi CLI's checks of Pulumi.yaml, PulumiPlugin.yaml, PulumiPolicy.yaml and stack files, replayed.

The CLI cannot be installed here, so its rules are re-implemented from its source, read at pulumi/pulumi commit
1b5949891b3cefcb9974752b24a5ecef0acc86c8 (2026-08-21); every function cites the file and lines it follows.
YAML is read the way gopkg.in/yaml.v3 reads it (go-yaml/yaml commit f6f7691b1fdeb513f56608cd2c32c51f8194bf51).
Error messages are Pulumi's own strings, except the JSON-schema messages, which come from Python's `jsonschema`
instead of santhosh-tekuri/jsonschema (their location, `#/config/<key>`, is the same).

What `pulumi preview` and `pulumi up` do before the program runs (pkg/cmd/pulumi/operations/preview.go:507-540,
up.go:183-217): load the project (LoadProject) and the stack file (LoadProjectStack), pick the stack's secrets
manager, then `ValidateStackConfigAndApplyProjectConfig` (pkg/workspace/config.go:368-378), whose error is printed
as `validating stack config: <error>`. `preview_config_check` below is that sequence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import yaml

PULUMI_COMMIT = "1b5949891b3cefcb9974752b24a5ecef0acc86c8"
GO_YAML_COMMIT = "f6f7691b1fdeb513f56608cd2c32c51f8194bf51"


class PulumiError(Exception):
    """An error the CLI would print; ``str(err)`` is its message."""


class NotReplayedError(Exception):
    """Input this replay does not cover: the test must not pretend it knows what the CLI would say."""


# --- YAML as gopkg.in/yaml.v3 reads it ----------------------------------------------------------------------
# resolve.go:52-54: the only booleans are true/True/TRUE/false/False/FALSE, the only nulls ""/~/null/Null/NULL
# (PyYAML's YAML 1.1 would also read yes/no/on/off as booleans: yaml.v3 keeps them strings). resolve.go:173-259:
# numbers are decimal, 0x/0o/0b or legacy 0777 integers (underscores dropped, line 191) and floats matching
# yamlStyleFloat (line 124) or .inf/.nan (lines 55-58); no base-60 numbers (lines 165-167). Timestamps (lines
# 184-189) are kept as strings here: the config object turns a time.Time into its text anyway
# (sdk/go/common/resource/config/object.go:490-491), so no check below sees the difference.


class GoYamlLoader(yaml.SafeLoader):
    pass


GoYamlLoader.yaml_implicit_resolvers = {}
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$"),
    list("-+0123456789"),
)
GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def _go_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float:
    text = str(loader.construct_scalar(node)).replace("_", "")  # resolve.go:191
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if re.fullmatch(r"0[0-7]+", digits):  # Go's ParseInt(base 0) reads a leading 0 as octal (resolve.go:192, 233-236)
        return sign * int(digits, 8)
    if re.fullmatch(r"0[0-9]+", digits):  # not octal (`08`): ParseInt fails, yamlStyleFloat matches (resolve.go:204-208)
        return sign * float(digits)
    return sign * int(digits, 0)


def _go_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    special = text.lstrip("+-").lower()
    if special in (".inf", ".nan"):  # resolve.go:55-58
        return float(("-" if text.startswith("-") else "") + special[1:])
    return float(text)


GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _go_int)
GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _go_float)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=GoYamlLoader)  # a SafeLoader subclass


def _go_type(value: Any) -> str:
    """The Go type name the CLI prints with %T for what yaml.v3 decoded into `any`."""
    if value is None:
        return "<nil>"
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}"}.get(type(value), "map[string]interface {}")


def simplify_marshalled_value(raw: Any) -> Any:
    """sdk/go/common/workspace/project.go:519-552 (SimplifyMarshalledValue): only string keys."""
    if isinstance(raw, dict):
        out = {}
        for k, v in raw.items():
            if not isinstance(k, str):
                raise PulumiError(f"expected only string keys, got '{k}'")
            out[k] = simplify_marshalled_value(v)
        return out
    if isinstance(raw, list):
        return [simplify_marshalled_value(v) for v in raw]
    return raw


def simplify_marshalled_project(raw: Any) -> dict[str, Any]:
    """project.go:554-567 (SimplifyMarshalledProject)."""
    result = simplify_marshalled_value(raw)
    if not isinstance(result, dict):
        raise PulumiError(f"expected project to be an object, was '{_go_type(result)}'")
    return result


# --- Pulumi.yaml: the project JSON schema --------------------------------------------------------------------
# The part of sdk/go/common/workspace/project.json (draft 2020-12, compiled at project.go:62-71) that applies to a
# project using the keys below, transcribed with the schema's line numbers. Keys this replay leaves out
# (template, packages, plugins, backend, options) make `validate_project` raise NotReplayedError instead.
_NULLABLE_STRING = {"type": ["string", "null"]}
_SIMPLE_CONFIG_TYPE = {"enum": ["string", "integer", "boolean", "array", "object"]}  # project.json:335-344
PROJECT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",  # project.json:6
    "properties": {
        "name": {"type": "string", "minLength": 1},  # project.json:8-12
        "description": _NULLABLE_STRING,  # :13-19
        "author": _NULLABLE_STRING,  # :20-26
        "website": _NULLABLE_STRING,  # :27-33
        "license": _NULLABLE_STRING,  # :34-40
        "runtime": {  # :41-66
            "oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1}, "options": {"type": "object", "additionalProperties": True}},
                    "additionalProperties": False,
                },
            ]
        },
        "main": _NULLABLE_STRING,  # :67-73
        "config": {  # :74-107
            "type": ["object", "string", "null"],
            "properties": {"secret": {"type": "boolean"}},
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "integer"},
                    {"type": "boolean"},
                    {"type": "array"},
                    {"$ref": "#/$defs/configTypeDeclaration"},
                ]
            },
        },
        "stackConfigDir": _NULLABLE_STRING,  # :108-114
    },
    "required": ["name"],  # :264-266
    "additionalProperties": True,  # :267
    "$defs": {
        "configItemsType": {  # :345-377
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"oneOf": [_SIMPLE_CONFIG_TYPE, {"$ref": "#/$defs/configItemsType"}]},
                "items": {"$ref": "#/$defs/configItemsType"},
            },
            "if": {"properties": {"type": {"const": "array"}}},
            "then": {"required": ["items"]},
        },
        "configTypeDeclaration": {  # :378-398
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": _SIMPLE_CONFIG_TYPE,
                "items": {"$ref": "#/$defs/configItemsType"},
                "description": {"type": "string"},
                "secret": {"type": "boolean"},
                "default": {},
                "value": {},
            },
        },
    },
}


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _closest_key(needle: str, haystack: Mapping[str, Any], max_distance: int = 2) -> str:
    """project.go:659-692 (findClosestKey; maxValidationAttributeDistance = 2, line 652)."""
    match, closest = "", max_distance + 1
    for key in sorted(haystack):
        d = _levenshtein(needle.lower(), key.lower())
        if d == 0:
            return key
        if d < closest:
            closest, match = d, key
    return match


def validate_project(raw: Any) -> None:
    """project.go:569-650 (ValidateProject): the name, then the JSON schema."""
    project = simplify_marshalled_project(raw)
    if "name" not in project:
        closest = _closest_key("name", project)
        if closest:
            raise PulumiError(f"project is missing a 'name' attribute; found '{closest}' instead")
        raise PulumiError("project is missing a 'name' attribute")
    if not isinstance(project["name"], str) or project["name"] == "":
        raise PulumiError("project is missing a non-empty string 'name' attribute")
    unreplayed = sorted(set(project) & {"template", "packages", "plugins", "backend", "options"})
    if unreplayed:
        raise NotReplayedError(f"project keys {unreplayed} are in project.json but not in this replay's transcription")
    errors = sorted(jsonschema.Draft202012Validator(PROJECT_SCHEMA).iter_errors(project), key=lambda e: list(e.absolute_path))
    if errors:
        # project.go:613-654 prints each failure as "#<instance location>: <message>".
        raise PulumiError("; ".join(f"#/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors))


_MISSING: Any = object()


@dataclass(frozen=True)
class ItemsType:
    """project.go:277-280 (ProjectConfigItemsType)."""

    type: str
    items: ItemsType | None = None


@dataclass(frozen=True)
class ConfigType:
    """project.go:282-296 (ProjectConfigType); ``default``/``value`` are _MISSING when absent (Go's nil)."""

    type: str | None = None
    description: str = ""
    items: ItemsType | None = None
    default: Any = _MISSING
    value: Any = _MISSING
    secret: bool = False

    def is_explicitly_typed(self) -> bool:  # project.go:291-296
        return self.type is not None

    def has_default(self) -> bool:
        return self.default is not _MISSING and self.default is not None

    def has_value(self) -> bool:
        return self.value is not _MISSING and self.value is not None


@dataclass(frozen=True)
class Project:
    name: str
    config: Mapping[str, ConfigType]
    stack_config_dir: str = ""


def _items(raw: Any) -> ItemsType | None:
    if raw is None:
        return None
    return ItemsType(type=raw["type"], items=_items(raw.get("items")))


def load_project_text(text: str, path: str = "Pulumi.yaml") -> Project:
    """sdk/go/common/workspace/loaders.go:92-148 (LoadProject, LoadProjectBytes)."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise PulumiError(f"could not unmarshal '{path}': {exc}") from exc
    try:
        validate_project(raw)
    except PulumiError as exc:
        raise PulumiError(f"could not validate '{path}': {exc}") from exc
    project = simplify_marshalled_project(raw)
    # project.go:448-474 (RewriteConfigPathIntoStackConfigDir)
    config = project.get("config")
    if isinstance(config, str):
        if "stackConfigDir" in project:
            raise PulumiError(
                "Should not use both config and stackConfigDir to define the stack directory. Use only stackConfigDir instead."
            )
        project["stackConfigDir"], project["config"] = config, None
    # project.go:486-517 (RewriteShorthandConfigValues): a string/int/bool or a list becomes {default: v} for a key
    # of the project's namespace, {value: v} for another namespace (configKeyIsNamespacedByProject, line 833-835).
    name = project["name"]
    types: dict[str, ConfigType] = {}
    for key, raw_spec in (project.get("config") or {}).items():
        spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
        if isinstance(raw_spec, (str, int, bool, list)):
            spec = {"default": raw_spec} if _namespaced_by_project(name, key) else {"value": raw_spec}
        types[key] = ConfigType(
            type=spec.get("type"),
            description=spec.get("description") or "",
            items=_items(spec.get("items")),
            default=spec.get("default", _MISSING),
            value=spec.get("value", _MISSING),
            secret=bool(spec.get("secret", False)),
        )
    result = Project(name=name, config=types, stack_config_dir=project.get("stackConfigDir") or "")
    try:
        validate_project_config(result)
    except PulumiError as exc:
        raise PulumiError(f"could not unmarshal '{path}': {exc}") from exc  # loaders.go:141-144
    return result


def _namespaced_by_project(project_name: str, key: str) -> bool:
    return ":" not in key or key.startswith(project_name + ":")  # project.go:833-835


def validate_project_config(project: Project) -> None:
    """project.go:837-889 (Project.Validate)."""
    for key, ctype in project.config.items():
        if ctype.has_default() and ctype.has_value():
            raise PulumiError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        if _namespaced_by_project(project.name, key):
            if ctype.is_explicitly_typed() and ctype.type == "array" and ctype.items is None:
                raise PulumiError(
                    f"The configuration key '{key}' declares an array but does not specify the underlying type via the 'items' attribute"
                )
            if ctype.is_explicitly_typed() and ctype.has_default():
                assert ctype.type is not None
                if not validate_config_value(ctype.type, ctype.items, ctype.default):
                    raise PulumiError(
                        f"The default value specified for configuration key '{key}' is not of the expected type "
                        f"'{infer_full_type_name(ctype.type, ctype.items)}'"
                    )
        else:
            if ctype.is_explicitly_typed():
                raise PulumiError(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
            if ctype.has_default():
                raise PulumiError(
                    f"Configuration key '{key}' is not namespaced by the project and should not define a default value. "
                    "Did you mean to use the 'value' attribute instead of 'default'?"
                )
            if not ctype.has_value():
                raise PulumiError(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")


def infer_full_type_name(type_name: str, items: ItemsType | None) -> str:
    """project.go:760-766 (InferFullTypeName)."""
    if items is not None:
        return f"array<{infer_full_type_name(items.type, items.items)}>"
    return type_name


_ATOI = re.compile(r"[+-]?[0-9]+")


def validate_config_value(type_name: str, items: ItemsType | None, value: Any) -> bool:
    """project.go:768-831 (ValidateConfigValue). ``value`` is what Go holds: str, bool, int, float, list, dict."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if isinstance(value, float) and math.isfinite(value) and value == math.trunc(value):
            return True
        if isinstance(value, str):  # strconv.Atoi: optional sign, ASCII digits, in int64's range
            return bool(_ATOI.fullmatch(value)) and -(2**63) <= int(value) < 2**63
        return False
    if type_name == "boolean":
        return value in ("true", "false") if isinstance(value, str) else isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.type, items.items, item) for item in value)


# --- PulumiPlugin.yaml and PulumiPolicy.yaml -----------------------------------------------------------------
# Neither is checked against project.json: LoadPluginProject (loaders.go:236-261) and LoadPolicyPack
# (loaders.go:332-357) unmarshal into their structs (project.go:902-923, 945-963) and call Validate, which only
# requires a runtime name (project.go:929-935, 990-996). The runtime is a string or {name, options}
# (project.go:1336-1353).


def _runtime_name(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (str, int, float, bool)):
        return raw if isinstance(raw, str) else json.dumps(raw)
    if isinstance(raw, dict) and isinstance(raw.get("name", ""), str) and isinstance(raw.get("options") or {}, dict):
        return raw.get("name") or ""
    raise PulumiError("runtime section must be a string or an object with name and options attributes")


def _load_runtime_project(text: str, string_fields: tuple[str, ...]) -> str:
    raw = load_yaml(text)
    if not isinstance(raw, dict):
        raise PulumiError(f"cannot unmarshal {_go_type(raw)} into a project definition")
    for key in string_fields:
        if isinstance(raw.get(key), (dict, list)):
            raise PulumiError(f"cannot unmarshal a {_go_type(raw[key])} into the string field '{key}'")
    name = _runtime_name(raw.get("runtime"))
    if name == "":
        raise PulumiError("project is missing a 'runtime' attribute")
    return name


def load_plugin_project_text(text: str) -> str:
    """The runtime name of a PulumiPlugin.yaml (PluginProject: runtime, packages, requiredPulumiVersion, template)."""
    return _load_runtime_project(text, ("requiredPulumiVersion",))


def load_policy_pack_text(text: str) -> str:
    """The runtime name of a PulumiPolicy.yaml (PolicyPackProject: runtime, version, main, description, ...)."""
    return _load_runtime_project(text, ("version", "main", "description", "author", "website", "license"))


# --- stack files ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """sdk/go/common/resource/config/key.go: namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"


def parse_key(s: str) -> Key:
    """key.go:45-70 (ParseKey): `<namespace>:<name>`, or the old `<namespace>:config:<name>`."""
    parts = s.split(":")
    if len(parts) == 2:
        return Key(parts[0], parts[1])
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return Key(parts[0], parts[2])
    raise PulumiError(f"could not parse {s} as a configuration key (configuration keys should be of the form `<namespace>:<name>`)")


@dataclass(frozen=True)
class Value:
    """value.go:35-41: the text, whether it is a ciphertext (secure) and whether it is JSON (object)."""

    text: str
    secure: bool = False
    object: bool = False


def _go_json_number(f: float) -> str:
    """encoding/json's text for a float64 (a whole number prints without a fraction, as in `1`)."""
    if not math.isfinite(f):
        raise PulumiError(f"json: unsupported value: {f}")
    if f == 0:
        return "0"
    if 1e-6 <= abs(f) < 1e21:
        text = format(Decimal(repr(f)), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, exp = repr(f).split("e")
    return f"{mantissa}e{exp[0]}{exp[1:].lstrip('0')}"


def _is_secure_map(v: Any) -> bool:
    """object.go:540-550 (isSecureValue): a map whose only key is `secure`, holding a string."""
    return isinstance(v, dict) and len(v) == 1 and isinstance(v.get("secure"), str)


def _contains_secure(v: Any) -> bool:
    if _is_secure_map(v):
        return True
    if isinstance(v, dict):
        return any(_contains_secure(x) for x in v.values())
    if isinstance(v, list):
        return any(_contains_secure(x) for x in v)
    return False


def _to_json(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        raise PulumiError(f"json: unsupported value: {v}")
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    return v


def make_value(raw: Any) -> Value:
    """What a stack file's YAML value becomes: object.go:465-527 (unmarshalObject) then 401-419 (MarshalString).

    A YAML null never reaches the unmarshaler (yaml.v3 decode.go:406-409) and stays the zero Value, the empty
    string (as loaders.go:359-363 says)."""
    if raw is None:
        return Value("")
    if isinstance(raw, bool):
        return Value("true" if raw else "false")
    if isinstance(raw, int):
        return Value(str(raw))
    if isinstance(raw, float):
        return Value(_go_json_number(raw))
    if isinstance(raw, str):
        return Value(raw)
    if _is_secure_map(raw):
        return Value(raw["secure"], secure=True)
    return Value(json.dumps(_to_json(raw), separators=(",", ":"), sort_keys=True), secure=_contains_secure(raw), object=True)


@dataclass(frozen=True)
class StackFile:
    """sdk/go/common/workspace/project.go:1228-1245 (ProjectStack: the stack file)."""

    config: Mapping[Key, Value]
    secretsprovider: str = ""
    encryptedkey: str = ""
    encryptionsalt: str = ""
    environment: Any = None
    raw_config: Mapping[str, Any] = field(default_factory=dict)  # the YAML values, by full key (for the tests)


def load_stack_text(text: str, project: Project) -> StackFile:
    """loaders.go:173-233 (LoadProjectStackBytes) and map.go:310-328 (Map.UnmarshalYAML)."""
    raw = load_yaml(text)
    if raw is None:
        return StackFile(config={})
    stack = simplify_marshalled_project(raw)
    config = stack.get("config")
    if config is not None and not isinstance(config, dict):
        raise PulumiError(f"could not unmarshal map: cannot unmarshal {_go_type(config)} into map[string]config.Value")
    # loaders.go:61-89: an un-namespaced key belongs to the project.
    full = {(k if ":" in k else f"{project.name}:{k}"): v for k, v in (config or {}).items()}
    values: dict[Key, Value] = {}
    for k, v in full.items():
        try:
            values[parse_key(k)] = make_value(v)
        except PulumiError as exc:
            raise PulumiError(f"could not unmarshal map: {exc}") from exc
    return StackFile(
        config=values,
        secretsprovider=str(stack.get("secretsprovider") or ""),
        encryptedkey=str(stack.get("encryptedkey") or ""),
        encryptionsalt=str(stack.get("encryptionsalt") or ""),
        environment=stack.get("environment"),
        raw_config=full,
    )


# --- secrets: decrypting `secure:` values --------------------------------------------------------------------


class Decrypter(Protocol):
    def decrypt(self, ciphertext: str) -> str: ...


def _go_b64decode(s: str) -> bytes:
    """encoding/base64 StdEncoding.DecodeString; the error names the first offending byte as Go's does for a bad
    character (for a bad length Go's index may differ: no test relies on it)."""
    for i, c in enumerate(s):
        if not (c.isascii() and (c.isalnum() or c in "+/=")):
            raise PulumiError(f"illegal base64 data at input byte {i}")
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise PulumiError(f"illegal base64 data at input byte {len(s)}") from exc


def split_symmetric_ciphertext(value: str) -> tuple[bytes, bytes]:
    """sdk/go/common/resource/config/crypt.go:189-219 (symmetricCrypter.DecryptValue, before it opens the value):
    `v1:<nonce, base64>:<ciphertext, base64>` with a 12-byte nonce (AES-256-GCM, crypt.go:157-162, 235)."""
    vals = value.split(":")
    if len(vals) != 3:
        raise PulumiError("bad value")
    if vals[0] != "v1":
        raise PulumiError("unknown value version")
    try:
        nonce = _go_b64decode(vals[1])
        ciphertext = _go_b64decode(vals[2])
    except PulumiError as exc:
        raise PulumiError(f"bad value: {exc}") from exc
    if len(nonce) != 12:
        raise PulumiError("bad value: nonce size is incorrect")
    return nonce, ciphertext


def _passphrase_key(passphrase: str, salt: bytes) -> bytes:
    """crypt.go:164-173: PBKDF2-SHA256, 1,000,000 iterations, a 32-byte key."""
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, 1_000_000, 32)


class SymmetricCrypter:
    """crypt.go:175-249 (symmetricCrypter): AES-256-GCM with the nonce stored beside the ciphertext."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only the passphrase tests need it

        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str) -> str:  # crypt.go:179-183, 232-249
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def decrypt(self, ciphertext: str) -> str:  # crypt.go:189-225
        from cryptography.exceptions import InvalidTag

        nonce, sealed = split_symmetric_ciphertext(ciphertext)
        try:
            return self._aead.decrypt(nonce, sealed, None).decode()
        except InvalidTag as exc:
            raise PulumiError("cipher: message authentication failed") from exc


def new_passphrase_state(passphrase: str) -> tuple[str, SymmetricCrypter]:
    """pkg/secrets/passphrase/manager.go:163-192 (NewPassphraseSecretsManager): the stack file's `encryptionsalt`
    is `v1:<8-byte salt, base64>:<the word "pulumi" encrypted>`, so a wrong passphrase is told apart later."""
    salt = secrets.token_bytes(8)
    crypter = SymmetricCrypter(_passphrase_key(passphrase, salt))
    return f"v1:{base64.b64encode(salt).decode()}:{crypter.encrypt('pulumi')}", crypter


def _parse_passphrase_state(state: str) -> tuple[bytes, str]:
    """manager.go:48-61 and 66: the salt, and the encrypted check word after the second colon."""
    splits = state.split(":", 2)
    if len(splits) != 3:
        raise PulumiError("malformed state value")
    if splits[0] != "v1":
        raise PulumiError("unknown state version")
    return _go_b64decode(splits[1]), splits[2]


def passphrase_crypter(passphrase: str, state: str) -> SymmetricCrypter:
    """manager.go:48-73 (symmetricCrypterFromPhraseAndState)."""
    salt, check = _parse_passphrase_state(state)
    crypter = SymmetricCrypter(_passphrase_key(passphrase, salt))
    try:
        ok = crypter.decrypt(check) == "pulumi"
    except PulumiError:
        ok = False
    if not ok:
        raise PulumiError("incorrect passphrase")  # manager.go:42, 67-70
    return crypter


class OfflineDecrypter:
    """The secrets manager the CLI would pick for a stack file, as far as it can be judged without its key.

    - `encryptionsalt` set: the passphrase provider (manager.go:301-316). The state and every ciphertext must have
      the form the provider opens (manager.go:48-61, crypt.go:189-219); opening needs the passphrase.
    - `secretsprovider` and `encryptedkey` set: a cloud KMS provider, whose data key opens ciphertexts of the same
      form (pkg/secrets/cloud/manager.go:94-126 uses config.NewSymmetricCrypter, line 120).
    - neither: only Pulumi Cloud keeps the key outside the file (pkg/secrets/service/manager.go:94-105: base64,
      then the service decrypts); a self-managed backend would make a new passphrase (manager.go:318-328), which
      opens no existing ciphertext.
    What it cannot open it returns as "[secret]", as the CLI's BlindingCrypter does (crypt.go:82-96).
    """

    def __init__(self, stack: StackFile) -> None:
        self.stack = stack
        if stack.encryptionsalt:
            _parse_passphrase_state(stack.encryptionsalt)

    def decrypt(self, ciphertext: str) -> str:
        if self.stack.encryptionsalt or (self.stack.secretsprovider and self.stack.encryptedkey):
            split_symmetric_ciphertext(ciphertext)
        elif self.stack.secretsprovider not in ("", "default", "service"):
            raise PulumiError("the stack file names a secrets provider but holds no key or salt for it: no `secure:` value can be opened")
        else:
            _go_b64decode(ciphertext)
        return "[secret]"


# --- the checks of `pulumi preview` / `pulumi up` ------------------------------------------------------------


def _lookup(config: Mapping[Key, Value], key: Key) -> Value | None:
    """map.go:149-182 (Map.Get with path=true) for a plain name; a path name (`a.b`, `a[0]`) is not replayed."""
    if re.search(r"[.\[\]\"]", key.name):
        raise NotReplayedError(f"config key path {key}")
    return config.get(key)


def _create_config_value(raw: Any) -> Value:
    """config.go:170-193 (isPrimitiveValue, createConfigValue): string/int/bool as text, anything else as JSON."""
    if isinstance(raw, bool):
        return Value("true" if raw else "false")
    if isinstance(raw, (str, int)):
        return Value(str(raw))
    return Value(json.dumps(_to_json(raw), separators=(",", ":"), sort_keys=True), object=True)


def format_missing_keys(keys: list[str]) -> str:
    """config.go:30-51 (formatMissingKeys): one key as is; several sorted, the last after "and"."""
    if len(keys) == 1:
        return f"'{keys[0]}'"
    keys = sorted(keys)
    return ", ".join(f"'{k}'" for k in keys[:-1]) + f" and '{keys[-1]}'"


def _decrypted_text(value: Value, dec: Decrypter) -> str:
    """value.go:63-80 (Value.Value): secure strings decrypted, objects re-marshalled with their secrets opened."""
    if not value.object:
        return dec.decrypt(value.text) if value.secure else value.text

    def walk(v: Any) -> Any:
        if _is_secure_map(v):
            return dec.decrypt(v["secure"])
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return json.dumps(walk(json.loads(value.text)), separators=(",", ":"), sort_keys=True)


def validate_stack_config(stack_name: str, project: Project, stack: StackFile, dec: Decrypter) -> dict[Key, Value]:
    """config.go:255-366 (mergeConfig with validate = true): returns the config the program would receive."""
    if stack.environment:
        raise NotReplayedError("the stack imports ESC environments (config.go:267-293): their values cannot be read offline")
    config = dict(stack.config)
    missing: list[str] = []
    for project_key in sorted(project.config):  # config.go:295-349
        ctype = project.config[project_key]
        key = parse_key(project_key) if ":" in project_key else Key(project.name, project_key)  # config.go:159-168
        found = _lookup(config, key) is not None
        if not found and not ctype.has_value() and not ctype.has_default() and key.namespace == project.name:
            missing.append(project_key)  # config.go:319-325: typed or not
            continue
        if not found and (ctype.has_value() or ctype.has_default()):
            config[key] = _create_config_value(ctype.default if ctype.has_default() else ctype.value)  # config.go:327-348
    if missing:  # config.go:351-355
        values = "values" if len(missing) > 1 else "value"
        raise PulumiError(f"Stack '{stack_name}' is missing configuration {values} {format_missing_keys(missing)}")
    # config.go:66-117 (validateStackConfigValues): every value of the stack is decrypted first (lines 76-80), then
    # each explicitly typed project key is checked (lines 101-113).
    for value in config.values():
        _decrypted_text(value, dec)
    for project_key in sorted(project.config):
        ctype = project.config[project_key]
        if not ctype.is_explicitly_typed():
            continue
        assert ctype.type is not None
        key = parse_key(project_key) if ":" in project_key else Key(project.name, project_key)
        value = _lookup(config, key) or Value("")
        if value.secure and isinstance(dec, OfflineDecrypter) and ctype.type != "string":
            raise NotReplayedError(f"{project_key}: a {ctype.type} secret cannot be type-checked without its key")
        _check_value(stack_name, project_key, ctype, value, _decrypted_text(value, dec))
    return config


def _check_value(stack_name: str, project_key: str, ctype: ConfigType, value: Value, decrypted: str) -> None:
    """config.go:119-157 (validateStackConfigValue)."""
    if ctype.secret and not value.secure:
        raise PulumiError(f"Stack '{stack_name}' with configuration key '{project_key}' must be encrypted as it's secret")
    content: Any = decrypted
    if value.object:
        content = json.loads(decrypted)  # numbers become float64, as json.Unmarshal into `any` makes them
        content = _floats(content)
    assert ctype.type is not None
    if not validate_config_value(ctype.type, ctype.items, content):
        type_name = infer_full_type_name(ctype.type, ctype.items)
        raise PulumiError(f"Stack '{stack_name}' with configuration key '{project_key}' must be of type '{type_name}'")


def _floats(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    return [_floats(x) for x in v]


def preview_config_check(stack_name: str, project_path: Path, stack_text: str, dec: Decrypter | None = None) -> dict[Key, Value]:
    """What `pulumi preview` checks before the program runs (preview.go:507-540): load, decrypt, validate.

    Errors carry the CLI's prefix: `validating stack config: ...` (preview.go:538, up.go:216)."""
    project = load_project_text(project_path.read_text(encoding="utf-8"), str(project_path))
    stack = load_stack_text(stack_text, project)
    try:
        return validate_stack_config(stack_name, project, stack, dec or OfflineDecrypter(stack))
    except PulumiError as exc:
        raise PulumiError(f"validating stack config: {exc}") from exc
