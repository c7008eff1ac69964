#!/bin/sh
# keepalived isolation check for vrrp-node-2: fails when the subnet's
# gateway 10.10.0.1 does not answer a ping, which puts this node in FAULT.
exec ping -n -q -c 1 -W 1 10.10.0.1 > /dev/null
