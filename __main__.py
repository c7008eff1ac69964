"""The dev program: one VrrpPair built from this stack's configuration."""

from __future__ import annotations

import pulumi
from vrrp_pair import VrrpPair
from vrrp_pair.stack_config import pair_name, read_args

config = pulumi.Config()
pair = VrrpPair(pair_name(config), read_args(config))

pulumi.export("vipAddress", pair.vip_address)
pulumi.export("floatingIpAddress", pair.floating_ip_address)
pulumi.export("memberNames", pair.member_names)
pulumi.export("memberIps", pair.member_ips)
pulumi.export("memberPortIds", pair.member_port_ids)
pulumi.export("instanceIds", pair.instance_ids)
pulumi.export("vrid", pair.vrid)
pulumi.export("securityGroupId", pair.security_group_id)
pulumi.export("vipPortId", pair.vip_port_id)
pulumi.export("networkId", pair.network_id)
pulumi.export("subnetId", pair.subnet_id)
pulumi.export("smokeCheck", pair.smoke_check)
pulumi.export("failoverDowntimeSeconds", pair.failover_downtime_seconds)
pulumi.export("failoverNewMaster", pair.failover_new_master)
