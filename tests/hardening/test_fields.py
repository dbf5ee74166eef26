"""The property of issue 13 ("What must exist", first bullet): hostile text in any free-text or address field of any
platform's config, or in any column of the hardware CSV, is either refused with a ConfigError naming the field's
key (one line per problem), or every artefact the real program renders parses in the platform's own grammar and
holds only what the planner makes (tests/hardening/artefacts.py: nft -c and the ruleset interpreter, the NSX
schema, botocore's EC2 model, Nutanix's v4 models, vCenter's one-line text; verify for every platform).

Bounded (a few examples per field, no deadline, no timing): fast enough for `make test`. What hypothesis found is
kept below as explicit regression cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.hardening.attempt import attempt
from tests.hardening.fields import Field, fields
from tests.hardening.hostile import hostile_value

FIELDS = fields()
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    database=None,
)


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardware")


def test_every_platform_has_fields_of_every_kind() -> None:
    by_platform = {f.platform for f in FIELDS}
    assert by_platform == {"baremetal", "vsphere", "snow", "aws-region", "nutanix"}
    assert {f.kind for f in FIELDS} == {"value", "entry", "key", "csv"}
    assert len({f.id for f in FIELDS}) == len(FIELDS)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.id)
def test_hostile_text_is_refused_by_key_or_rendered_only_as_planned(field: Field, csv_dir: Path) -> None:
    @SETTINGS
    @given(value=hostile_value(field.valid()))
    def run(value: object) -> None:
        attempt(field, value, csv_dir)

    run()


@pytest.mark.parametrize("platform", ["baremetal", "vsphere", "snow", "aws-region", "nutanix"])
def test_each_base_plans_cleanly(platform: str, csv_dir: Path) -> None:
    """Without a hostile value, each base is accepted and its plan passes every check (else the property proves nothing)."""
    field = next(f for f in FIELDS if f.platform == platform and f.kind == "value" and f.valid())
    assert attempt(field, field.valid(), csv_dir) == "accepted"
