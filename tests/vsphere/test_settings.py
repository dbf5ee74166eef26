"""The vsphere section's free text is checked at parse time against the vendors' limits, naming the key."""

from __future__ import annotations

import pytest

from components.errors import ConfigError
from components.topology import parse_topology
from components.vsphere.settings import MAX_NSX_TAG_SCOPE, parse_settings
from tests.environments import environment


def problems(**nsx: object) -> str:
    config = environment("vsphere")
    tags = nsx.pop("tags", None)
    config["vsphere"]["nsx"].update(nsx)
    if tags is not None:
        config["vsphere"]["tags"] = tags
    with pytest.raises(ConfigError) as info:
        parse_settings(parse_topology(config))
    return str(info.value)


def test_an_nsx_tag_scope_over_128_characters_is_refused() -> None:
    config = environment("vsphere")
    config["vsphere"]["nsx"].update(nsxTagScope="s" * MAX_NSX_TAG_SCOPE, membership="tag")
    assert parse_settings(parse_topology(config)).nsx.nsx_tag_scope == "s" * 128
    text = problems(nsxTagScope="s" * 129, membership="tag")
    assert "vsphere.nsx.nsxTagScope" in text and "129 characters" in text and "128" in text


@pytest.mark.parametrize("label", ["audit\nflush", "eks\ra", "tab\there", "esc\x1b[2J", "del\x7f", "ne\x85l", "ls\u2028x"])
def test_control_characters_in_the_log_label_are_refused(label: str) -> None:
    text = problems(logLabel=label)
    assert "vsphere.nsx.logLabel" in text and "control characters" in text


def test_a_log_label_longer_than_nsx_keeps_is_refused() -> None:
    text = problems(logLabel="x" * 33)
    assert "vsphere.nsx.logLabel" in text and "32" in text


def test_newlines_in_the_tag_scope_and_the_vcenter_category_and_description() -> None:
    text = problems(nsxTagScope="role\nx", tags={"category": "roles\nevil", "description": "line one\u2029line two"})
    for key in ("vsphere.nsx.nsxTagScope", "vsphere.tags.category", "vsphere.tags.description"):
        assert key in text, (key, text)


@pytest.mark.parametrize("prefix", ["a/b", "a&b", "-lead", "x" * 42, "sp ace", "new\nline"])
def test_id_prefixes_outside_nsx_id_rules_are_refused(prefix: str) -> None:
    assert "vsphere.nsx.idPrefix" in problems(idPrefix=prefix)
