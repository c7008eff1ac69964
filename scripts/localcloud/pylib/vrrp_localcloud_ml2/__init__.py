"""ML2 mechanism driver for the vrrp-pair local cloud (scripts/local-cloud).

There is no L2 agent in the local cloud, so no in-tree mechanism driver would
bind a port to a (fake) Nova compute host.  This driver binds every port that
asks for a host to the first offered segment with vif_type ``ovs`` and sets
the port status from ``admin_state_up``, so Nova's fake compute driver can
bring servers to ACTIVE.  It must never be used outside that local cloud.
"""
