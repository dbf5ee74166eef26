from __future__ import annotations

from typing import Any

import pytest

from components.baremetal.settings import ApplySettings, BareMetalSettings, parse_settings
from components.errors import ConfigError
from components.topology import parse_topology
from tests.baremetal.common import example_config
from tests.environments import edit_worker_group
from tests.helpers import read_file


def _settings(section: Any, **changes: Any) -> BareMetalSettings:
    cfg = {**example_config(), **changes}
    if section is None:
        cfg.pop("baremetal", None)
    else:
        cfg["baremetal"] = section
    return parse_settings(parse_topology(cfg, read_file=read_file))


def _problems(section: Any, **changes: Any) -> str:
    with pytest.raises(ConfigError) as err:
        _settings(section, **changes)
    return str(err.value)


def test_defaults() -> None:
    s = _settings(None)
    assert s == BareMetalSettings(table="eksa_firewall", default_action="drop", output_dir=None, apply=None)
    assert s.family_table == "inet eksa_firewall"


def test_example_section() -> None:
    s = _settings(example_config()["baremetal"])
    assert (s.table, s.default_action, s.output_dir, s.apply) == ("eksa_firewall", "drop", "build/baremetal-example", None)


def test_apply_defaults_and_values() -> None:
    assert _settings({"apply": {"enabled": True}}).apply == ApplySettings()
    s = _settings({"table": "edge_fw", "apply": {"enabled": True, "user": "ubuntu", "port": 2222}})
    assert s.apply == ApplySettings(user="ubuntu", port=2222, sudo=True, path="/etc/eksa-firewall/edge_fw.nft")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"tabel": "x"}, "baremetal.tabel: is not a known key. Fix: remove it or correct the spelling (did you mean 'table'?)"),
        ({"table": "1bad-name"}, "baremetal.table: '1bad-name' is not an nftables table name"),
        ({"defaultAction": "accept"}, "baremetal.defaultAction: 'accept' is not one of drop, reject"),
        ({"apply": {"enabled": True, "user": "Bad User"}}, "baremetal.apply.user: 'Bad User' is not a login name"),
        (
            {"apply": {"enabled": True, "privateKeyConfig": "id_rsa"}},
            "baremetal.apply.privateKeyConfig: is replaced by the secret key sshPrivateKey",
        ),
        ({"apply": {"enabled": True, "path": "relative.nft"}}, "baremetal.apply.path: 'relative.nft' is not a plain absolute path"),
        # every character outside the allow-list, control characters included (a vertical tab reached the scripts)
        ({"apply": {"enabled": True, "path": "/etc/a\x0bb.nft"}}, "baremetal.apply.path: '/etc/a\\x0bb.nft' is not a plain absolute path"),
        ({"apply": {"enabled": True, "path": "/etc/a\tb.nft"}}, "baremetal.apply.path: '/etc/a\\tb.nft' is not a plain absolute path"),
        ({"apply": {"enabled": True, "path": "/etc/a*.nft"}}, "baremetal.apply.path: '/etc/a*.nft' is not a plain absolute path"),
        ({"outputDir": "it's"}, "baremetal.outputDir: contains a newline or a single quote"),
        ("drop", "baremetal: must be a mapping"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(section: Any, expected: str) -> None:
    assert expected in _problems(section)


def test_apply_needs_one_address_per_machine() -> None:
    cfg = edit_worker_group(example_config(), "mgmt", "md-0", hardwareSelector=None, addresses=["198.51.100.64/28"])
    cfg["baremetal"] = {"apply": {"enabled": True}}
    with pytest.raises(ConfigError) as err:
        parse_settings(parse_topology(cfg, read_file=read_file))
    assert "baremetal.apply.enabled: needs one address per machine, but these are ranges: mgmt workerGroups 198.51.100.64/28" in str(
        err.value
    )
    cfg["baremetal"] = {"apply": {"enabled": False}}
    assert parse_settings(parse_topology(cfg, read_file=read_file)).apply is None


def test_every_problem_at_once() -> None:
    text = _problems({"table": "-", "defaultAction": "allow", "apply": {"enabled": True, "user": "A B"}})
    assert "3 problems" in text
