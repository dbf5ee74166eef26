"""One resource as a program registered it: what ``plan`` prints and what the interpreters read.

Plain data, no Pulumi: the interpreters and ``verify`` read registrations without loading the Pulumi SDK.
``components.engine`` records them while it runs the program under Pulumi's mock engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SECRET = "[secret]"  # what a secret value looks like offline: in config, plan inputs and outputs


@dataclass(frozen=True, kw_only=True, slots=True)
class Registration:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    id: str | None
    parent: str | None
    custom: bool
    provider: str | None
    inputs: Mapping[str, Any]  # engine property names; secrets are "[secret]"

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "parent": self.parent,
            "inputs": dict(self.inputs),
        }
