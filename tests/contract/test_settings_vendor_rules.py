"""The text checks of the `aws` and `nutanix` sections are the vendors' rules, applied at parse time.

AWS: tag keys and values and the group-name prefix, against the rules EC2's own model documents (botocore).
Nutanix: category keys and values, against Prism Central's v4 model (the ntnx prism SDK's Category setters).
Whatever the settings accept, the vendor accepts; what the vendor refuses, the settings refuse with the key named.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.aws.settings import GROUP_NAME_CHARACTERS, MAX_NAME_PREFIX, MAX_TAG_KEY, MAX_TAG_VALUE
from components.aws.settings import parse_settings as parse_aws
from components.errors import ConfigError
from components.nutanix.settings import CATEGORY_FORBIDDEN, MAX_CATEGORY_LENGTH
from components.nutanix.settings import parse_settings as parse_nutanix
from components.topology import parse_topology
from tests.contract.ec2 import text_rule
from tests.environments import environment

SETTINGS = settings(max_examples=150)
# Text with the characters the rules are about: letters, digits, punctuation, spaces, controls, non-ASCII.
TEXT = st.text(alphabet=st.sampled_from(string.printable + "$äé€\u00a0\u200b"), min_size=0, max_size=140)


def _problems(parse: Any, cfg: dict[str, Any]) -> dict[str, str]:
    try:
        parse(parse_topology(cfg))
    except ConfigError as exc:
        return {p.key: p.message for p in exc.problems}
    return {}


# --- AWS ---------------------------------------------------------------------------------------------------


def test_aws_limits_are_the_ec2_models() -> None:
    assert text_rule("Tag", "Key").max_length == MAX_TAG_KEY
    assert text_rule("Tag", "Value").max_length == MAX_TAG_VALUE
    name = text_rule("CreateSecurityGroupRequest", "GroupName")
    allowed = {c for c in string.printable if name.problem(c) is None}
    import re

    assert allowed == {c for c in string.printable if re.fullmatch(f"[{GROUP_NAME_CHARACTERS}]", c)}
    # prefix + the longest cluster name (a DNS label) + "-" + the longest role still fits
    assert MAX_NAME_PREFIX + 63 + 1 + len("control-plane") <= name.max_length


@SETTINGS
@given(key=TEXT, value=TEXT)
def test_aws_tags_the_settings_accept_are_tags_ec2_accepts(key: str, value: str) -> None:
    problems = _problems(parse_aws, environment("snow", aws={"tags": {key: value}}))
    tag_key = f"aws.tags.{key}"
    if not problems:
        assert text_rule("Tag", "Key").problem(key) is None and text_rule("Tag", "Value").problem(value) is None
    if text_rule("Tag", "Key").problem(key) or text_rule("Tag", "Value").problem(value):
        assert tag_key in problems, problems


@SETTINGS
@given(prefix=TEXT)
def test_aws_name_prefixes_the_settings_accept_make_names_ec2_accepts(prefix: str) -> None:
    cfg = environment("snow", aws={"namePrefix": prefix})
    problems = _problems(parse_aws, cfg)
    rule = text_rule("CreateSecurityGroupRequest", "GroupName")
    if not problems:
        read = parse_aws(parse_topology(cfg)).name_prefix  # as the settings read it (surrounding blanks dropped)
        assert rule.problem(read + "c" * 63 + "-control-plane") is None
    elif prefix.strip() and rule.problem(prefix.strip() + "mgmt-control-plane"):
        assert "aws.namePrefix" in problems


@pytest.mark.parametrize(
    ("tags", "key"),
    [
        ({"k" * 128: "v"}, "aws.tags." + "k" * 128),
        ({"team": "a\nb"}, "aws.tags.team"),
        ({"team": "x" * 257}, "aws.tags.team"),
        ({"te\tam": "x"}, "aws.tags.te\tam"),
    ],
    ids=["key-128", "value-newline", "value-257", "key-tab"],
)
def test_aws_hostile_tags_are_refused_with_the_key(tags: dict[str, str], key: str) -> None:
    assert key in _problems(parse_aws, environment("snow", aws={"tags": tags}))


# --- Nutanix ---------------------------------------------------------------------------------------------


def _prism_accepts(text: str) -> bool:
    from ntnx_prism_py_client.models.prism.v4.config.Category import Category

    c = Category()
    try:
        c.key = text
    except ValueError:
        return False
    return True


def test_nutanix_category_rule_is_the_prism_models() -> None:
    assert not _prism_accepts("a" * (MAX_CATEGORY_LENGTH + 1)) and _prism_accepts("a" * MAX_CATEGORY_LENGTH)
    assert not _prism_accepts("$a") and _prism_accepts("a$")
    for c in string.printable:
        if c.isprintable():
            assert _prism_accepts(f"a{c}") == (c not in CATEGORY_FORBIDDEN), repr(c)


@SETTINGS
@given(text=TEXT)
def test_nutanix_category_keys_and_values_the_settings_accept_prism_accepts(text: str) -> None:
    key_problems = _problems(parse_nutanix, environment("nutanix", nutanix={"categoryKey": text}))
    value_problems = _problems(parse_nutanix, environment("nutanix", nutanix={"categories": {"prod": {"worker": {"value": text}}}}))
    for problems, key in ((key_problems, "nutanix.categoryKey"), (value_problems, "nutanix.categories.prod.worker.value")):
        if key not in problems and text:
            assert _prism_accepts(text), f"{key}: {text!r} accepted, but Prism Central refuses it"
        if not _prism_accepts(text):
            assert key in problems, f"{key}: {text!r} refused by Prism Central, but the settings accept it"


@pytest.mark.parametrize("value", ['prod "cp"', "prod\ncp", "a,b", "role=cp", "$cp", "x" * 65, ""], ids=repr)
def test_nutanix_hostile_category_values_are_refused_with_the_key(value: str) -> None:
    problems = _problems(parse_nutanix, environment("nutanix", nutanix={"categories": {"prod": {"worker": {"value": value}}}}))
    assert "nutanix.categories.prod.worker.value" in problems, problems
