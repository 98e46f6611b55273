#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vela on the xsk backend with its peer behind a router, so the frames it
# builds must carry the gateway's MAC (DESIGN §3, "L2 for AF_XDP TX"):
#
#   ns A: vela 10.44.0.1       ns R: router (ip_forward)      ns B: nebula 10.44.0.2
#   $VA 172.36.$N.1/24 --veth-- 172.36.$N.254 | 172.37.$N.254 --veth-- 172.37.$N.2
#   default via 172.36.$N.254                         default via 172.37.$N.254
#
# A ping and an iperf3 run each way through the tunnel; A's log must show
# datagrams sent on the TX ring (the next hop resolved to the router) and
# received through its AF_XDP socket.
#
# Needs root, nebula, iperf3; exits 77 (skipped) otherwise.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
. "$(dirname "$0")/lib.sh"
netns_require nebula iperf3 ping python3

N=$(( $$ % 250 + 1 ))
NSA=vela-rt-a-$$ NSB=vela-rt-b-$$ NSR=vela-rt-r-$$
VA=vta$$ VB=vtb$$ RA=vra$$ RB=vrb$$
WORK=$(mktemp -d /tmp/vela-routed.XXXXXX)
cleanup() { netns_cleanup; ip netns del "$NSR" 2>/dev/null || true; }
trap cleanup EXIT
for ns in "$NSA" "$NSB" "$NSR"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add "$VA" netns "$NSA" type veth peer name "$RA" netns "$NSR"
ip link add "$VB" netns "$NSB" type veth peer name "$RB" netns "$NSR"
ip -n "$NSA" addr add "172.36.$N.1/24" dev "$VA"
ip -n "$NSR" addr add "172.36.$N.254/24" dev "$RA"
ip -n "$NSR" addr add "172.37.$N.254/24" dev "$RB"
ip -n "$NSB" addr add "172.37.$N.2/24" dev "$VB"
for l in "$NSA $VA" "$NSB $VB" "$NSR $RA" "$NSR $RB"; do
	set -- $l; ip -n "$1" link set "$2" up
done
ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NSA" route add default via "172.36.$N.254"
ip -n "$NSB" route add default via "172.37.$N.254"
timeout 10 ip netns exec "$NSA" ping -c 1 -W 2 "172.37.$N.2" >/dev/null ||
	fail "the underlay does not route"

cd "$WORK"
"$VELA_CERT" ca -name routed-ca -duration 2h
"$VELA_CERT" sign -name vela-a -ip 10.44.0.1/24
"$VELA_CERT" sign -name nebula-b -ip 10.44.0.2/24
cat >a.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/vela-a.crt, key: $WORK/vela-a.key}
static_host_map: {"10.44.0.2": ["172.37.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: vela-a, mtu: 1300}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
dataplane: {backend: xsk, interface: $VA, workers: 1, mode: event, socket: $WORK/vela.sock}
YML
cat >b.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/nebula-b.crt, key: $WORK/nebula-b.key}
static_host_map: {"10.44.0.1": ["172.36.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: nebula-b, mtu: 1300}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML

ip netns exec "$NSB" nebula -config b.yml >nebula.log 2>&1 &
PIDS+=($!)
ip netns exec "$NSA" "$VELA" -config "$WORK/a.yml" >vela.log 2>&1 &
PIDS+=($!); VELA_PID=$!
wait_dev "$NSA" vela-a
wait_dev "$NSB" nebula-b

timeout 20 ip netns exec "$NSA" ping -c 3 -W 2 -i 0.3 10.44.0.2 >/dev/null ||
	fail "ping A -> B through the router"
echo "ok ping through the router"
for dir in AB BA; do
	if [ $dir = AB ]; then srv=$NSB ip=10.44.0.2 cli=$NSA; else srv=$NSA ip=10.44.0.1 cli=$NSB; fi
	ip netns exec "$srv" timeout 15 iperf3 -s -1 -B "$ip" >/dev/null 2>&1 &
	s=$!
	sleep 0.5
	ip netns exec "$cli" timeout 10 iperf3 -c "$ip" -t 2 >/dev/null 2>&1 ||
		fail "iperf3 $dir through the router"
	wait $s || true
	echo "ok iperf3 $dir through the router"
done
kill "$VELA_PID"
timeout 10 tail --pid="$VELA_PID" -f /dev/null || true
grep "Port 0 (xsk)\|XDP program on" vela.log | sed 's/^/  /'
line=$(grep "Port 0 (xsk)" vela.log) || fail "no port summary"
ring_tx=$(sed -n 's/.*; tx \([0-9]*\) on the ring.*/\1/p' <<<"$line")
ring_rx=$(sed -n 's/.*: rx \([0-9]*\) from the ring.*/\1/p' <<<"$line")
[ "${ring_tx:-0}" -gt 1000 ] || fail "few datagrams left on the TX ring ($ring_tx)"
[ "${ring_rx:-0}" -gt 1000 ] || fail "few datagrams came through the RX ring ($ring_rx)"
echo "ok $ring_tx sent on the TX ring to the router's MAC, $ring_rx received on the RX ring"
echo "xsk-routed: all passed"
