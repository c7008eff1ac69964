# The local cloud's data plane (sourced by scripts/local-cloud): OVN central (NB and SB
# databases, ovn-northd) and two hypervisors. Each hypervisor is a network namespace of
# its own holding an Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath: this
# kernel has no openvswitch module), an OVN chassis (ovn-controller), Neutron's OVN agent
# (metadata extension), and libvirtd + virtlogd (in a mount and UTS namespace of their
# own, so each hypervisor has its own sockets, run dirs, domains and hostname). The
# chassis reach each other through Geneve over a veth "underlay"; both are bridged (br-ex)
# to the external network `public`, a Linux bridge in a namespace of its own where the
# upstream gateway (172.24.4.1) and, on a veth, the client namespace live; hv1 is the
# gateway chassis (routers' external ports).
# No address of any of these goes into the root namespace.
# shellcheck shell=bash

NHV="${VRRP_LOCALCLOUD_HYPERVISORS:-2}"
DP="$STATE/dataplane"                  # databases, sockets, per-hypervisor dirs
OVN_DIR="$DP/ovn"
NS_PREFIX="${VRRP_LOCALCLOUD_NS_PREFIX:-vrrp-lc}"
NS_PUBLIC="$NS_PREFIX-public"           # the external network's bridge + upstream gateway
NS_CLIENT="$NS_PREFIX-client"           # the only place that reaches floating IPs
PUBLIC_CIDR="${VRRP_LOCALCLOUD_PUBLIC_CIDR:-172.24.4.0/24}"
PUBLIC_PREFIX="${PUBLIC_CIDR%.*}"
PUBLIC_PLEN="${PUBLIC_CIDR#*/}"
UNDERLAY_PREFIX=192.168.254             # Geneve underlay, inside the hypervisor namespaces only
MIRROR_PORT="${VRRP_LOCALCLOUD_MIRROR_PORT:-8080}"  # the apt repository on the external network
NB_SOCK="$OVN_DIR/ovnnb_db.sock"
SB_SOCK="$OVN_DIR/ovnsb_db.sock"
export NB_SOCK SB_SOCK

hv_ns() { echo "$NS_PREFIX-hv$1"; }
hv_dir() { echo "$DP/hv$1"; }
hv_host() { echo "vrrp-local-hv$1"; }   # nova host name = libvirt hostname = OVN chassis hostname
in_hv() { local n="$1"; shift; ip netns exec "$(hv_ns "$n")" "$@"; }
vsctl() { local n="$1"; shift; ovs-vsctl --db="unix:$(hv_dir "$n")/db.sock" --timeout=20 "$@"; }
nbctl() { ovn-nbctl --db="unix:$NB_SOCK" --timeout=20 "$@"; }
sbctl() { ovn-sbctl --db="unix:$SB_SOCK" --timeout=20 "$@"; }

wait_sock() { # path name seconds
  local _i
  for _i in $(seq 1 $(($3 * 10))); do [ -S "$1" ] && return 0; sleep 0.1; done
  die "$2 did not create $1 (see $LOG/$2.log)"
}

ensure_dataplane_debs() {
  local need=() p
  # the data plane and the hypervisors; the VM image build (debootstrap, mkfs.ext4 -d, gpg,
  # apt-ftparchive; gnupg for gpg-agent); the stack's SSH key pair (ssh-keygen in bootstrap.py)
  for p in openvswitch-switch ovn-central ovn-host libvirt-daemon-system libvirt-daemon-driver-qemu \
      libvirt-clients python3-libvirt qemu-system-x86 qemu-utils genisoimage haproxy socat sudo \
      iproute2 iptables ethtool debootstrap e2fsprogs gnupg apt-utils openssh-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${need[*]}"
  # Debian's maintainer scripts would start the daemons (and libvirt's default
  # network) on this host: forbid it while installing.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${need[@]}" >>"$LOG/apt.log" 2>&1; then
    apt-get -o DPkg::Lock::Timeout=900 update >>"$LOG/apt.log" 2>&1 || true
    apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${need[@]}" >>"$LOG/apt.log" 2>&1 \
      || { [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d; die "apt-get install failed, see $LOG/apt.log"; }
  fi
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
}

# ------------------------------------------------------------------ OVN central
start_ovn_central() {
  mkdir -p "$OVN_DIR"
  local db remote
  for db in nb sb; do
    [ -f "$OVN_DIR/ovn${db}_db.db" ] || ovsdb-tool create "$OVN_DIR/ovn${db}_db.db" "/usr/share/ovn/ovn-$db.ovsschema"
    remote=db:OVN_Northbound,NB_Global,connections
    [ "$db" = nb ] || remote=db:OVN_Southbound,SB_Global,connections
    start "ovn-${db}db" /usr/sbin/ovsdb-server "$OVN_DIR/ovn${db}_db.db" \
      --remote="punix:$OVN_DIR/ovn${db}_db.sock" --remote="$remote" \
      --pidfile="$OVN_DIR/ovn${db}_db.pid" --unixctl="$OVN_DIR/ovn${db}_db.ctl" \
      --log-file="$LOG/ovn-${db}db.log" -vconsole:off
  done
  wait_sock "$NB_SOCK" ovn-nbdb 30
  wait_sock "$SB_SOCK" ovn-sbdb 30
  nbctl --no-wait init
  sbctl init
  start ovn-northd /usr/bin/ovn-northd --ovnnb-db="unix:$NB_SOCK" --ovnsb-db="unix:$SB_SOCK" \
    --pidfile="$OVN_DIR/ovn-northd.pid" --unixctl="$OVN_DIR/ovn-northd.ctl" \
    --log-file="$LOG/ovn-northd.log" -vconsole:off
}

# ------------------------------------------------------------------ networks
# ns_ensure NAME: a named network namespace with loopback up, recorded in the state dir
# (dataplane_cleanup deletes exactly the recorded ones)
NS_LIST="$STATE/namespaces"
ns_ensure() {
  grep -qxF -- "$1" "$NS_LIST" 2>/dev/null || echo "$1" >>"$NS_LIST"
  [ -e "/run/netns/$1" ] || ip netns add "$1"
  ip -n "$1" link set lo up
}

# veth_ensure NS_A IF_A NS_B IF_B: a veth pair between two namespaces (created in NS_A)
veth_ensure() {
  ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

setup_public_segment() {
  ns_ensure "$NS_PUBLIC"
  ns_ensure "$NS_CLIENT"
  local P="ip -n $NS_PUBLIC"
  $P link show br-public >/dev/null 2>&1 || $P link add br-public type bridge
  $P link set br-public up
  $P addr replace "$PUBLIC_PREFIX.1/$PUBLIC_PLEN" dev br-public
  veth_ensure "$NS_PUBLIC" client0 "$NS_CLIENT" eth0
  $P link set client0 master br-public
  ip -n "$NS_CLIENT" addr replace "$PUBLIC_PREFIX.2/$PUBLIC_PLEN" dev eth0
  ip -n "$NS_CLIENT" route replace default via "$PUBLIC_PREFIX.1"
  # Packets from here reach OVS's userspace datapath, which does not complete a
  # checksum left to the NIC (see start_hv_libvirt): compute them in software.
  ip netns exec "$NS_CLIENT" ethtool -K eth0 tx off >/dev/null
  ip netns exec "$NS_PUBLIC" ethtool -K br-public tx off >/dev/null
}

# ------------------------------------------------------------------ hypervisors
start_hv_ovs() { # N
  local n="$1" d ns
  d="$(hv_dir "$n")"; ns="$(hv_ns "$n")"
  mkdir -p "$d"
  ns_ensure "$ns"
  [ -f "$d/conf.db" ] || ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  OVS_RUNDIR="$d" OVS_DBDIR="$d" start "hv$n-ovsdb" ip netns exec "$ns" /usr/sbin/ovsdb-server "$d/conf.db" \
    --remote="punix:$d/db.sock" --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
    --log-file="$LOG/hv$n-ovsdb.log" -vconsole:off
  wait_sock "$d/db.sock" "hv$n-ovsdb" 30
  vsctl "$n" --no-wait init
  # --monitor (as ovs-ctl starts it on a real host): a monitor process restarts the daemon
  # when it crashes. Debian 12's OVS 3.1.0 userspace conntrack aborts now and then under
  # the routers' NAT ("conntrack.c:1063: assertion conn->conn_type ==
  # CT_CONN_TYPE_DEFAULT failed in conn_update_state()"): without a restart that
  # hypervisor's data plane (on hv1 also every floating IP) stays dark for good.
  OVS_RUNDIR="$d" start "hv$n-vswitchd" ip netns exec "$ns" /usr/sbin/ovs-vswitchd "unix:$d/db.sock" \
    --monitor --pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
    --log-file="$LOG/hv$n-vswitchd.log" -vconsole:off
  wait_sock "$d/ovs-vswitchd.ctl" "hv$n-vswitchd" 30

  # Geneve underlay: br-phy holds the tunnel endpoint address (userspace tunnelling
  # routes through an OVS bridge), its port ul0 is a veth into br-underlay, a Linux
  # bridge in the public namespace that joins the hypervisors (and nothing else).
  # br-ex's port pub0 is a veth into br-public: the physical network `public`.
  vsctl "$n" --may-exist add-br br-phy -- set bridge br-phy datapath_type=netdev \
    -- --may-exist add-br br-ex -- set bridge br-ex datapath_type=netdev \
    -- --may-exist add-br br-int -- set bridge br-int datapath_type=netdev fail-mode=secure \
       other-config:disable-in-band=true
  local P="ip -n $NS_PUBLIC"
  $P link show br-underlay >/dev/null 2>&1 || $P link add br-underlay type bridge
  $P link set br-underlay up
  veth_ensure "$ns" ul0 "$NS_PUBLIC" "ul-hv$n"
  $P link set "ul-hv$n" master br-underlay
  veth_ensure "$ns" pub0 "$NS_PUBLIC" "pub-hv$n"
  $P link set "pub-hv$n" master br-public
  vsctl "$n" --may-exist add-port br-phy ul0 -- --may-exist add-port br-ex pub0
  local _i   # the bridges' own devices appear when ovs-vswitchd has reconfigured
  for _i in $(seq 1 100); do
    ip -n "$ns" link show br-phy >/dev/null 2>&1 && ip -n "$ns" link show br-ex >/dev/null 2>&1 && break
    sleep 0.1
  done
  ip -n "$ns" link set br-phy up
  ip -n "$ns" link set br-ex up
  ip -n "$ns" addr replace "$UNDERLAY_PREFIX.$n/24" dev br-phy
  vsctl "$n" set open_vswitch . \
    external-ids:system-id="$(hv_host "$n")" \
    external-ids:hostname="$(hv_host "$n")" \
    external-ids:ovn-remote="unix:$SB_SOCK" \
    external-ids:ovn-bridge=br-int \
    external-ids:ovn-encap-type=geneve \
    external-ids:ovn-encap-ip="$UNDERLAY_PREFIX.$n" \
    external-ids:ovn-bridge-datapath-type=netdev \
    external-ids:ovn-bridge-mappings=public:br-ex
  # One gateway chassis: the routers' external ports (SNAT, centralized floating IPs)
  # live on hv1, as on a cloud with one network node. With both as gateway chassis, OVN
  # elects the active one by BFD over the tunnel, and on this loaded 2-core machine BFD
  # timed out ("Control Detection Time Expired") and no chassis held the gateway port:
  # every floating IP went dark.
  if [ "$n" = 1 ]; then
    vsctl "$n" set open_vswitch . external-ids:ovn-cms-options=enable-chassis-as-gw
  else
    vsctl "$n" remove open_vswitch . external-ids ovn-cms-options
  fi
  OVS_RUNDIR="$d" OVN_RUNDIR="$d" start "hv$n-ovn-controller" ip netns exec "$ns" /usr/bin/ovn-controller \
    "unix:$d/db.sock" --pidfile="$d/ovn-controller.pid" \
    --log-file="$LOG/hv$n-ovn-controller.log" -vconsole:off
}

# libvirtd + virtlogd of hypervisor N, in the hypervisor's network namespace and in a
# mount and UTS namespace of their own: /run/libvirt, /var/lib/libvirt, /var/log/libvirt,
# /var/cache/libvirt and /etc/libvirt are the hypervisor's directories (so two libvirtds
# do not share domains or sockets), the hostname is the hypervisor's (libvirt reports it
# to Nova as the node name). QEMU runs through a wrapper bound over the emulator's path
# (Nova's domain XML cannot say either thing) that changes two options:
# - a 128 MiB TCG translation cache instead of QEMU's 1 GiB (about 1 GiB less RSS per VM);
# - virtio-net without checksum offload ("csum": false): OVS's userspace datapath (3.1)
#   reads taps with AF_PACKET and forwards a packet whose checksum the guest left to the
#   NIC without completing it, so every TCP segment between VMs would arrive with a bad
#   checksum and be dropped (ping works, HTTP does not). Neutron does the same for its
#   metadata namespaces on netdev bridges (an iptables CHECKSUM --checksum-fill rule).
TB_SIZE_MIB="${VRRP_LOCALCLOUD_TB_SIZE_MIB:-128}"
start_hv_libvirt() { # N
  local n="$1" d l ns
  d="$(hv_dir "$n")"; l="$d/libvirt"; ns="$(hv_ns "$n")"
  mkdir -p "$l"/{run,lib,log,cache,etc/qemu} "$STATE/nova/compute-$n/instances"
  cat >"$l/etc/libvirtd.conf" <<EOF
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$LOG/hv$n-libvirtd-daemon.log"
EOF
  cat >"$l/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:$LOG/hv$n-virtlogd-daemon.log"
EOF
  # root QEMU without cgroups (this host's cgroup v1 tree is the container's, and two
  # libvirtds would share it) and without per-domain /dev namespaces.
  cat >"$l/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
  printf 'uri_default = "qemu:///system"\n' >"$l/etc/libvirt.conf"
  cat >"$l/qemu-wrapper" <<EOF
#!/bin/sh
# QEMU for hypervisor $n of the local cloud: libvirt's command line with the TCG
# translation cache set to $TB_SIZE_MIB MiB (QEMU's default for TCG is 1 GiB of RSS per VM)
# and virtio-net without checksum offload (see scripts/localcloud/dataplane.sh).
for a in "\$@"; do
  shift
  case "\$a" in
    tcg) a="tcg,tb-size=$TB_SIZE_MIB" ;;
    tcg,*) case "\$a" in *tb-size*) ;; *) a="\$a,tb-size=$TB_SIZE_MIB" ;; esac ;;
    *'"driver":"virtio-net-pci"'*) a=\$(printf '%s' "\$a" | sed 's/"driver":"virtio-net-pci",/"driver":"virtio-net-pci","csum":false,/') ;;
    virtio-net-pci,*) a="virtio-net-pci,csum=off,\${a#virtio-net-pci,}" ;;
  esac
  set -- "\$@" "\$a"
done
# The real QEMU, from its own path (it finds its modules and firmware relative to it):
# in a mount namespace of its own where this wrapper is not bound over it.
exec unshare --mount --propagation private -- /bin/sh -c \
  'umount /usr/bin/qemu-system-x86_64 && exec /usr/bin/qemu-system-x86_64 "\$@"' qemu-system-x86_64 "\$@"
EOF
  chmod 755 "$l/qemu-wrapper"
  # shellcheck disable=SC2016 # the script's own $1.. are expanded by its shell
  start "hv$n-libvirtd" ip netns exec "$ns" unshare --mount --uts --propagation private -- /bin/sh -ec '
    l=$1 host=$2 ovs=$3
    for pair in run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt etc:/etc/libvirt; do
      mkdir -p "${pair#*:}"; mount --bind "$l/${pair%%:*}" "${pair#*:}"
    done
    mkdir -p /run/openvswitch; mount --bind "$ovs" /run/openvswitch
    mount --bind "$l/qemu-wrapper" /usr/bin/qemu-system-x86_64
    hostname "$host"
    /usr/sbin/virtlogd -f "$l/etc/virtlogd.conf" -p "$l/run/virtlogd.pid" &
    exec /usr/sbin/libvirtd -f "$l/etc/libvirtd.conf" -p "$l/run/libvirtd.pid"' sh "$l" "$(hv_host "$n")" "$d"
  wait_sock "$l/run/libvirt-sock" "hv$n-libvirtd" 60
}

# The tap keeper of hypervisor N: a VM's tap that stays administratively down is set up.
# Why: os-vif adds the OVS port first and then creates the tap and sets it up; when the tap
# appears, ovs-vswitchd opens it and, for the userspace datapath, turns on PROMISC by
# writing its cached interface flags (lib/netdev-linux.c update_flags: the flags it read
# when it opened the tap, | IFF_PROMISC). If os-vif's "up" falls between that read and that
# write, it is lost: the tap stays down for the VM's whole life, every packet to it fails
# with "Network is down" (vswitchd's log), and the VM never gets DHCP or its user-data.
# Seen once in about 45 boots (a CI run: one member never served, the pair never settled).
# The kernel datapath of a production cloud sets promiscuity in the kernel, without this
# race. The keeper acts only on a tap still down 2 s after the kernel reported it so (os-vif
# disables IPv6 on the tap before setting it up, and so does the keeper), and logs each one.
TAP_KEEPER_GRACE=2
start_tap_keeper() { # N
  # shellcheck disable=SC2016 # the script's own variables are expanded by its shell
  start "hv$1-tap-keeper" ip netns exec "$(hv_ns "$1")" /bin/sh -c '
    grace=$1
    admin_up() { ip -o link show dev "$1" 2>/dev/null | grep -q "[<,]UP[,>]"; }
    ip -o monitor link | while read -r _ name flags _; do
      case "$name" in tap*) ;; *) continue ;; esac
      case "$flags" in *"<UP,"*|*",UP,"*|*",UP>"*|"<UP>") continue ;; esac
      dev="${name%:}"; dev="${dev%@*}"
      (
        sleep "$grace"
        ip link show dev "$dev" >/dev/null 2>&1 || exit 0
        admin_up "$dev" && exit 0
        echo 1 >"/proc/sys/net/ipv6/conf/$dev/disable_ipv6" 2>/dev/null || true
        if ip link set dev "$dev" up; then
          echo "$(date -u +%FT%TZ) $dev was still down ${grace} s after it went down: set it up"
        fi
      ) &
    done' sh "$TAP_KEEPER_GRACE"
}

# ------------------------------------------------------------------ teardown
# A data plane made on a fresh state dir starts from nothing: namespaces of its names
# left by a cloud whose state dir is gone (wiped by hand, or a crashed run) are stale,
# not another cloud's (two clouds cannot run at once: their ports are fixed).
remove_stale_namespaces() {
  local ns
  [ ! -d "$DP" ] || return 0
  for ns in $(ip netns list | awk '{print $1}'); do
    case "$ns" in
      "$NS_PREFIX"-*) say "removing stale namespace $ns (no data plane in $STATE)"; ip netns del "$ns" ;;
    esac
  done
}

# pidfile_process FILE: the pid a daemon's own pid file names (OVS, OVN, libvirtd,
# virtlogd, haproxy: the pid only), if that process started before the file was last
# written (a process that started later got a reused pid and is not the daemon)
pidfile_process() {
  local pid start_ticks started written
  read -r pid _ <"$1" 2>/dev/null || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || return 1
  start_ticks="$(proc_start "$pid")" || return 1
  written="$(stat -c %Y "$1")" || return 1
  started="$(awk -v t="$start_ticks" -v hz="$(getconf CLK_TCK)" '/^btime/{printf "%d", $2 + t / hz}' /proc/stat)"
  [ "$started" -le $((written + 1)) ] || return 1
  echo "$pid"
}

# this shell and its ancestors (never killed by the sweep below, whatever their arguments)
self_and_ancestors() {
  local p=$$
  echo "$BASHPID"
  while [ "$p" -gt 1 ]; do echo "$p"; p="$(proc_field "$p" 4)" || break; done
}

# Everything the data plane made that outlives the services of $RUN/*.pid, whichever
# layout of the cloud made it:
# - daemons with pid files of their own anywhere in the state dir (OVS, OVN, libvirtd,
#   virtlogd, the metadata proxies' haproxy);
# - every process whose command line names the state dir: QEMU (libvirt daemonizes it),
#   privsep helpers, and daemons of a layout that kept its pid files elsewhere;
# - the namespaces the state dir records (the hypervisors', the public segment's, the
#   client's; with their taps, veths and bridges), or, for a state dir from before the
#   record, those of this cloud's prefix. The agents' ovnmeta-<network> namespaces live
#   in their own /run/netns (dataplane/hvN/netns, in their mount namespace) and go with
#   their last process.
# Kernel samepage merging for the hypervisors: the members boot one image and run the same
# programs, so much of their memory is the same page twice; ksmd merges such pages (QEMU
# marks guest RAM mergeable), as virtualization hosts commonly have it on. The host's own
# setting is kept in the state dir and put back by dataplane_cleanup (down), which also
# writes what it put back to the log dir (tests/cloud/test_down.py reads it).
KSM=/sys/kernel/mm/ksm
# 500 pages every 20 ms (the kernel's default is 100): two freshly booted members are scanned
# in about 12 s instead of a minute, for about 6% of one CPU while the cloud runs (measured:
# 1.2% at the default rate)
KSM_PAGES_TO_SCAN=500
ksm_on() {
  if [ ! -w "$KSM/run" ]; then say "no writable $KSM/run: samepage merging left as it is"; return 0; fi
  [ -f "$STATE/ksm-before" ] || echo "$(cat "$KSM/run") $(cat "$KSM/pages_to_scan")" >"$STATE/ksm-before"
  { echo "$KSM_PAGES_TO_SCAN" >"$KSM/pages_to_scan" && echo 1 >"$KSM/run"; } 2>/dev/null \
    || say "could not turn on kernel samepage merging"
}
ksm_restore() {
  local run pages
  [ -f "$STATE/ksm-before" ] || return 0
  read -r run pages <"$STATE/ksm-before"
  { echo "$run" >"$KSM/run"; echo "$pages" >"$KSM/pages_to_scan"; } 2>/dev/null || true
  mkdir -p "$LOG" && echo "$run $pages" >"$LOG/ksm-restored"
  rm -f "$STATE/ksm-before"
}

dataplane_cleanup() {
  local f pid proc keep ns
  [ -d "$STATE" ] || return 0
  while IFS= read -r -d '' f; do
    pid="$(pidfile_process "$f")" || continue
    kill -KILL "$pid" 2>/dev/null || true
  done < <(find "$STATE" -name '*.pid' -type f -print0 2>/dev/null)
  keep=" $(self_and_ancestors | tr '\n' ' ') "
  for proc in /proc/[0-9]*; do
    pid="${proc#/proc/}"
    [[ "$keep" != *" $pid "* ]] || continue
    if tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF "$STATE/"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ -f "$NS_LIST" ]; then
    while read -r ns; do
      [ -z "$ns" ] || [ ! -e "/run/netns/$ns" ] || ip netns del "$ns"
    done <"$NS_LIST"
  elif [ -d "$DP" ]; then
    for ns in $(ip netns list | awk '{print $1}'); do
      case "$ns" in "$NS_PREFIX"-*) ip netns del "$ns" ;; esac
    done
  fi
  ksm_restore
}
