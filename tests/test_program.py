"""The stack program: the only reader of stack config."""

from __future__ import annotations

import json

import pytest

from components.engine import run_program
from components.errors import ConfigError
from components.stackfile import load_project
from tests.helpers import PROJECT, PROJECT_DIR, example_args, plan_config


def test_a_secret_key_in_plain_text_is_refused_with_the_command_to_fix_it() -> None:
    config = example_args("vsphere-example")
    config["nsxPassword"] = "hunter2"  # written by hand into the stack file, not with --secret
    with pytest.raises(ConfigError) as error:
        plan_config(config)
    (problem,) = error.value.problems
    assert problem.key == "eksa-firewall:nsxPassword"
    assert "plain text" in problem.message and "pulumi config set --secret nsxPassword" in problem.fix
    assert plan_config(example_args("vsphere-example"), secrets={"nsxPassword": "hunter2"}).run.resources  # as a secret: fine


def test_a_misspelt_project_namespace_is_refused_under_pulumi_up_too() -> None:
    """`pulumi up` hands the program every key of the stack file: one of ours under a misspelt namespace would be
    ignored silently (the command line's reader catches it earlier; this is the program's own check)."""
    project = load_project(PROJECT_DIR)
    values = {**project.defaults, **example_args("vsphere-example")}
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    config["eksa-firewal:clients"] = json.dumps({"ssh": ["10.0.0.0/24"]})
    config["aws:region"] = "us-west-2"  # a provider's namespace: left alone
    secrets = {f"{PROJECT}:nsxPassword": "hunter2"}
    with pytest.raises(ConfigError) as error:
        run_program(project.program, project=PROJECT, stack="t", config={**config, **secrets}, secret_keys=list(secrets))
    (problem,) = error.value.problems
    assert problem.key == "eksa-firewal:clients"
    assert "did you mean eksa-firewall:clients?" in problem.fix
