"""The vrrp-pair policy pack: `pulumi preview --policy-pack policy`."""

from pulumi_policy import PolicyPack
from vrrp_policies import policies

PolicyPack(name="vrrp-pair", policies=policies())
