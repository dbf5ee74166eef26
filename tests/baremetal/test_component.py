"""The component under Pulumi's mock engine: what it registers, what it exports, what never leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.baremetal.acl import acl_flows, to_csv
from components.baremetal.interpret import RULESET_TYPE
from components.engine import SECRET, run_program
from components.errors import ConfigError
from tests.baremetal.common import FAKE_BMC_PASSWORDS, example_config, plan, plan_example, registered_rulesets
from tests.helpers import PROJECT, PROJECT_DIR


def test_example_registrations() -> None:
    p = plan_example()
    got = sorted((r.type, r.name, next((x.name for x in p.run.resources if x.urn == r.parent), None)) for r in p.run.resources)
    assert got == sorted(
        [
            ("eksa-firewall:index:BareMetalFirewall", "eksa", None),
            (RULESET_TYPE, "eksa-admin-machine", "eksa"),
            (RULESET_TYPE, "eksa-mgmt-control-plane", "eksa"),
            (RULESET_TYPE, "eksa-mgmt-worker", "eksa"),
            ("command:local:Command", "eksa-admin-machine-file", "eksa-admin-machine"),
            ("command:local:Command", "eksa-mgmt-control-plane-file", "eksa-mgmt-control-plane"),
            ("command:local:Command", "eksa-mgmt-worker-file", "eksa-mgmt-worker"),
        ]
    )
    files = {r.name: r.inputs for r in p.run.resources if r.type == "command:local:Command"}
    assert files["eksa-mgmt-worker-file"]["create"] == "mkdir -p build/baremetal-example && cat > build/baremetal-example/mgmt-worker.nft"
    assert files["eksa-mgmt-worker-file"]["delete"] == "rm -f build/baremetal-example/mgmt-worker.nft"
    assert files["eksa-mgmt-worker-file"]["stdin"] == registered_rulesets(p)["mgmt/worker"]


def test_example_outputs() -> None:
    p = plan_example()
    out = p.run.outputs
    assert out["platform"] == "baremetal" and out["nftablesTable"] == "inet eksa_firewall"
    assert out["nftablesRulesets"] == registered_rulesets(p)
    assert out["nftablesFiles"] == {
        "admin-machine": "build/baremetal-example/admin-machine.nft",
        "mgmt/control-plane": "build/baremetal-example/mgmt-control-plane.nft",
        "mgmt/worker": "build/baremetal-example/mgmt-worker.nft",
    }
    assert out["nftablesDefaultPolicy"].startswith("input: drop")
    assert not any(k.startswith("acl") for k in out), "the ACL is a report (eksa-firewall acl), not state"


def test_without_output_dir_nothing_is_written() -> None:
    cfg = example_config()
    del cfg["baremetal"]
    p = plan(cfg)
    assert not [r for r in p.run.resources if r.type.startswith("command:")]
    assert p.run.outputs["nftablesFiles"] == {}
    assert sorted(p.run.outputs["nftablesRulesets"]) == ["admin-machine", "mgmt/control-plane", "mgmt/worker"]


def test_apply_registers_one_remote_command_per_machine() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"apply": {"enabled": True, "user": "ubuntu"}}
    p = plan(cfg)
    remote = {r.name: r for r in p.run.resources if r.type == "command:remote:Command"}
    assert sorted(remote) == [
        "eksa-admin-machine-198-51-100-5",
        "eksa-mgmt-control-plane-198-51-100-11",
        "eksa-mgmt-control-plane-198-51-100-12",
        "eksa-mgmt-control-plane-198-51-100-13",
        "eksa-mgmt-worker-198-51-100-21",
        "eksa-mgmt-worker-198-51-100-22",
    ]
    one = remote["eksa-mgmt-worker-198-51-100-21"].inputs
    assert one["stdin"] == registered_rulesets(p)["mgmt/worker"]
    assert one["connection"] == SECRET  # pulumi-command keeps the connection (and any key) secret
    assert one["create"] == one["update"]
    assert 'sudo -n nft -c -f "$tmp"' in one["create"] and "sudo -n nft -f /etc/eksa-firewall/eksa_firewall.nft" in one["create"]
    assert one["create"].index("nft -c") < one["create"].index("install -m 0600")  # a broken ruleset never replaces a working one
    assert "delete table inet eksa_firewall" in one["delete"] and "flush" not in one["delete"]


def test_the_ssh_private_key_secret_never_appears() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"apply": {"enabled": True}}
    key = "-----BEGIN OPENSSH PRIVATE KEY-----FAKEKEY123-----END OPENSSH PRIVATE KEY-----"
    engine = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in cfg.items()}
    secret = f"{PROJECT}:sshPrivateKey"
    run = run_program(PROJECT_DIR / "__main__.py", project=PROJECT, stack="t", config={**engine, secret: key}, secret_keys=[secret])
    assert "FAKEKEY123" not in json.dumps([r.to_json() for r in run.resources]) + json.dumps(run.outputs)
    remote = [r for r in run.resources if r.type == "command:remote:Command"]
    assert remote and all(r.inputs["connection"] == SECRET for r in remote)


def test_the_old_private_key_setting_is_refused_with_the_new_key_named() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"apply": {"enabled": True, "privateKeyConfig": "ssh:privateKey"}}
    with pytest.raises(ConfigError, match=r"baremetal.apply.privateKeyConfig: is replaced by the secret key sshPrivateKey"):
        plan(cfg)


def test_bad_settings_stop_the_program_before_any_registration() -> None:
    cfg = example_config()
    cfg["baremetal"] = {"table": "no good"}
    with pytest.raises(ConfigError, match=r"eksa-firewall:baremetal\.table"):
        plan(cfg)


def test_bmc_credentials_never_reach_registrations_or_outputs() -> None:
    csv_text = (PROJECT_DIR / "stacks" / "hardware-example.csv").read_text(encoding="utf-8")
    assert all(p in csv_text for p in FAKE_BMC_PASSWORDS)  # the sample CSV does carry (fake) credentials
    cfg = example_config()
    cfg["baremetal"] = {**cfg["baremetal"], "apply": {"enabled": True}}
    for planned in (plan_example(), plan(cfg)):
        assert "203.0.113.11/32" in {str(b.address) for b in planned.topology.endpoints.bmcs}  # the BMC addresses are read
        acl = to_csv(acl_flows(planned.topology, planned.flows))
        assert "203.0.113.11/32" in acl  # ... and exported (Rufio flows)
        everything = (
            json.dumps([r.to_json() for r in planned.run.resources]) + json.dumps(planned.run.outputs) + acl + repr(planned.topology)
        )
        for secret in (*FAKE_BMC_PASSWORDS, "bmc_password", "bmc_username"):
            assert secret not in everything


def test_names_do_not_depend_on_list_order() -> None:
    cfg = example_config()
    cfg["clients"]["api"] = ["203.0.113.128/26", "203.0.113.64/26"]
    a = {r.name for r in plan(cfg).run.resources}
    cfg["clients"]["api"].reverse()
    assert a == {r.name for r in plan(cfg).run.resources}


def test_plan_and_verify_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from components.cli import main

    assert main(["plan", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["type"] for r in doc["resources"]} >= {RULESET_TYPE, "command:local:Command"}
    assert main(["verify", "--stack", "baremetal-example", "--project-dir", str(PROJECT_DIR)]) == 0
    assert "OK: the rendered objects allow exactly the required flows" in capsys.readouterr().out


def test_example_stack_file_is_documented_in_the_guide() -> None:
    guide = (PROJECT_DIR / "docs" / "platforms" / "baremetal.md").read_text(encoding="utf-8")
    from components.baremetal.settings import APPLY_KEYS, KEYS

    for key in (*KEYS, *(f"apply.{k}" for k in APPLY_KEYS)):
        assert f"`{key}`" in guide, key
    assert Path(PROJECT_DIR / "stacks" / "Pulumi.baremetal-example.yaml").exists()
