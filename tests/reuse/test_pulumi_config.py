"""Pulumi.yaml, the plugin and policy projects, every stack file in stacks/ and every stack-file snippet in docs/
pass the checks the Pulumi CLI makes before `pulumi preview`/`pulumi up` run the program. The CLI cannot be
installed here: tests/reuse/pulumi_config_replay.py replays its rules, citing pulumi/pulumi's files and lines.
Each rule is also shown failing, with the CLI's message.

The rules, in short (pulumi/pulumi 1b5949891b3c):
- pkg/workspace/config.go:319-325, 351-355: a key of the project's namespace listed in Pulumi.yaml's `config:`
  with neither `default` nor `value` must be set by every stack, typed or not.
- config.go:76-80: every `secure:` value of the stack is decrypted before anything else is checked.
- config.go:101-113, 119-157: a typed key's value must have its type; a `secret: true` key must be `secure:`,
  and a default merged in for a stack that leaves the key out (lines 327-348) is never secure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.reuse import pulumi_config_replay as pcr

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILE = ROOT / "Pulumi.yaml"
NS = "eksa-firewall:"
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
EXAMPLE = re.compile(r"-example$")  # the rule of .github/scripts/pr_stacks.py and docs/pull-requests.md


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def project() -> pcr.Project:
    return pcr.load_project_text(PROJECT_FILE.read_text(encoding="utf-8"), "Pulumi.yaml")


def check(name: str, stack_text: str, project_text: str | None = None, dec: pcr.Decrypter | None = None) -> dict[pcr.Key, pcr.Value]:
    """`pulumi preview`'s config check of ``stack_text`` as stack ``name``, against Pulumi.yaml or ``project_text``."""
    proj = pcr.load_project_text(project_text, "Pulumi.yaml") if project_text is not None else project()
    stack = pcr.load_stack_text(stack_text, proj)
    try:
        return pcr.validate_stack_config(name, proj, stack, dec or pcr.OfflineDecrypter(stack))
    except pcr.PulumiError as exc:
        raise pcr.PulumiError(f"validating stack config: {exc}") from exc  # preview.go:537-539, up.go:215-217


def expect_cli_error(message: str, name: str, stack_text: str, project_text: str | None = None, dec: pcr.Decrypter | None = None) -> None:
    with pytest.raises(pcr.PulumiError) as err:
        check(name, stack_text, project_text, dec)
    assert str(err.value) == message


# --- the project files ---------------------------------------------------------------------------------------


def test_pulumi_yaml_loads_as_the_cli_loads_it() -> None:
    proj = project()
    assert proj.name == "eksa-firewall" and proj.stack_config_dir == "stacks"


def test_pulumi_yaml_requires_only_platform() -> None:
    """A key listed without default or value is required in every stack (config.go:319-325): only `platform`,
    which every stack must set anyway. Optional keys (hardwareCsv, the secrets) are documented, not listed."""
    required = sorted(k for k, t in project().config.items() if not t.has_default() and not t.has_value())
    assert required == ["platform"]
    assert not [k for k, t in project().config.items() if t.secret]  # see test_a_secret_key_cannot_be_optional


def test_the_plugin_and_policy_projects_load_as_the_cli_loads_them() -> None:
    assert pcr.load_plugin_project_text((ROOT / "provider" / "PulumiPlugin.yaml").read_text(encoding="utf-8")) == "python"
    assert pcr.load_policy_pack_text((ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8")) == "python"


# --- every stack file ----------------------------------------------------------------------------------------


def test_there_are_stack_files() -> None:
    assert len(STACK_FILES) >= 5


@pytest.mark.parametrize("path", STACK_FILES, ids=stack_name)
def test_stack_file_passes_the_cli_config_checks(path: Path) -> None:
    config = check(stack_name(path), path.read_text(encoding="utf-8"))
    # what the program receives: the stack's values and the project's defaults
    assert config[pcr.Key("eksa-firewall", "eksaVersion")].text
    assert config[pcr.Key("eksa-firewall", "cilium")].text in ("true", "false")


def _secure_paths(value: Any, where: str) -> list[str]:
    if isinstance(value, dict):
        if "secure" in value:
            return [where]
        return [p for k, v in value.items() for p in _secure_paths(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secure_paths(v, f"{where}[{i}]")]
    return []


def assert_no_secure_values(config: dict[str, Any], where: str) -> None:
    """Examples are read by people who do not have our key: any `secure:` in them is a value nobody can decrypt
    (passphrase and KMS ciphertexts need the stack's key; Pulumi Cloud ones, its stack), so none is allowed."""
    found = [p for k, v in config.items() for p in _secure_paths(v, k)]
    assert not found, f"{where}: {found} hold `secure:` values; remove them and show `pulumi config set --secret <key>` instead"


@pytest.mark.parametrize("path", [p for p in STACK_FILES if EXAMPLE.search(stack_name(p))], ids=stack_name)
def test_example_stack_holds_no_ciphertext(path: Path) -> None:
    stack = pcr.load_stack_text(path.read_text(encoding="utf-8"), project())
    assert_no_secure_values(dict(stack.raw_config), str(path.relative_to(ROOT)))
    assert not (stack.encryptionsalt or stack.encryptedkey or stack.secretsprovider), "an example names no secrets provider"


# --- stack-file snippets in the docs -------------------------------------------------------------------------

FENCE = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A fragment of a config block (top-level `eksa-firewall:` keys) is checked pasted into its guide's example stack.
GUIDE_EXAMPLE = {
    "docs/platforms/vsphere.md": "vsphere-example",
    "docs/platforms/snow.md": "snow-example",
    "docs/platforms/nutanix.md": "nutanix-example",
    "docs/platforms/baremetal.md": "baremetal-example",
}


def stack_snippets(markdown: str) -> list[tuple[int, str, str]]:
    """Each YAML block that is a stack file of this project (a `config:` with `eksa-firewall:` keys) or a fragment
    of one (top-level `eksa-firewall:` keys): (line, "stack" | "fragment", its text)."""
    found = []
    for m in FENCE.finditer(markdown):
        doc = pcr.load_yaml(m.group(1))
        if not isinstance(doc, dict):
            continue
        line = markdown.count("\n", 0, m.start()) + 1
        config = doc.get("config")
        if isinstance(config, dict) and any(str(k).startswith(NS) for k in config):
            found.append((line, "stack", m.group(1)))
        elif any(str(k).startswith(NS) for k in doc):
            found.append((line, "fragment", m.group(1)))
    return found


DOC_SNIPPETS = [
    (str(path.relative_to(ROOT)), line, kind, text)
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
    for line, kind, text in stack_snippets(path.read_text(encoding="utf-8"))
]


def test_the_snippet_finder_finds_stacks_and_fragments() -> None:
    text = "x\n```yaml\nconfig:\n  eksa-firewall:platform: snow\n```\n```yaml\n  eksa-firewall:cilium: false\n```\n```yaml\nkind: X\n```\n"
    assert [(line, kind) for line, kind, _ in stack_snippets(text)] == [(2, "stack"), (6, "fragment")]
    assert {kind for _, _, kind, _ in DOC_SNIPPETS} == {"stack", "fragment"}  # docs/configuration.md has a whole stack


@pytest.mark.parametrize(("doc", "line", "kind", "text"), DOC_SNIPPETS, ids=[f"{d}:{n}" for d, n, _, _ in DOC_SNIPPETS])
def test_doc_snippet_passes_the_cli_config_checks(doc: str, line: int, kind: str, text: str) -> None:
    where, snippet = f"{doc}:{line}", pcr.load_yaml(text)
    if kind == "stack":
        assert_no_secure_values(snippet["config"], where)
        check("docs-snippet", text)
        return
    assert doc in GUIDE_EXAMPLE, f"{where}: a config fragment outside a platform guide; make it a whole stack file"
    assert_no_secure_values(snippet, where)
    # pasted into the guide's example stack, replacing the sections it names
    example = pcr.load_yaml((ROOT / "stacks" / f"Pulumi.{GUIDE_EXAMPLE[doc]}.yaml").read_text(encoding="utf-8"))
    check(GUIDE_EXAMPLE[doc], pcr.yaml.safe_dump({**example, "config": {**example["config"], **snippet}}))


# --- each rule fails where the CLI fails ---------------------------------------------------------------------

# Pulumi.yaml's config block before this check existed: five keys without a default.
OLD_CONFIG_BLOCK = """
name: eksa-firewall
runtime: python
config:
  platform: {type: string}
  eksaVersion: {type: string, default: latest}
  hardwareCsv: {type: string}
  nsxPassword: {type: string, secret: true}
  awsAccessKeyId: {type: string, secret: true}
  awsSecretAccessKey: {type: string, secret: true}
"""
# The `secure:` placeholders the example stacks held then.
OLD_SNOW_PLACEHOLDER = "v1:placeholder-set-with-pulumi-config-set-secret"
OLD_VSPHERE_PLACEHOLDER = "AAABAGRlbW8tb25seS1ub3QtYS1yZWFsLWNpcGhlcnRleHQ="


def example(name: str) -> str:
    return (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8")


def with_config(name: str, **extra: Any) -> str:
    doc = pcr.load_yaml(example(name))
    return pcr.yaml.safe_dump({**doc, "config": {**doc["config"], **{NS + k: v for k, v in extra.items()}}})


def test_the_old_project_made_the_snow_example_fail_as_the_issue_reports() -> None:
    old_snow = with_config(
        "snow-example", awsAccessKeyId={"secure": OLD_SNOW_PLACEHOLDER}, awsSecretAccessKey={"secure": OLD_SNOW_PLACEHOLDER}
    )
    expect_cli_error(
        "validating stack config: Stack 'snow-example' is missing configuration values 'hardwareCsv' and 'nsxPassword'",
        "snow-example",
        old_snow,
        OLD_CONFIG_BLOCK,
    )


def test_missing_keys_are_listed_sorted_with_and() -> None:
    expect_cli_error(
        "validating stack config: Stack 'nutanix-example' is missing configuration values "
        "'awsAccessKeyId', 'awsSecretAccessKey', 'hardwareCsv' and 'nsxPassword'",
        "nutanix-example",
        example("nutanix-example"),
        OLD_CONFIG_BLOCK,
    )


def test_a_stack_without_platform_is_refused() -> None:
    text = re.sub(r"^  eksa-firewall:platform: .*\n", "", example("vsphere-example"), flags=re.MULTILINE)
    assert text != example("vsphere-example")
    expect_cli_error("validating stack config: Stack 'prod' is missing configuration value 'platform'", "prod", text)


def test_an_untyped_listed_key_is_required_too() -> None:
    """config.go:319 does not look at the type: documenting a key in the block without a default makes it required."""
    block = "name: eksa-firewall\nruntime: python\nconfig:\n  nsxPassword: {description: the NSX password}\n"
    expect_cli_error(
        "validating stack config: Stack 'x' is missing configuration value 'nsxPassword'", "x", example("vsphere-example"), block
    )


def test_a_secret_key_cannot_be_optional() -> None:
    """Why the secret keys are not listed: a default is merged in as a plain value (config.go:327-348), and a
    `secret: true` key then fails as unencrypted (config.go:128-134) in every stack that leaves it out."""
    block = 'name: eksa-firewall\nruntime: python\nconfig:\n  nsxPassword: {type: string, secret: true, default: ""}\n'
    expect_cli_error(
        "validating stack config: Stack 'snow-example' with configuration key 'nsxPassword' must be encrypted as it's secret",
        "snow-example",
        example("snow-example"),
        block,
    )


def test_a_secret_set_in_plain_text_is_refused() -> None:
    block = "name: eksa-firewall\nruntime: python\nconfig:\n  nsxPassword: {type: string, secret: true}\n"
    text = with_config("vsphere-example", nsxPassword="hunter2")
    expect_cli_error(
        "validating stack config: Stack 'vsphere-example' with configuration key 'nsxPassword' must be encrypted as it's secret",
        "vsphere-example",
        text,
        block,
    )


@pytest.mark.parametrize(
    ("key", "value", "type_name"),
    [
        ("cilium", "yes", "boolean"),  # yaml.v3 reads `yes` as a string (resolve.go:52-53)
        ("allowSshFromAnywhere", 1, "boolean"),
        ("platform", {"name": "vsphere"}, "string"),
        ("eksaVersion", ["v0.24"], "string"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(key: str, value: Any, type_name: str) -> None:
    text = with_config("vsphere-example", **{key: value})
    if value == "yes":
        text = text.replace("eksa-firewall:cilium: 'yes'", "eksa-firewall:cilium: yes")
        assert "cilium: yes\n" in text
    expect_cli_error(
        f"validating stack config: Stack 'vsphere-example' with configuration key '{key}' must be of type '{type_name}'",
        "vsphere-example",
        text,
    )


def test_values_of_the_right_type_pass() -> None:
    check("vsphere-example", with_config("vsphere-example", cilium="false", allowSshFromAnywhere=True, eksaVersion=0.24))


def test_typed_arrays_integers_and_objects_follow_validate_config_value() -> None:
    block = """
name: p
runtime: python
config:
  ports: {type: array, items: {type: integer}}
  size: {type: integer}
  meta: {type: object}
"""
    ok = "config:\n  p:ports: [80, 443]\n  p:size: '12'\n  p:meta: {a: 1}\n"
    check("s", ok, block)
    expect_cli_error("validating stack config: Stack 's' with configuration key 'ports' must be of type 'array<integer>'", "s",
                     ok.replace("[80, 443]", "[80, http]"), block)  # fmt: skip
    expect_cli_error("validating stack config: Stack 's' with configuration key 'size' must be of type 'integer'", "s",
                     ok.replace("'12'", "'12.5'"), block)  # fmt: skip
    expect_cli_error("validating stack config: Stack 's' with configuration key 'meta' must be of type 'object'", "s",
                     ok.replace("{a: 1}", "[a]"), block)  # fmt: skip


def test_project_defaults_are_checked_when_the_project_loads() -> None:
    with pytest.raises(pcr.PulumiError) as err:
        pcr.load_project_text("name: p\nruntime: python\nconfig:\n  cilium: {type: boolean, default: maybe}\n")
    assert (
        str(err.value)
        == "could not unmarshal 'Pulumi.yaml': The default value specified for configuration key 'cilium' is not of the expected type 'boolean'"
    )
    with pytest.raises(pcr.PulumiError) as err:
        pcr.load_project_text("name: p\nruntime: python\nconfig:\n  aws:region: {type: string}\n")
    assert "Configuration key 'aws:region' is not namespaced by the project and should not define a type" in str(err.value)


def test_the_project_schema_refuses_what_project_json_refuses() -> None:
    with pytest.raises(pcr.PulumiError, match=r"^could not validate 'Pulumi.yaml': #/config/platform: "):
        pcr.load_project_text("name: p\nruntime: python\nconfig:\n  platform: {type: str}\n")
    with pytest.raises(pcr.PulumiError, match=r"#/config/platform: "):
        pcr.load_project_text("name: p\nruntime: python\nconfig:\n  platform: {type: string, required: true}\n")
    with pytest.raises(
        pcr.PulumiError, match=r"^could not validate 'Pulumi.yaml': project is missing a 'name' attribute; found 'nme' instead$"
    ):
        pcr.load_project_text("nme: p\nruntime: python\n")
    with pytest.raises(pcr.PulumiError, match=r"#/runtime: "):
        pcr.load_project_text("name: p\nruntime: {name: python, toolchain: pip}\n")


def test_a_plugin_or_policy_project_without_runtime_is_refused() -> None:
    with pytest.raises(pcr.PulumiError, match=r"^project is missing a 'runtime' attribute$"):
        pcr.load_plugin_project_text("description: no runtime\n")
    with pytest.raises(pcr.PulumiError, match=r"^runtime section must be a string or an object with name and options attributes$"):
        pcr.load_policy_pack_text("runtime: [python]\n")


# --- secure values: what the CLI can decrypt -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ciphertext", "message"),
    [
        (OLD_SNOW_PLACEHOLDER, "bad value"),  # crypt.go:190-194: not three colon-separated parts
        (OLD_VSPHERE_PLACEHOLDER, "bad value"),
        ("v2:AAAA:AAAA", "unknown value version"),  # crypt.go:196-198
        ("v1:AAAAAAAA:AAAA", "bad value: nonce size is incorrect"),  # crypt.go:218-220 (6 bytes, not 12)
        ("v1:!!!!:AAAA", "bad value: illegal base64 data at input byte 0"),  # crypt.go:200-203
    ],
)
def test_a_placeholder_in_a_passphrase_stack_is_not_decryptable(ciphertext: str, message: str) -> None:
    salt_state = "v1:c2FsdHNhbHQ=:v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA=="  # a well-formed passphrase state
    text = "encryptionsalt: " + salt_state + "\n" + with_config("snow-example", awsAccessKeyId={"secure": ciphertext},
                                                                awsSecretAccessKey={"secure": ciphertext})  # fmt: skip
    expect_cli_error(f"validating stack config: {message}", "snow-example", text)


def test_a_placeholder_in_a_nested_value_is_decrypted_too() -> None:
    text = "encryptionsalt: v1:c2FsdHNhbHQ=:v1:AAAAAAAAAAAAAAAA:AAAA\n" + with_config(
        "vsphere-example", vsphere={"nsx": {"host": "h", "token": {"secure": OLD_SNOW_PLACEHOLDER}}}
    )
    expect_cli_error("validating stack config: bad value", "vsphere-example", text)


def test_the_old_example_placeholders_are_caught_as_ciphertexts_in_an_example() -> None:
    """Under Pulumi Cloud the vSphere placeholder is valid base64 and only the service would refuse it: offline, the
    examples' rule (no `secure:` at all) is what catches it."""
    stack = pcr.load_stack_text(with_config("vsphere-example", nsxPassword={"secure": OLD_VSPHERE_PLACEHOLDER}), project())
    pcr.validate_stack_config("vsphere-example", project(), stack, pcr.OfflineDecrypter(stack))  # base64: passes offline
    with pytest.raises(AssertionError, match=r"eksa-firewall:nsxPassword"):
        assert_no_secure_values(dict(stack.raw_config), "vsphere-example")


@pytest.fixture(scope="module")
def passphrase_stack() -> tuple[str, str]:
    """A stack made as `pulumi stack init --secrets-provider passphrase` and `pulumi config set --secret` make it
    (manager.go:163-192, crypt.go:179-183), and its passphrase."""
    passphrase = "correct horse battery staple"
    state, crypter = pcr.new_passphrase_state(passphrase)
    text = f"encryptionsalt: {state}\n" + with_config("vsphere-example", nsxPassword={"secure": crypter.encrypt("s3cret!")})
    return text, passphrase


def test_a_real_passphrase_ciphertext_decrypts_and_passes(passphrase_stack: tuple[str, str]) -> None:
    text, passphrase = passphrase_stack
    stack = pcr.load_stack_text(text, project())
    crypter = pcr.passphrase_crypter(passphrase, stack.encryptionsalt)
    assert crypter.decrypt(stack.config[pcr.Key("eksa-firewall", "nsxPassword")].text) == "s3cret!"
    check("vsphere-example", text, dec=crypter)
    check("vsphere-example", text)  # well-formed for its provider: the offline check passes it too


def test_a_wrong_passphrase_or_a_changed_ciphertext_is_refused(passphrase_stack: tuple[str, str]) -> None:
    text, passphrase = passphrase_stack
    stack = pcr.load_stack_text(text, project())
    with pytest.raises(pcr.PulumiError, match=r"^incorrect passphrase$"):
        pcr.passphrase_crypter("wrong", stack.encryptionsalt)
    crypter = pcr.passphrase_crypter(passphrase, stack.encryptionsalt)
    secure = stack.config[pcr.Key("eksa-firewall", "nsxPassword")].text
    version, nonce, sealed = secure.split(":")
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    expect_cli_error("validating stack config: cipher: message authentication failed", "vsphere-example",
                     text.replace(secure, f"{version}:{nonce}:{flipped}"), dec=crypter)  # fmt: skip


# --- YAML as the CLI reads it --------------------------------------------------------------------------------


def test_yaml_is_read_as_yaml_v3_reads_it() -> None:
    doc = pcr.load_yaml("a: yes\nb: True\nc: 0777\nd: 0x1F\ne: 1_000\nf: 1:20\ng: ~\nh: 1.0\ni: 2001-12-14\n")
    assert doc == {"a": "yes", "b": True, "c": 511, "d": 31, "e": 1000, "f": "1:20", "g": None, "h": 1.0, "i": "2001-12-14"}
    assert [pcr.make_value(v).text for v in (True, 1.0, 0.24, 1e21, None)] == ["true", "1", "0.24", "1e+21", ""]


def test_what_the_replay_does_not_cover_is_refused_not_passed() -> None:
    with pytest.raises(pcr.NotReplayedError, match="packages"):
        pcr.load_project_text("name: p\nruntime: python\npackages: {x: y}\n")
    with pytest.raises(pcr.NotReplayedError, match="ESC environments"):
        check("vsphere-example", "environment: [my-env]\n" + example("vsphere-example"))
