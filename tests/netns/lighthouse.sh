#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Lighthouses between vela and the real nebula 1.6.1, three namespaces on
# one bridge (the bridge lives in a fourth, the "switch"):
#
#                      ns vela-lsw-$$: bridge vlbr
#            +-----------------+-----------------+
#            | veth            | veth            | veth
#   ns vela-l1-$$       ns vela-l2-$$       ns vela-l3-$$
#   172.31.$N.1:4242    172.31.$N.2:4242    172.31.$N.3:4242
#   10.43.0.1 (lh)      10.43.0.2           10.43.0.3
#
# 1. nebula is the lighthouse (am_lighthouse), vela runs on 2 and 3. Both
#    vela nodes know only the lighthouse (static_host_map, lighthouse.hosts):
#    their updates register them, and 2 pings 3 through a direct tunnel it
#    found by asking the lighthouse. cipher aes.
# 2. vela is the lighthouse, nebula runs on 2 and 3, configured the same
#    way: nebula 2 pings nebula 3 after vela answered its query. cipher
#    chachapoly.
# 3. The allow lists, nebula the lighthouse again: vela 3 reports none of
#    its addresses (local_allow_list by interface name), and vela 2 refuses
#    3's address (remote_allow_list), so 2 finds no way to 3 and refuses
#    3's handshake, while both still reach the lighthouse.
#
# Needs root and nebula; exits 77 (skipped) otherwise. Every step is
# bounded; namespaces and processes are removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for tool in nebula ip; do
	command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

N=$(( $$ % 250 + 1 ))
NSW=vela-lsw-$$ NS1=vela-l1-$$ NS2=vela-l2-$$ NS3=vela-l3-$$
WORK=$(mktemp -d /tmp/vela-lighthouse.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for ns in "$NS1" "$NS2" "$NS3" "$NSW"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log; do
		[ -e "$f" ] || continue
		echo "--- $(basename "$f")"; tail -n 30 "$f"
	done
	exit 1
}

# Topology: node i gets veth vl$$i (in its namespace) and vs$$i (on the bridge).
for ns in "$NSW" "$NS1" "$NS2" "$NS3"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n "$NSW" link add vlbr type bridge
ip -n "$NSW" link set vlbr up
i=0
for ns in "$NS1" "$NS2" "$NS3"; do
	i=$((i + 1))
	ip -n "$NSW" link add "vl$$$i" type veth peer name "vs$$$i"
	ip -n "$NSW" link set "vl$$$i" netns "$ns"
	ip -n "$NSW" link set "vs$$$i" master vlbr up
	ip -n "$ns" addr add "172.31.$N.$i/24" dev "vl$$$i"
	ip -n "$ns" link set "vl$$$i" up
done

cd "$WORK"
"$VELA_CERT" ca -name lighthouse-ca -duration 2h
"$VELA_CERT" sign -name lh -ip 10.43.0.1/24
"$VELA_CERT" sign -name n2 -ip 10.43.0.2/24
"$VELA_CERT" sign -name n3 -ip 10.43.0.3/24

FIREWALL='firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]'

# name cipher dev am_lighthouse engine(vela|nebula) [lighthouse: keys]
write_config() {
	local name=$1 cipher=$2 dev=$3 am=$4 engine=$5 extra=${6:-} lh
	if [ "$am" = true ]; then
		lh="static_host_map: {}
lighthouse: {am_lighthouse: true}"
	else
		lh="static_host_map: {\"10.43.0.1\": [\"172.31.$N.1:4242\"]}
lighthouse: {am_lighthouse: false, interval: 2, hosts: [\"10.43.0.1\"]$extra}"
	fi
	cat >"$name.yml" <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/$name.crt, key: $WORK/$name.key}
$lh
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
cipher: $cipher
tun: {dev: $dev, mtu: 1300}
logging: {level: debug}
$FIREWALL
YML
	if [ "$engine" = vela ]; then
		echo "dataplane: {backend: udp, workers: 1, mode: event, socket: $WORK/$name.sock}" >>"$name.yml"
	fi
}

run() { # ns name engine dev
	local bin=nebula
	[ "$3" = vela ] && bin=$VELA
	: >"$2.log"
	ip netns exec "$1" "$bin" -config "$2.yml" >>"$2.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do
		ip -n "$1" link show "$4" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$2: tun $4 did not come up"
}

stop_all() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		timeout 10 tail --pid="$p" -f /dev/null || true
	done
	PIDS=()
}

# Waits up to $3 seconds for a line of log $1 matching both $2 and $4.
wait_log() {
	for _ in $(seq $(( $3 * 10 ))); do
		grep "$2" "$1" 2>/dev/null | grep -q "$4" && return 0
		sleep 0.1
	done
	return 1
}

ping_ok() { # ns dst
	timeout 20 ip netns exec "$1" ping -c 3 -W 2 -i 0.3 "$2" >/dev/null
}

# nebula's complaints about lighthouse messages it could not use.
no_lh_errors() { # log
	! grep -E 'Failed to unmarshal lighthouse packet|Invalid lighthouse update|Host sent invalid update' "$1"
}

# nebula the lighthouse, vela on 2 and 3 with extra lighthouse keys $1, $2.
# Each vela node reaches the lighthouse on its own (its first update).
# Logs read are nebula's: vela's two daemons share one log file, whose
# lines may interleave.
nebula_lh_vela_nodes() {
	write_config lh aes neb-lh true nebula
	write_config n2 aes vela-n2 false vela "${1:-}"
	write_config n3 aes vela-n3 false vela "${2:-}"
	run "$NS1" lh nebula neb-lh
	run "$NS2" n2 vela vela-n2
	run "$NS3" n3 vela vela-n3
	for ip in 10.43.0.2 10.43.0.3; do
		wait_log lh.log 'msg="Handshake message sent"' 10 "vpnIp=$ip" ||
			fail "vela $ip did not reach the nebula lighthouse"
	done
}

echo "== nebula lighthouse, vela nodes"
nebula_lh_vela_nodes
echo "ok: both vela nodes have a tunnel to the nebula lighthouse"
sleep 0.5 # the updates follow the tunnels
# n2 knows no address of n3 but what the lighthouse tells, and nobody
# relays: a reply means a direct tunnel found through the lighthouse.
ping_ok "$NS2" 10.43.0.3 || fail "vela n2 -> vela n3 through the lighthouse"
echo "ok: vela found vela through the nebula lighthouse, ping"
ping_ok "$NS3" 10.43.0.2 || fail "vela n3 -> vela n2 on the tunnel"
no_lh_errors lh.log || fail "nebula refused vela's lighthouse messages"
grep 'Lighthouse update sent' n3.log | grep -q 'ip4Count=1' ||
	fail "vela n3 did not report its address"
stop_all

echo "== vela lighthouse, nebula nodes"
write_config lh chachapoly vela-lh true vela
write_config n2 chachapoly neb-n2 false nebula
write_config n3 chachapoly neb-n3 false nebula
run "$NS1" lh vela vela-lh
run "$NS2" n2 nebula neb-n2
run "$NS3" n3 nebula neb-n3
for n in n2 n3; do
	wait_log "$n.log" 'msg="Handshake message received"' 10 'vpnIp=10.43.0.1' ||
		fail "nebula $n did not reach the vela lighthouse"
done
echo "ok: both nebula nodes have a tunnel to the vela lighthouse"
sleep 0.5
ping_ok "$NS2" 10.43.0.3 || fail "nebula n2 -> nebula n3 through the vela lighthouse"
wait_log n2.log 'msg="Handshake message received"' 1 'vpnIp=10.43.0.3' ||
	fail "nebula n2 has no tunnel of its own to n3"
echo "ok: nebula found nebula through the vela lighthouse, ping"
ping_ok "$NS3" 10.43.0.2 || fail "nebula n3 -> nebula n2 on the tunnel"
stop_all

echo "== allow lists: nebula lighthouse, vela nodes"
nebula_lh_vela_nodes ", remote_allow_list: {\"172.31.$N.3/32\": false}" \
	", local_allow_list: {interfaces: {\"vl.*\": false}}"
wait_log n3.log 'Lighthouse update sent' 5 'ip4Count=0' ||
	fail "vela n3 reported addresses of an interface its local_allow_list refuses"
echo "ok: local_allow_list: vela n3 reports none of its addresses"
sleep 0.5
# The lighthouse still knows n3's address (its tunnel's source), but n2
# refuses it: no tunnel either way.
timeout 10 ip netns exec "$NS2" ping -c 2 -W 1 10.43.0.3 >/dev/null 2>&1 &&
	fail "vela n2 reached n3 at an address its remote_allow_list refuses"
timeout 10 ip netns exec "$NS3" ping -c 2 -W 1 10.43.0.2 >/dev/null 2>&1 &&
	fail "vela n2 took a handshake from an address its remote_allow_list refuses"
wait_log n2.log 'lighthouse.remote_allow_list denied incoming handshake' 5 'vpnIp=10.43.0.3' ||
	fail "vela n2 did not say why it refused n3's handshake"
ping_ok "$NS2" 10.43.0.1 || fail "vela n2 -> the lighthouse (allowed)"
echo "ok: remote_allow_list: vela n2 neither uses nor accepts n3's address"
stop_all
echo "lighthouse: all passed"
