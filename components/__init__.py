"""vrrp-pair: a highly available virtual IP on OpenStack, served by keepalived."""

from typing import TYPE_CHECKING, Any

from .settings import VrrpPairConfigError

if TYPE_CHECKING:
    from .vrrp_pair import VrrpPair, VrrpPairArgs

__all__ = ["VrrpPair", "VrrpPairArgs", "VrrpPairConfigError"]


def __getattr__(name: str) -> Any:
    """VrrpPair imports Pulumi: it loads on first use, so `python -m
    vrrp_pair.failover_check` (the drill and its guardian) starts without it."""
    if name in ("VrrpPair", "VrrpPairArgs"):
        from . import vrrp_pair

        return getattr(vrrp_pair, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
