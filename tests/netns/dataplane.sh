#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vela-dataplane end to end, in two network namespaces:
#
#   ns A ($NS_A)                                      ns B ($NS_B)
#   +------------------------------------------+      +-------------------------+
#   | python3 UDP 10.77.0.1:5000 / send :6000  |      |                         |
#   |        |                                 |      |                         |
#   |   vela tun (10.77.0.1/24)                |      |                         |
#   |        |                                 |      |                         |
#   |   vela-dataplane --- ctl socket (tmp) -- dp_peer as vela-control          |
#   |        | udp 172.31.77.1:4242            |      |  dp_peer as the Nebula  |
#   |   veth $VETH_A  =========================== veth $VETH_B  peer 10.77.0.2  |
#   |      172.31.77.1/24                      |      |  172.31.77.2/24 :4242   |
#   +------------------------------------------+      +-------------------------+
#
# dp_peer installs one tunnel (peer 10.77.0.2, fixed keys and indexes) and
# then plays the peer: a sealed UDP packet from B comes out of the TUN to a
# listener in A; a UDP send in A arrives sealed at B and opens with the
# keys; a test request gets a test reply; an unknown index gets a
# recv_error; a handshake from B is punted to the control connection; DUMP
# shows the counters; TUNNEL_DEL with send_close delivers a closeTunnel.
# All of it with 1 worker and again with 2.
#
# Needs root (namespaces, TUN); exits 77 (skipped) without it. Every step is
# bounded by timeout(1); cleanup removes everything on exit.
set -euo pipefail

VELA_DATAPLANE=${VELA_DATAPLANE:?path to vela-dataplane}
DP_PEER=${DP_PEER:?path to dp_peer}
# BACKEND=xsk: the dataplane's NIC side is AF_XDP on $VETH_A (dp_peer
# asks for it in SETUP through DP_BACKEND/DP_INTERFACE).
BACKEND=${BACKEND:-udp} # MODE: event (default), adaptive or busy

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root for network namespaces and TUN"
	exit 77
fi
for tool in ip python3 timeout; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found"
		exit 77
	fi
done
if [ ! -c /dev/net/tun ]; then
	echo "SKIP: no /dev/net/tun"
	exit 77
fi

NS_A=vela-dp-a-$$
NS_B=vela-dp-b-$$
VETH_A=vda$$
VETH_B=vdb$$
export DP_BACKEND=$BACKEND DP_INTERFACE=$VETH_A
UNDER_A=172.31.77.1
UNDER_B=172.31.77.2
VPN_A=10.77.0.1
VPN_B=10.77.0.2
PORT=4242
T=10 # seconds per step

TMP=$(mktemp -d /tmp/vela-dataplane-test.XXXXXX)
SOCK=$TMP/run/vela.sock
DP_PID=

say() { printf '== %s\n' "$*"; }

cleanup() {
	local status=$?

	set +e
	if [ -n "$DP_PID" ] && kill -0 "$DP_PID" 2>/dev/null; then
		kill -TERM "$DP_PID"
		timeout 5 tail --pid="$DP_PID" -f /dev/null
		kill -KILL "$DP_PID" 2>/dev/null
	fi
	if [ "$status" != 0 ] && [ -f "$TMP/dp.log" ]; then
		echo "-- vela-dataplane log:"
		cat "$TMP/dp.log"
	fi
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT

in_a() { timeout "$T" ip netns exec "$NS_A" "$@"; }
in_b() { timeout "$T" ip netns exec "$NS_B" "$@"; }

# Waits (bounded) for a file another process creates when it is ready.
wait_file() {
	for _ in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1"
	return 1
}

setup_net() {
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	# xsk: a queue per worker (2), both ways (native XDP on veth).
	ip link add "$VETH_A" netns "$NS_A" numtxqueues 2 numrxqueues 2 type veth \
		peer name "$VETH_B" netns "$NS_B" numtxqueues 2 numrxqueues 2
	ip -n "$NS_A" addr add "$UNDER_A/24" dev "$VETH_A"
	ip -n "$NS_B" addr add "$UNDER_B/24" dev "$VETH_B"
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_A" link set "$VETH_A" up
	ip -n "$NS_B" link set "$VETH_B" up
}

start_dataplane() {
	rm -f "$TMP/dp.log"
	ip netns exec "$NS_A" "$VELA_DATAPLANE" -s "$SOCK" 2>"$TMP/dp.log" &
	DP_PID=$!
	wait_file "$SOCK"
}

stop_dataplane() {
	local tun=$1 status=0

	kill -TERM "$DP_PID"
	timeout "$T" tail --pid="$DP_PID" -f /dev/null
	wait "$DP_PID" || status=$?
	DP_PID=
	[ "$status" = 0 ] || { echo "vela-dataplane exited with $status"; return 1; }
	[ ! -e "$SOCK" ] || { echo "socket left behind"; return 1; }
	if ip -n "$NS_A" link show "$tun" >/dev/null 2>&1; then
		echo "TUN $tun left behind"
		return 1
	fi
	grep -q 'level=info msg="vela-dataplane stopped"' "$TMP/dp.log"
}

# --- the tests, run once per worker count ------------------------------------

test_setup() { # workers
	local out
	out=$(in_a "$DP_PEER" setup -sock "$SOCK" -workers "$1" \
		-listen "$UNDER_A:$PORT" -vpn "$VPN_A/24" -mode "${MODE:-event}")
	echo "$out"
	TUN=$(sed -n 's/^tun=\([^ ]*\) .*/\1/p' <<<"$out")
	[ -n "$TUN" ]
	ip -n "$NS_A" -4 addr show dev "$TUN" | grep -q "inet $VPN_A/24"
	ip -n "$NS_A" link show dev "$TUN" | grep -q "mtu 1300"
	in_a "$DP_PEER" add -sock "$SOCK" -peer-vpn "$VPN_B" -remote "$UNDER_B:$PORT"
}

test_inbound() {
	local got
	rm -f "$TMP/listening"
	in_a python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'"$VPN_A"'", 5000))
open(sys.argv[1], "w").close()
s.settimeout(5)
data, peer = s.recvfrom(2048)
print(data.decode(), peer[0])
' "$TMP/listening" >"$TMP/inbound.out" &
	local listener=$!
	wait_file "$TMP/listening"
	in_b "$DP_PEER" send-data -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT" \
		-src "$VPN_B" -dst "$VPN_A" -dport 5000 -payload "hello from B"
	wait "$listener"
	got=$(cat "$TMP/inbound.out")
	echo "listener got: $got"
	[ "$got" = "hello from B $VPN_B" ]
}

test_outbound() {
	rm -f "$TMP/ready"
	in_b "$DP_PEER" recv -bind "$UNDER_B:$PORT" -ready "$TMP/ready" \
		-expect data -dst "$VPN_B" -dport 6000 -payload "hello from A" &
	local receiver=$!
	wait_file "$TMP/ready"
	in_a python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"hello from A", ("'"$VPN_B"'", 6000))
'
	wait "$receiver"
}

test_test_reply() {
	in_b "$DP_PEER" test -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT"
}

test_recv_error() {
	in_b "$DP_PEER" unknown -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT"
}

test_punt() {
	rm -f "$TMP/ctl-ready"
	in_a "$DP_PEER" punt -sock "$SOCK" -ready "$TMP/ctl-ready" &
	local ctl=$!
	wait_file "$TMP/ctl-ready"
	in_b "$DP_PEER" handshake -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT"
	wait "$ctl"
}

test_dump() {
	# rx: the data packet and the test request; tx: data and test reply.
	in_a "$DP_PEER" dump -sock "$SOCK" -rx 2 -tx 2
}

test_close() {
	rm -f "$TMP/ready"
	in_b "$DP_PEER" recv -bind "$UNDER_B:$PORT" -ready "$TMP/ready" \
		-expect close &
	local receiver=$!
	wait_file "$TMP/ready"
	in_a "$DP_PEER" del -sock "$SOCK"
	wait "$receiver"
	in_a "$DP_PEER" dump -sock "$SOCK" -none
}

TESTS="test_inbound test_outbound test_test_reply test_recv_error test_punt test_dump test_close"

setup_net
for workers in 1 2; do
	say "vela-dataplane with $workers worker(s)"
	start_dataplane
	say "setup"
	test_setup "$workers"
	for t in $TESTS; do
		say "$t"
		$t
	done
	say "stop"
	stop_dataplane "$TUN"
done
say "all passed"
