"""The workflows: this repository's own checks, and the preview pipeline users copy.

Both are valid GitHub Actions (actionlint). The repository's workflow runs on pull requests
where no secrets exist, so it uses none and runs only what `.ci/run` runs too; the
copyable example previews with the policy pack and comments on the pull request.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / ".github" / "workflows" / "checks.yml"
EXAMPLE = ROOT / "examples" / "github-actions" / "pulumi-preview.yml"
SCRIPTS_TEST = (ROOT / "scripts" / "test").read_text()


def _actionlint() -> str:
    path = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    assert path, "actionlint missing: scripts/test builds it from the Go module proxy"
    return path


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_actionlint(), str(path)], capture_output=True, text=True,
                          check=False)


def _load(path: Path) -> dict[Any, Any]:
    return dict(yaml.safe_load(path.read_text()))


def test_only_the_repository_checks_run_here() -> None:
    assert sorted(p.name for p in (ROOT / ".github" / "workflows").iterdir()) == ["checks.yml"]


def test_actionlint_accepts_both_workflows() -> None:
    for path in (CHECKS, EXAMPLE):
        result = _lint(path)
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def test_actionlint_rejects_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "preview.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(EXAMPLE.read_text().replace("steps.preview.outputs.status",
                                                  "steps.previeww.outputs.status"))
    result = _lint(broken)
    assert result.returncode != 0
    assert "previeww" in result.stdout


def test_repository_checks_need_no_secrets_and_run_what_ci_runs() -> None:
    assert "secrets." not in CHECKS.read_text()
    workflow = _load(CHECKS)
    assert set(workflow[True]) == {"pull_request"}  # YAML reads the `on:` key as True
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
            if "run" in step]
    assert "bash scripts/test --quick" in runs
    assert "--quick" in SCRIPTS_TEST
    preview = next(run for run in runs if "pytest" in run)
    test_file = preview.split("pytest", 1)[1].split()[-1]
    assert (ROOT / test_file).is_file(), test_file
    assert "bash toolchain/build" in preview and "bash toolchain/build" in SCRIPTS_TEST


def test_example_previews_with_the_policy_pack_and_comments() -> None:
    workflow = _load(EXAMPLE)
    assert "pull_request" in workflow[True]
    steps = workflow["jobs"]["preview"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "pulumi preview" in scripts and "--policy-pack policy" in scripts
    assert "gh pr comment" in scripts
    assert workflow["permissions"]["pull-requests"] == "write"


def _shell_scripts() -> set[str]:
    """Every tracked shell script: a sh/bash shebang or a .sh name (templates excluded)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    scripts = set()
    for name in tracked:
        path = ROOT / name
        if name.endswith(".j2") or not path.is_file() or path.is_symlink():
            continue  # a link (scripts/local-cloud) is checked as the file it names
        with path.open("rb") as file:
            first = file.readline()
        if name.endswith(".sh") or re.match(rb"#!\S*(/env )?\S*\b(ba)?sh\b", first):
            scripts.add(name)
    return scripts


def test_shellcheck_covers_every_shell_script() -> None:
    stage = SCRIPTS_TEST[SCRIPTS_TEST.index('log "shellcheck"'):]
    stage = stage[:stage.index("\nlog ")]
    checked = set(re.findall(r"[\w./*-]+", stage))
    scripts = _shell_scripts()
    assert len(scripts) > 20 and "scripts/localcloud/local-cloud" in scripts, sorted(scripts)
    missed = {s for s in scripts
              if s not in checked and not any(fnmatch.fnmatch(s, g) for g in checked)
              and s != "scripts/localcloud/dataplane.sh"}  # sourced by local-cloud
    assert missed == set(), "add these to scripts/test's shellcheck stage: " + " ".join(
        sorted(missed))
