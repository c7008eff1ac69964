#!/bin/sh
# keepalived's one health check for vrrp-node-1: any failure puts this node in
# FAULT, so the VIP moves. One script runs every check because keepalived 2.2.7
# (Debian 12) can keep a member in FAULT for good when an instance tracks two
# scripts (keepalived.conf says how).

# Isolation first: a master cut off from the subnet's gateway (its port disabled)
# gives up the VIP, so it comes back as BACKUP instead of winning the VIP back by
# priority. One retry: a single lost ping is not a failover.
/etc/keepalived/check-gateway.sh || /etc/keepalived/check-gateway.sh || exit 1

exec /etc/keepalived/check-web.sh
