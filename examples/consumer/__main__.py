"""Two highly available addresses on one network this stack already has.

The component comes from the installed package (`pip install vrrp-pair`), not from a copy
of its source: `vrrp_pair.VrrpPair` takes the same settings as the vrrp-pair project's
config, in snake_case (`VrrpPairArgs`). Settings shared by both pairs are in `shared`, each
pair's own in `pairs` (Pulumi.shared.yaml is an example).
"""

from typing import Any, cast

import pulumi
from vrrp_pair import VrrpPair, VrrpPairArgs

config = pulumi.Config()
shared: dict[str, Any] = config.require_object("shared")
own: dict[str, dict[str, Any]] = config.require_object("pairs")

pairs = {name: VrrpPair(name, cast(VrrpPairArgs, {**shared, **settings}))
         for name, settings in own.items()}

pulumi.export("vipAddresses", {name: pair.vip_address for name, pair in pairs.items()})
pulumi.export("floatingIps", {name: pair.floating_ip_address for name, pair in pairs.items()})
