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

. "$(dirname "$0")/dp_lib.sh"
dp_require
dp_names dp vd 77
export DP_BACKEND=$BACKEND DP_INTERFACE=$VETH_A

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

test_inbound() { dp_inbound; }

test_outbound() { dp_outbound; }

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

# The control plane's injects: a packet written to the TUN as if it came
# from B, and one sent into the tunnel as if read from the TUN.
test_inject_tun() {
	dp_listen 5001
	in_a "$DP_PEER" inject -sock "$SOCK" -into tun -src "$VPN_B" \
		-dst "$VPN_A" -dport 5001 -payload "injected in"
	dp_listen_got "injected in $VPN_B"
}

test_inject_out() {
	rm -f "$TMP/ready"
	in_b "$DP_PEER" recv -bind "$UNDER_B:$PORT" -ready "$TMP/ready" \
		-expect data -dst "$VPN_B" -dport 6001 -payload "injected out" &
	local receiver=$!
	wait_file "$TMP/ready"
	in_a "$DP_PEER" inject -sock "$SOCK" -into out -src "$VPN_A" \
		-dst "$VPN_B" -dport 6001 -payload "injected out"
	wait "$receiver"
}

TESTS="test_inbound test_outbound test_test_reply test_recv_error test_punt test_dump test_inject_tun test_inject_out test_close"

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
