#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vela <-> the real nebula 1.6.1, then vela <-> vela, in two namespaces:
#
#   ns vela-a-$$                         ns vela-b-$$
#   +-------------------------+          +-------------------------+
#   | vela ($BACKEND backend) |   veth   | nebula 1.6.1, or vela   |
#   | 172.31.$N.1:4242        |----------| 172.31.$N.2:4242        |
#   | tun vela-a  10.42.0.1   |          | tun nebula-b 10.42.0.2  |
#   +-------------------------+          +-------------------------+
#
# For each peer and cipher: A initiates (ping from A), B initiates (ping
# from B after a restart of both), a short iperf3 run each way through the
# tunnel, and A's closeTunnel on shutdown reaches B. B's config is read
# unchanged by both programs (nebula ignores the dataplane: section).
#
# BACKEND=udp (default) or xsk: the dataplane backend of both vela nodes
# (xsk: AF_XDP on their veth end, with queues such that every queue a peer
# sends to has a socket; the log must say xsk and count steered frames).
#
# Needs root, nebula, iperf3; exits 77 (skipped) otherwise. Every step is
# bounded; namespaces and processes are removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
. "$(dirname "$0")/lib.sh"
netns_require nebula iperf3 ping python3
BACKEND=${BACKEND:-udp}
WORKERS_A=1
if [ "$BACKEND" = xsk ]; then
	# veth delivers on the RX queue numbered like the sender's TX queue
	# (which a flow hash picks for nebula): 2 queues each way and a
	# worker, hence a socket, on each of them at both ends.
	export VETH_QUEUES=2
	WORKERS_A=2
fi
netns_pair vela-interop 31
# "interface:" is ignored by the udp backend.
DP_A="backend: $BACKEND, interface: $VA"
DP_B="backend: $BACKEND, interface: $VB"

cd "$WORK"
"$VELA_CERT" ca -name interop-ca -duration 2h
"$VELA_CERT" sign -name vela-a -ip 10.42.0.1/24 -groups vela
"$VELA_CERT" sign -name nebula-b -ip 10.42.0.2/24 -groups nebula

write_configs() { # cipher
	cat >a.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/vela-a.crt, key: $WORK/vela-a.key}
static_host_map: {"10.42.0.2": ["172.31.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
cipher: $1
tun: {dev: vela-a, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
dataplane: {$DP_A, workers: $WORKERS_A, mode: event, socket: $WORK/vela.sock}
YML
	cat >b.yml <<YML
dataplane: {$DP_B, workers: 2, mode: adaptive, socket: $WORK/vela-b.sock}
pki: {ca: $WORK/ca.crt, cert: $WORK/nebula-b.crt, key: $WORK/nebula-b.key}
static_host_map: {"10.42.0.1": ["172.31.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
cipher: $1
tun: {dev: nebula-b, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML
}

start() { # peer
	if [ "$1" = nebula ]; then
		ip netns exec "$NSB" nebula -config b.yml >>nebula.log 2>&1 &
	else
		ip netns exec "$NSB" "$VELA" -config "$WORK/b.yml" >>nebula.log 2>&1 &
	fi
	PIDS+=($!); NEBULA_PID=$!
	ip netns exec "$NSA" "$VELA" -config a.yml >>vela.log 2>&1 &
	PIDS+=($!); VELA_PID=$!
	wait_dev "$NSA" vela-a
	wait_dev "$NSB" nebula-b
}

# A first: on SIGTERM vela sends closeTunnel to its peers (§5.3).
stop() {
	kill "$VELA_PID" 2>/dev/null || true
	timeout 10 tail --pid="$VELA_PID" -f /dev/null || true
	sleep 0.3
	kill "$NEBULA_PID" 2>/dev/null || true
	timeout 10 tail --pid="$NEBULA_PID" -f /dev/null || true
}

ping_ok() { # ns dst
	timeout 20 ip netns exec "$1" ping -c 3 -W 2 -i 0.3 "$2" >/dev/null
}

iperf_ok() { # server-ns server-ip client-ns
	ip netns exec "$1" timeout 15 iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
	local srv=$!
	sleep 0.5
	local out
	out=$(ip netns exec "$3" timeout 10 iperf3 -c "$2" -t 2 -J 2>/dev/null) || { kill $srv 2>/dev/null; return 1; }
	wait $srv || true
	python3 -c 'import json,sys; d=json.load(sys.stdin); bps=d["end"]["sum_received"]["bits_per_second"]; print("  %.0f Mbit/s" % (bps/1e6)); sys.exit(0 if bps > 0 else 1)' <<<"$out"
}

# What B logs when A's closeTunnel arrives.
closed_msg() { [ "$1" = nebula ] && echo "Close tunnel received" || echo "Tunnel closed"; }

for peer in nebula vela; do
	ciphers="aes chachapoly"
	[ "$peer" = vela ] && ciphers=aes
	for cipher in $ciphers; do
		echo "== peer $peer, cipher $cipher"
		write_configs "$cipher"
		: >vela.log
		: >nebula.log

		start "$peer"
		ping_ok "$NSA" 10.42.0.2 || fail "$peer/$cipher: A-initiated ping"
		echo "ok $peer/$cipher: A initiates, ping"
		ping_ok "$NSB" 10.42.0.1 || fail "$peer/$cipher: ping from B on A's tunnel"
		iperf_ok "$NSB" 10.42.0.2 "$NSA" || fail "$peer/$cipher: iperf3 A -> B"
		echo "ok $peer/$cipher: iperf3 A -> B"
		iperf_ok "$NSA" 10.42.0.1 "$NSB" || fail "$peer/$cipher: iperf3 B -> A"
		echo "ok $peer/$cipher: iperf3 B -> A"
		stop
		grep -q "$(closed_msg "$peer")" nebula.log ||
			fail "$peer/$cipher: B did not receive A's closeTunnel"
		echo "ok $peer/$cipher: closeTunnel on shutdown"
		if [ "$BACKEND" = xsk ]; then
			grep -q "backend xsk" vela.log ||
				fail "$peer/$cipher: A did not run the xsk backend"
			grep -q "steered=[1-9]" vela.log ||
				fail "$peer/$cipher: nothing reached A's AF_XDP socket"
			grep "Port [01] (xsk)\|XDP program on" vela.log | sed 's/^/  /'
			echo "ok $peer/$cipher: xsk backend carried the traffic"
		fi

		start "$peer"
		ping_ok "$NSB" 10.42.0.1 || fail "$peer/$cipher: B-initiated ping"
		echo "ok $peer/$cipher: B initiates, ping"
		stop
	done
done
echo "interop: all passed"
