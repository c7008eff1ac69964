"""Serves VrrpPair as a Pulumi component provider, so stacks in any language can use it:

    pulumi package add /path/to/vrrp-pair/provider
"""

from pulumi.provider.experimental import component_provider_host
from vrrp_pair.vrrp_pair import VrrpPair

if __name__ == "__main__":
    component_provider_host([VrrpPair], name="vrrp-pair", version="0.1.0")
