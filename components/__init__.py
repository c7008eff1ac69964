"""vrrp-pair: a highly available virtual IP on OpenStack, served by keepalived."""

from .settings import VrrpPairConfigError
from .vrrp_pair import VrrpPair, VrrpPairArgs

__all__ = ["VrrpPair", "VrrpPairArgs", "VrrpPairConfigError"]
