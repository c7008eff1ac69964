#!/usr/bin/env python3
"""Regenerate sdk-tokens.txt from an installed pulumi_openstack Python SDK.

Usage: extract-sdk-tokens.py [SITE_PACKAGES_DIR] > sdk-tokens.txt

The provider names each bridged Terraform resource/data source with the token the SDK uses, so the
list must come from the SDK version the provider claims to be (5.5.3).
"""
import glob
import os
import re
import sys
from pathlib import Path

site = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "../../../.venv/lib/python3.11/site-packages")
root = os.path.join(site, "pulumi_openstack")
toks = set()
for f in glob.glob(root + "/**/*.py", recursive=True):
    s = Path(f).read_text(encoding="utf-8")
    for m in re.finditer(r"super\(\w+, __self__\)\.__init__\(\s*'(openstack:[^']+)'", s):
        toks.add(("resource", m.group(1)))
    for m in re.finditer(r"pulumi\.runtime\.invoke(?:_output)?\(\s*'(openstack:[^']+)'", s):
        toks.add(("function", m.group(1)))
ver = "?"
try:
    import json
    ver = json.loads(Path(root, "pulumi-plugin.json").read_text())["version"]
except Exception:
    pass
print(f"# Resource and function tokens of the pulumi_openstack {ver} Python SDK, extracted "
      "from the")
print("# installed package by extract-sdk-tokens.py. main.go names each bridged Terraform "
      "resource and")
print("# data source with the token from this list (see tokens.go).")
for kind, tok in sorted(toks):
    print(kind, tok)
