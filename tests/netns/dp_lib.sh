# SPDX-License-Identifier: MIT
# Shared by the tests that drive a real vela-dataplane with dp_peer in two
# namespaces (dataplane.sh, dpctl.sh, tun_events.sh); sourced, not run:
#
#   ns $NS_A: vela-dataplane on $VETH_A ($UNDER_A)  --veth, 2 queues--
#   ns $NS_B: dp_peer as the Nebula peer on $VETH_B ($UNDER_B)
#
# dp_require TOOL...        exit 77 (skip) without root, a tool or a TUN
# dp_names NAME SHORT NET   names unique per run, addresses 172.31.NET.x and
#                           10.NET.0.x, a temp dir, cleanup on exit
# setup_net, start_dataplane, stop_dataplane [TUN], in_a, in_b, wait_file, say
# dp_listen PORT + dp_listen_got EXPECTED, dp_send_a PORT PAYLOAD,
# dp_inbound, dp_outbound   the UDP steps through the tunnel both ways

dp_require() {
	local tool
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root for network namespaces and TUN"
		exit 77
	fi
	for tool in ip python3 timeout "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "SKIP: $tool not found"
			exit 77
		fi
	done
	if [ ! -c /dev/net/tun ]; then
		echo "SKIP: no /dev/net/tun"
		exit 77
	fi
}

dp_names() { # name short net
	NS_A=vela-$1-a-$$
	NS_B=vela-$1-b-$$
	VETH_A=$2a$$
	VETH_B=$2b$$
	UNDER_A=172.31.$3.1
	UNDER_B=172.31.$3.2
	VPN_A=10.$3.0.1
	VPN_B=10.$3.0.2
	PORT=4242
	T=10 # seconds per step
	TMP=$(mktemp -d "/tmp/vela-$1-test.XXXXXX")
	SOCK=$TMP/run/vela.sock
	DP_PID=
	trap dp_cleanup EXIT
}

say() { printf '== %s\n' "$*"; }

dp_cleanup() {
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

# A UDP listener on $VPN_A:PORT in ns A, ready when this returns; then
# dp_listen_got checks the one datagram it got, as "payload source-ip".
dp_listen() { # port
	rm -f "$TMP/listening"
	in_a python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
s.settimeout(5)
data, peer = s.recvfrom(2048)
print(data.decode(), peer[0])
' "$VPN_A" "$1" "$TMP/listening" >"$TMP/listener.out" &
	DP_LISTENER=$!
	wait_file "$TMP/listening"
}

dp_listen_got() { # expected
	local got
	wait "$DP_LISTENER"
	got=$(cat "$TMP/listener.out")
	echo "listener got: $got"
	[ "$got" = "$1" ]
}

# One UDP datagram from ns A to $VPN_B:PORT, through the TUN.
dp_send_a() { # port payload
	in_a python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
' "$VPN_B" "$1" "$2"
}

# B's data message comes out of A's TUN; A's datagram arrives sealed at B.
dp_inbound() {
	dp_listen 5000
	in_b "$DP_PEER" send-data -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT" \
		-src "$VPN_B" -dst "$VPN_A" -dport 5000 -payload "hello from B"
	dp_listen_got "hello from B $VPN_B"
}

dp_outbound() {
	rm -f "$TMP/ready"
	in_b "$DP_PEER" recv -bind "$UNDER_B:$PORT" -ready "$TMP/ready" \
		-expect data -dst "$VPN_B" -dport 6000 -payload "hello from A" &
	local receiver=$!
	wait_file "$TMP/ready"
	dp_send_a 6000 "hello from A"
	wait "$receiver"
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

# Stops it with SIGTERM: a clean exit, no socket left, and the TUN named
# by the argument, if any, gone.
stop_dataplane() { # [tun]
	local status=0

	kill -TERM "$DP_PID"
	timeout "$T" tail --pid="$DP_PID" -f /dev/null
	wait "$DP_PID" || status=$?
	DP_PID=
	[ "$status" = 0 ] || { echo "vela-dataplane exited with $status"; return 1; }
	[ ! -e "$SOCK" ] || { echo "socket left behind"; return 1; }
	if [ -n "${1:-}" ] && ip -n "$NS_A" link show "$1" >/dev/null 2>&1; then
		echo "TUN $1 left behind"
		return 1
	fi
	grep -q 'level=info msg="vela-dataplane stopped"' "$TMP/dp.log"
}
