"""``settled``: a component's output as one Output over every Output inside it, with the value, secrecy and
dependencies ``Output.from_input`` would give, and stack outputs recorded without wrapping what is inside them."""

from __future__ import annotations

from pathlib import Path

from components.engine import SECRET, run_program

PROGRAM = """
import pulumi
from components.component import settled

class Box(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("test:index:Box", name, None)
        self.register_outputs({})

box = Box("box")
ids = {"prod": {"worker": pulumi.Output.from_input("sg-1"), "etcd": [pulumi.Output.from_input("sg-2"), "plain"]}, "n": 3}
pulumi.export("ids", settled(ids))
pulumi.export("plain", settled({"a": ["b"]}))
pulumi.export("secret", settled({"k": pulumi.Output.secret("hidden"), "v": pulumi.Output.from_input("open")}))
out = pulumi.Output.from_input("as-is")
pulumi.export("same", settled(out))
pulumi.export("identity", pulumi.Output.from_input(settled(out) is out))
"""


def test_settled_outputs_read_as_from_input_would(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM, encoding="utf-8")
    run = run_program(program, project="settled", stack="dev", config={}, secret_keys=[])
    assert run.outputs["ids"] == {"prod": {"worker": "sg-1", "etcd": ["sg-2", "plain"]}, "n": 3}
    assert run.outputs["plain"] == {"a": ["b"]}
    assert run.outputs["secret"] == SECRET  # one secret inside makes the whole output secret, as from_input does
    assert "hidden" not in repr(run)
    assert run.outputs["same"] == "as-is" and run.outputs["identity"] is True
