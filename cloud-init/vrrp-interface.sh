#!/bin/sh
# Usage: vrrp-pair-interface ADDRESS OUTPUT_FILE
# Writes the keepalived definition `$VRRP_INTERFACE=<nic>` for the NIC that
# holds ADDRESS, so one rendered keepalived.conf works whatever the image
# names its interfaces (eth0, ens3, enp1s0, ...).
set -eu
address=$1
output=$2
nic=""
tries=0
while [ -z "$nic" ]; do
    nic=$(ip -o addr show to "$address" | awk '{print $2; exit}')
    if [ -z "$nic" ]; then
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ]; then
            echo "vrrp-pair-interface: no interface holds $address" >&2
            exit 1
        fi
        sleep 1
    fi
done
printf '$VRRP_INTERFACE=%s\n' "$nic" > "$output.tmp"
mv "$output.tmp" "$output"
