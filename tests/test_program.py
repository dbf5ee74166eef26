"""The stack program: the only reader of stack config."""

from __future__ import annotations

import pytest

from components.errors import ConfigError
from tests.helpers import example_args, plan_config


def test_a_secret_key_in_plain_text_is_refused_with_the_command_to_fix_it() -> None:
    config = example_args("vsphere-example")
    config["nsxPassword"] = "hunter2"  # written by hand into the stack file, not with --secret
    with pytest.raises(ConfigError) as error:
        plan_config(config)
    (problem,) = error.value.problems
    assert problem.key == "eksa-firewall:nsxPassword"
    assert "plain text" in problem.message and "pulumi config set --secret nsxPassword" in problem.fix
    assert plan_config(example_args("vsphere-example"), secrets={"nsxPassword": "hunter2"}).run.resources  # as a secret: fine
