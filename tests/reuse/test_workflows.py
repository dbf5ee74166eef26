"""The pull-request workflows: what they must do, checks that the JSON schema (make lint) cannot make, and
the stack selection / comment helper they share (.github/scripts/pr_stacks.py)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# Contexts GitHub allows in workflow- and job-level `env` (docs: "Context availability").
ENV_CONTEXTS = {"github", "secrets", "inputs", "vars", "needs", "strategy", "matrix"}
# The inputs of pulumi/actions that these workflows use (all in its action.yml).
PULUMI_ACTION_INPUTS = {"command", "stack-name", "work-dir", "comment-on-pr", "edit-pr-comment", "github-token", "cloud-url",
                        "diff", "policyPacks", "policyPackConfigs", "expect-no-changes", "upsert", "refresh", "secrets-provider"}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads `on:` as True
    return doc


def steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, body in doc["jobs"].items() for step in body.get("steps", [])]


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_three_workflows_exist() -> None:
    assert ALL == ["offline-diff.yml", "preview.yml", "test.yml"]


def test_test_runs_make_test() -> None:
    runs = [s.get("run", "") for _, s in steps(load("test.yml"))]
    assert any(r.strip() == "make test" for r in runs)


def test_preview_uses_the_pulumi_action_with_the_policy_pack_and_comments() -> None:
    doc = load("preview.yml")
    assert doc["permissions"]["pull-requests"] == "write"
    [action] = [s for _, s in steps(doc) if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert action["uses"] == "pulumi/actions@v7"
    w = action["with"]
    assert (w["command"], w["comment-on-pr"], w["diff"], w["policyPacks"]) == ("preview", True, True, "policy/")
    assert "matrix.stack" in w["stack-name"]
    assert set(w) <= PULUMI_ACTION_INPUTS
    runs = "\n".join(s.get("run", "") for _, s in steps(doc))
    assert "pip install" in runs and "requirements.txt" in runs and "policy/requirements.txt" in runs
    # the dependencies are installed before the action runs
    names = [s.get("uses", s.get("run", "")) for _, s in steps(doc) if _ == "preview"]
    assert max(i for i, n in enumerate(names) if "pip install" in n) < names.index("pulumi/actions@v7")


def test_offline_diff_needs_no_credentials_and_comments() -> None:
    doc = load("offline-diff.yml")
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    text = (WORKFLOWS / "offline-diff.yml").read_text(encoding="utf-8")
    assert {e.strip() for e in EXPR.findall(text) if "secrets." in e} == {"secrets.GITHUB_TOKEN"}
    runs = "\n".join(s.get("run", "") for _, s in steps(doc))
    assert "components.cli plan --stack" in runs and "--format json" in runs
    assert "components.cli diff --allow-missing" in runs and "gh pr comment" in runs


@pytest.mark.parametrize("name", ALL)
def test_env_blocks_use_only_contexts_allowed_there(name: str) -> None:
    doc = load(name)
    blocks = [doc.get("env", {})] + [job.get("env", {}) for job in doc["jobs"].values()]
    for block in blocks:
        for value in block.values():
            for expr in EXPR.findall(str(value)):
                contexts = set(re.findall(r"(?<![\w.])([a-z_]+)\.", expr))
                assert contexts <= ENV_CONTEXTS, f"{name}: {expr.strip()} uses {contexts - ENV_CONTEXTS} in an env block"


@pytest.mark.parametrize("name", ALL)
def test_step_and_job_references_exist(name: str) -> None:
    doc = load(name)
    for job_name, job in doc["jobs"].items():
        ids = {s["id"] for s in job.get("steps", []) if "id" in s}
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        text = yaml.safe_dump(job)
        for ref in re.findall(r"steps\.([A-Za-z0-9_-]+)\.", text):
            assert ref in ids, f"{name}/{job_name}: steps.{ref} is not a step id"
        for ref in re.findall(r"needs\.([A-Za-z0-9_-]+)\.", text):
            assert ref in needs and ref in doc["jobs"], f"{name}/{job_name}: needs.{ref}"


@pytest.mark.parametrize("name", ALL)
def test_run_scripts_are_valid_bash(name: str) -> None:
    for job, step in steps(load(name)):
        if "run" not in step:
            continue
        script = EXPR.sub("PLACEHOLDER", step["run"])
        result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False, timeout=30)
        assert result.returncode == 0, f"{name}/{job}: {step.get('name', step['run'][:40])}: {result.stderr}"


@pytest.mark.parametrize("name", ALL)
def test_scripts_the_workflows_call_exist(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    for path in re.findall(r"(\.github/scripts/[\w./-]+)", text):
        assert (ROOT / path).exists(), path


# --- .github/scripts/pr_stacks.py ---------------------------------------------------------------------


def pr_stacks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pr_stacks", ROOT / ".github" / "scripts" / "pr_stacks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEAD = ["stacks/Pulumi.a.yaml", "stacks/Pulumi.b.yaml", "stacks/hardware.csv", "stacks/Pulumi.x-example.yaml"]
BASE = ["stacks/Pulumi.a.yaml", "stacks/Pulumi.gone.yaml", "stacks/Pulumi.x-example.yaml"]


@pytest.mark.parametrize(
    ("changed", "removed", "examples", "expected"),
    [
        (["stacks/Pulumi.b.yaml"], False, False, ["b"]),
        (["stacks/Pulumi.gone.yaml"], False, False, []),
        (["stacks/Pulumi.gone.yaml"], True, True, ["gone"]),
        (["docs/x.md"], True, True, []),
        (["components/flows.py"], False, False, ["a", "b"]),  # the preview: real stacks only
        (["components/flows.py"], True, True, ["a", "b", "gone", "x-example"]),  # the offline diff: examples too
        (["policy/policies.py"], True, True, ["a", "b", "gone", "x-example"]),
        (["stacks/Pulumi.x-example.yaml"], False, False, []),
        (["stacks/Pulumi.x-example.yaml"], True, True, ["x-example"]),
        (["stacks/hardware.csv"], False, False, []),
    ],
)
def test_changed_stacks(changed: list[str], removed: bool, examples: bool, expected: list[str]) -> None:
    assert pr_stacks().select(changed, HEAD, BASE, include_removed=removed, include_examples=examples) == expected


def _pr_stacks_calls(name: str) -> list[str]:
    runs = "\n".join(s.get("run", "") for _, s in steps(load(name)))
    return re.findall(r"pr_stacks\.py changed [^>\n]*", runs)


def test_preview_gets_real_stacks_and_the_offline_diff_gets_examples_too() -> None:
    [preview] = _pr_stacks_calls("preview.yml")
    [diff] = _pr_stacks_calls("offline-diff.yml")
    assert "--no-examples" in preview.split() and "--include-removed" not in preview.split()
    assert "--no-examples" not in diff.split() and "--include-removed" in diff.split()


def test_the_example_stacks_here_are_never_previewed() -> None:
    """Every stack file this repository ships is an example: the preview of a PR that changes the program gets none."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert files and all(pr_stacks().is_example(s) for s in pr_stacks().stacks_in(files))
    assert pr_stacks().select(["components/flows.py"], files, files, include_removed=False, include_examples=False) == []


def test_the_changed_command_reads_git_and_its_flags(tmp_path: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # fmt: skip

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.snow-example.yaml").write_text("config: {}\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    base = git("rev-parse", "HEAD")
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    git("add", ".")
    git("commit", "-q", "-m", "head")
    script = str(ROOT / ".github" / "scripts" / "pr_stacks.py")

    def changed(*flags: str) -> str:
        done = subprocess.run(["python3", script, "changed", base, *flags], cwd=tmp_path, env=env, check=True, capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        return done.stdout.strip()

    assert changed("--no-examples") == 'stacks=["prod"]'
    assert changed("--include-removed") == 'stacks=["prod", "snow-example"]'


def test_the_comment_has_its_marker_and_stays_under_githubs_limit() -> None:
    m = pr_stacks()
    text = m.compose(["## a", "x" * 70_000])
    assert text.startswith(m.MARKER) and len(text) < 65_536 and "cut" in text
    assert "No stack is affected" in m.compose([])
