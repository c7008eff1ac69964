"""A deliberately unsafe VRRP setup: every policy in policy/ must flag something here.

tests/engine/test_dev_stack_preview.py previews it (offline) with the policy pack and expects
the preview to fail with each policy's name in the output. Never deploy it.
"""

import pulumi_openstack as openstack

NETWORK_ID = "0a1b2c3d-0000-4000-8000-00000000000a"
SUBNET_ID = "0a1b2c3d-0000-4000-8000-00000000000b"

group = openstack.networking.SecGroup("bad-members", name="bad-members")

# vrrp-ingress-from-remote-group: VRRP (IP protocol 112) from anywhere, not from the group.
openstack.networking.SecGroupRule(
    "bad-vrrp-in", direction="ingress", ethertype="IPv4", protocol="112",
    remote_ip_prefix="0.0.0.0/0", security_group_id=group.id)

# no-world-ssh-or-http: SSH from 0.0.0.0/0 (only port 80 is allowed by dev-config.json).
openstack.networking.SecGroupRule(
    "bad-ssh-in", direction="ingress", ethertype="IPv4", protocol="tcp",
    port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
    security_group_id=group.id)

# The VIP port (unbound, no pairs): 10.10.0.200.
openstack.networking.Port(
    "bad-vip", name="bad-vip", network_id=NETWORK_ID,
    fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=SUBNET_ID,
                                                    ip_address="10.10.0.200")])

# member-port-security + address-pairs-single-host: the whole /24 as an allowed pair, and
# port security off.
member = openstack.networking.Port(
    "bad-node-1-port", name="bad-node-1-port", network_id=NETWORK_ID,
    port_security_enabled=False,
    fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=SUBNET_ID,
                                                    ip_address="10.10.0.4")],
    allowed_address_pairs=[openstack.networking.PortAllowedAddressPairArgs(
        ip_address="10.10.0.0/24")])

# address-pairs-match-vip-port: a /32 pair that is no VIP port's address.
openstack.networking.Port(
    "bad-node-2-port", name="bad-node-2-port", network_id=NETWORK_ID,
    port_security_enabled=True, security_group_ids=[group.id],
    fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=SUBNET_ID,
                                                    ip_address="10.10.0.5")],
    allowed_address_pairs=[openstack.networking.PortAllowedAddressPairArgs(
        ip_address="10.10.0.99/32")])

# members-anti-affine: a VRRP member (vrrp-pair metadata) with no server group.
openstack.compute.Instance(
    "bad-node-1", name="bad-node-1", image_name="debian-12", flavor_name="m1.small",
    networks=[openstack.compute.InstanceNetworkArgs(port=member.id)],
    metadata={"vrrp-pair": "bad", "vrrp-priority": "100"})
