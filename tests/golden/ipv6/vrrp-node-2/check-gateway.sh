#!/bin/sh
# keepalived isolation check for vrrp-node-2: fails when the subnet's
# gateway fd00:10::1 does not answer a ping, which puts this node in FAULT.
exec ping -n -q -c 1 -W 1 fd00:10::1 > /dev/null
