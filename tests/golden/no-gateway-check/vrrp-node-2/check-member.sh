#!/bin/sh
# keepalived's one health check for vrrp-node-2: any failure puts this node in
# FAULT, so the VIP moves. One script runs every check because keepalived 2.2.7
# (Debian 12) can keep a member in FAULT for good when an instance tracks two
# scripts (keepalived.conf says how).

exec /etc/keepalived/check-web.sh
