#!/usr/bin/env python3
"""Compare the schema of our pulumi-resource-openstack with the pulumi_openstack Python SDK.

Usage: check-sdk-names.py SCHEMA_JSON [SITE_PACKAGES_DIR]
       (SCHEMA_JSON from `pulumi-resource-openstack -dump-schema`)

For every resource token and function token in the SDK, checks the token exists in the schema and
that the property names the SDK sends/reads (wire names from @pulumi.getter and __args__) match
the schema's. Prints mismatches; exits 1 if a token is missing or a name differs for a resource
or function listed in MUST (those the vrrp-pair component uses), else 0.
"""
import glob
import json
import os
import re
import sys
from pathlib import Path

MUST = {
    "openstack:networking/network:Network", "openstack:networking/subnet:Subnet",
    "openstack:networking/router:Router", "openstack:networking/routerInterface:RouterInterface",
    "openstack:networking/port:Port", "openstack:networking/floatingIp:FloatingIp",
    "openstack:networking/floatingIpAssociate:FloatingIpAssociate",
    "openstack:networking/secGroup:SecGroup", "openstack:networking/secGroupRule:SecGroupRule",
    "openstack:compute/instance:Instance", "openstack:compute/serverGroup:ServerGroup",
    "openstack:compute/keypair:Keypair", "openstack:networking/getNetwork:getNetwork",
    "openstack:networking/getSubnet:getSubnet", "openstack:images/getImage:getImage",
    "openstack:compute/getFlavor:getFlavor", "openstack:networking/getPort:getPort",
}

schema = json.loads(Path(sys.argv[1]).read_text())
site = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "../../../.venv/lib/python3.11/site-packages")
root = os.path.join(site, "pulumi_openstack")

def camel_getters(src):
    out = {}
    getter = r"@pulumi\.getter(?:\(name=\"(\w+)\"\))?\s+(?:@[^\n]*\n\s*)*def (\w+)\("
    for m in re.finditer(getter, src):
        out[m.group(2)] = m.group(1) or m.group(2)
    return out

problems, fatal = [], False
for f in sorted(glob.glob(root + "/**/*.py", recursive=True)):
    src = Path(f).read_text(encoding="utf-8")
    getters = camel_getters(src)
    for m in re.finditer(r"super\(\w+, __self__\)\.__init__\(\s*'(openstack:[^']+)'", src):
        tok = m.group(1)
        res = schema.get("resources", {}).get(tok)
        if res is None:
            problems.append(f"missing resource {tok}")
            fatal |= tok in MUST
            continue
        # property names of the state (the `get` method lists all of them)
        getm = re.search(r"def get\(resource_name.*?return \w+\(resource_name", src, re.S)
        snake = (set(re.findall(r'__props__\.__dict__\["(\w+)"\]', getm.group(0)))
                 if getm else set())
        want = {getters.get(s, s) for s in snake}
        have = set(res.get("properties", {}))
        if want != have:
            problems.append(f"{tok}: sdk-only {sorted(want - have)} "
                            f"schema-only {sorted(have - want)}")
            fatal |= tok in MUST
        # secret outputs the SDK asks for vs schema secrets
        sec = re.search(r"additional_secret_outputs=\[([^\]]*)\]", src)
        if sec:
            for s in re.findall(r'"(\w+)"', sec.group(1)):
                p = res.get("properties", {}).get(s)
                if p is not None and not p.get("secret"):
                    problems.append(f"{tok}: {s} secret in SDK, not in schema")
    for m in re.finditer(r"pulumi\.runtime\.invoke\(\s*'(openstack:[^']+)'", src):
        tok = m.group(1)
        fn = schema.get("functions", {}).get(tok)
        if fn is None:
            problems.append(f"missing function {tok}")
            fatal |= tok in MUST
            continue
        args = set(re.findall(r"__args__\['(\w+)'\]", src))
        # SDKv2 data sources have an implicit optional `id` input over the plugin protocol; an extra
        # optional input the SDK never sends is harmless, so it is not counted.
        have_in = set(fn.get("inputs", {}).get("properties", {})) - ({"id"} - args)
        if args != have_in:
            problems.append(f"{tok} inputs: sdk-only {sorted(args - have_in)} "
                            f"schema-only {sorted(have_in - args)}")
            fatal |= tok in MUST
        rescls = re.search(r"class (\w+Result):.*?(?=\nclass |\Z)", src, re.S)
        if rescls:
            want = set(camel_getters(rescls.group(0)).values())
            have = set(fn.get("outputs", {}).get("properties", {}))
            if want != have:
                problems.append(f"{tok} outputs: sdk-only {sorted(want - have)} "
                                f"schema-only {sorted(have - want)}")
                fatal |= tok in MUST
for p in problems:
    print(p)
print(f"{len(problems)} differences; {'FAIL' if fatal else 'ok'} for the tokens the component uses")
sys.exit(1 if fatal else 0)
