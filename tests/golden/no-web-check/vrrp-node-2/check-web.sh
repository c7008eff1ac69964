#!/bin/sh
# keepalived health check for vrrp-node-2: fails when the local web
# server does not answer, which puts this node in FAULT so the VIP moves.
# It asks 127.0.0.1 over HTTP (not pidof): that is what clients experience.
exec curl --silent --fail --output /dev/null --max-time 1 http://127.0.0.1:80/
