"""Our openstack provider build serves the tokens and property names the pinned
pulumi_openstack Python SDK sends, for everything the component uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labs.toolchain import PLUGINS, TOOLS

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_HOME = TOOLS / "home"


def _provider() -> Path:
    version = PLUGINS["openstack"]
    found = sorted(PLUGIN_HOME.glob(f"plugins/resource-openstack-v{version}/"
                                    "pulumi-resource-openstack"))
    assert found, f"no openstack {version} plugin under {PLUGIN_HOME}: run toolchain/build"
    return found[0]


def test_schema_matches_the_python_sdk(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    with schema.open("w") as out:
        subprocess.run([str(_provider()), "-dump-schema"], stdout=out, check=True, timeout=120)
    result = subprocess.run(
        [sys.executable, str(ROOT / "toolchain/providers/openstack/check-sdk-names.py"),
         str(schema)],
        capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok for the tokens the component uses" in result.stdout


def test_provider_reports_the_pinned_version() -> None:
    out = subprocess.run([str(_provider()), "-version"], capture_output=True, text=True,
                         check=True, timeout=60)
    assert PLUGINS["openstack"] in out.stdout + out.stderr
