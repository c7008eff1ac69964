"""Serves VrrpPair as a Pulumi component provider, so stacks in any language can use it:

    pulumi package add /path/to/vrrp-pair/provider
"""

from importlib.metadata import version

import pulumi
from pulumi.provider.experimental import component_provider_host
from vrrp_pair.vrrp_pair import VrrpPair

PACKAGE_NAME = "vrrp-pair"
COMPONENTS: list[type[pulumi.ComponentResource]] = [VrrpPair]

if __name__ == "__main__":
    # the installed package's version (pyproject.toml): the SDK is versioned as it is
    component_provider_host(COMPONENTS, name=PACKAGE_NAME, version=version("vrrp-pair"))
