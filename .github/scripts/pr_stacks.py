"""Which stacks a pull request touches, and the offline diff comment for them (used by the PR workflows).

    python3 .github/scripts/pr_stacks.py changed BASE_SHA [--include-removed] [--no-examples]
                                                                -> stacks=<JSON list> (for $GITHUB_OUTPUT)
    python3 .github/scripts/pr_stacks.py comment BASE_DIR OUT_DIR STACK...     -> the Markdown comment on stdout

A stack is touched when its stack file changed, or when anything the program runs changed (then every stack).
A stack whose name ends in `-example` (stacks/Pulumi.<name>-example.yaml) is documentation: fake endpoints, no
secrets, no stack in any backend. The offline diff covers it; `pulumi preview` never gets it (--no-examples).
Standard library only, so it runs before any dependency is installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

STACK_FILE = re.compile(r"^stacks/Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.ya?ml$")
EXAMPLE_SUFFIX = "-example"
# Paths whose change can change every stack's plan or preview.
PROGRAM_PATHS = ("components/", "__main__.py", "Pulumi.yaml", "requirements.txt", "policy/")
MARKER = "<!-- eksa-firewall offline diff -->"
COMMENT_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters


def stacks_in(names: Iterable[str]) -> set[str]:
    return {m["stack"] for n in names if (m := STACK_FILE.match(n))}


def is_example(stack: str) -> bool:
    return stack.endswith(EXAMPLE_SUFFIX)


def select(
    changed: Sequence[str], head_files: Sequence[str], base_files: Sequence[str], *, include_removed: bool, include_examples: bool = True
) -> list[str]:
    """The stacks to diff (``include_removed``: base or head, examples too) or to preview (head only, no examples)."""
    head, base = stacks_in(head_files), stacks_in(base_files)
    program_changed = any(c.startswith(PROGRAM_PATHS) for c in changed)
    touched = head | base if program_changed else stacks_in(changed)
    return sorted(s for s in touched & (head | base if include_removed else head) if include_examples or not is_example(s))


def _git(*args: str) -> list[str]:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.split()


def changed_main(base_sha: str, include_removed: bool, include_examples: bool) -> None:
    changed = _git("diff", "--name-only", f"{base_sha}...HEAD")
    head_files = _git("ls-tree", "-r", "--name-only", "HEAD", "stacks/")
    base_files = _git("ls-tree", "-r", "--name-only", base_sha, "stacks/")
    stacks = select(changed, head_files, base_files, include_removed=include_removed, include_examples=include_examples)
    print(f"stacks={json.dumps(stacks)}")


def compose(sections: Sequence[str], *, limit: int = COMMENT_LIMIT) -> str:
    """One comment for every stack's diff, under the marker that lets the workflow update it in place."""
    body = "\n\n".join(sections) if sections else "No stack is affected by this pull request."
    if len(body) > limit:
        body = body[:limit] + "\n\n…(cut: the full diff is in the workflow run's artifacts)"
    return f"{MARKER}\n{body}\n"


def comment_main(out_dir: Path, stacks: Sequence[str]) -> None:
    sections = []
    for stack in stacks:
        path = out_dir / f"{stack}.md"
        sections.append(
            path.read_text(encoding="utf-8")
            if path.exists()
            else f"## eksa-firewall diff: `{stack}`\n\nNo plan could be made: see the workflow log."
        )
    sys.stdout.write(compose(sections))


if __name__ == "__main__":
    if sys.argv[1] == "changed":
        changed_main(sys.argv[2], "--include-removed" in sys.argv[3:], "--no-examples" not in sys.argv[3:])
    elif sys.argv[1] == "comment":
        comment_main(Path(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
