"""The copyable CI preview pipeline is valid GitHub Actions, checked by actionlint."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"


def _actionlint() -> str:
    path = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    assert path, "actionlint missing: scripts/test builds it from the Go module proxy"
    return path


def test_actionlint_accepts_the_preview_workflow() -> None:
    result = subprocess.run([_actionlint(), str(WORKFLOW)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "preview.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("steps.preview.outputs.status",
                                                   "steps.previeww.outputs.status"))
    result = subprocess.run([_actionlint(), str(broken)], capture_output=True, text=True,
                            check=False)
    assert result.returncode != 0
    assert "previeww" in result.stdout


def test_workflow_previews_with_the_policy_pack_and_comments() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "pull_request" in workflow[True]  # YAML reads the `on:` key as True
    steps = workflow["jobs"]["preview"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "pulumi preview" in scripts and "--policy-pack policy" in scripts
    assert "gh pr comment" in scripts
    assert workflow["permissions"]["pull-requests"] == "write"
