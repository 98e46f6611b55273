#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A gateway routing a LAN into the Nebula network, against nebula 1.6.1,
# with the peer behind a router (not on the gateway's link):
#
#   ns L: LAN host          ns G: gateway               ns R: router        ns P: remote node
#   192.168.$N.10 --veth-- 192.168.$N.1                   (ip_forward)
#   default via .1          tun 10.45.0.1               172.38.$N.254
#                           $VG 172.38.$N.1 ----veth---- 172.39.$N.254 --veth-- 172.39.$N.2 $VP
#                           ip_forward=1, rp_filter=1                           tun 10.45.0.2
#
# The gateway's certificate carries the LAN (-subnets 192.168.$N.0/24,
# group gw); the remote node's carries none (group remote).
#
# Part 1: vela is the gateway, nebula the remote node, with
# tun.unsafe_routes [{route: 192.168.$N.0/24, via: 10.45.0.1}]. The
# gateway's rules: inbound ICMP, TCP 5201 and UDP 5300 from group remote;
# outbound any. Checked:
#   - LAN host -> remote node: ping, iperf3 (outbound rule, replies by
#     conntrack); dpctl flows lists the LAN host as the local side;
#   - remote node -> LAN host: ping, iperf3 to 5201, a UDP exchange on
#     5300; UDP 5301, which no rule allows, is dropped (FIREWALL_IN);
#   - what the gateway must refuse from its peer. nebula 1.6.1 does not
#     send a packet whose source is outside its own certificate: its
#     outbound firewall drops it (droppedLocalIP), so a SPOOFED drop
#     cannot be shown with the real binary (test_stages covers it). It
#     checks the destination against the gateway's certificate the same
#     way, except after a conntrack hit (§8: conntrack comes first). So:
#     the gateway restarts with a certificate without the LAN; nebula's
#     ICMP entry for the LAN host still lets its pings out, and the
#     gateway drops them as NOT_FOR_US, counted. The gateway itself no
#     longer sends the LAN's packets either (NOT_OURS, 1.6.1's
#     droppedLocalIP): its peer would drop them.
# Part 2, the reverse role: nebula is the gateway (same certificate), vela
# the remote node with the unsafe route. vela installs the kernel route
# through its TUN device and sends the LAN's traffic on the tunnel to the
# via host; ping and iperf3 to the LAN host, ping back from it.
#
# BACKEND=udp (default) or xsk: AF_XDP on vela's underlay veth ($VG in
# part 1, $VP in part 2), with 2 queues each way on the underlay links and
# a worker, hence a socket, on each queue (the router's forwarding picks
# the TX queue, hence our RX queue); dpctl must show frames steered and
# none on a queue without a socket. Needs root, nebula,
# iperf3, python3; exits 77 without. Every wait is bounded; namespaces and
# processes are removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
: "${DPCTL:?path to dpctl}"
. "$(dirname "$0")/lib.sh"
# One datagram each way (udp_probe.py has the modes), found before any cd.
UDP=$(realpath "$(dirname "$0")/udp_probe.py")
netns_require nebula iperf3 ping python3
BACKEND=${BACKEND:-udp}
WORKERS=1 Q=1
if [ "$BACKEND" = xsk ]; then
	WORKERS=2 Q=2 # as interop.sh: a socket on every queue a peer sends to
fi

# Four namespaces: lib.sh's NSA/NSB are the gateway and the remote node
# (netns_cleanup removes those two and the work dir), L and R are ours.
N=$(( $$ % 250 + 1 ))
NSA=gw-g-$$ NSB=gw-p-$$ NSL=gw-l-$$ NSR=gw-r-$$
VL=gwl$$ VGL=gwgl$$ VG=gwg$$ VRG=gwrg$$ VRP=gwrp$$ VP=gwp$$
LAN=192.168.$N HOST=192.168.$N.10 GW=10.45.0.1 NODE=10.45.0.2
WORK=$(mktemp -d /tmp/gateway.XXXXXX)
cleanup() {
	netns_cleanup
	ip netns del "$NSL" 2>/dev/null || true
	ip netns del "$NSR" 2>/dev/null || true
}
trap cleanup EXIT
for ns in "$NSA" "$NSB" "$NSL" "$NSR"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
veth() { # ns1 dev1 ns2 dev2 queues
	ip link add "$2" numtxqueues "$5" numrxqueues "$5" netns "$1" \
		type veth peer name "$4" numtxqueues "$5" numrxqueues "$5" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}
veth "$NSL" "$VL" "$NSA" "$VGL" 1
veth "$NSA" "$VG" "$NSR" "$VRG" $Q
veth "$NSR" "$VRP" "$NSB" "$VP" $Q
ip -n "$NSL" addr add "$HOST/24" dev "$VL"
ip -n "$NSA" addr add "$LAN.1/24" dev "$VGL"
ip -n "$NSA" addr add "172.38.$N.1/24" dev "$VG"
ip -n "$NSR" addr add "172.38.$N.254/24" dev "$VRG"
ip -n "$NSR" addr add "172.39.$N.254/24" dev "$VRP"
ip -n "$NSB" addr add "172.39.$N.2/24" dev "$VP"
ip -n "$NSL" route add default via "$LAN.1"
ip -n "$NSA" route add default via "172.38.$N.254"
ip -n "$NSB" route add default via "172.39.$N.254"
ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NSA" sysctl -qw net.ipv4.ip_forward=1
# Strict reverse-path filtering on the gateway (docs/deployment.md): it
# holds because every source has its route back through the interface
# it came in on (the LAN on $VGL, the VPN network on the TUN device).
ip netns exec "$NSA" sysctl -qw net.ipv4.conf.all.rp_filter=1
timeout 10 ip netns exec "$NSA" ping -c 1 -W 2 "172.39.$N.2" >/dev/null ||
	fail "the underlay does not route"
timeout 10 ip netns exec "$NSL" ping -c 1 -W 2 "$LAN.1" >/dev/null ||
	fail "the LAN link is down"

cd "$WORK"
"$VELA_CERT" ca -name gateway-ca -duration 2h
"$VELA_CERT" sign -name gw -ip $GW/24 -groups gw -subnets "$LAN.0/24"
"$VELA_CERT" sign -name node -ip $NODE/24 -groups remote
# The gateway's certificate once the LAN is taken off it.
"$VELA_CERT" sign -name gw -ip $GW/24 -groups gw -out-crt gw-nolan.crt -out-key gw-nolan.key

gw_yml() { # cert-basename daemon(vela|nebula)
	local dp=""
	[ "$2" = vela ] && dp="dataplane: {backend: $BACKEND, interface: $VG, workers: $WORKERS, mode: event, socket: $WORK/vela.sock}"
	cat <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/$1.crt, key: $WORK/$1.key}
static_host_map: {"$NODE": ["172.39.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: gw-tun, mtu: 1300}
logging: {level: info}
firewall:
  outbound:
    - {port: any, proto: any, host: any}
  inbound:
    - {port: any, proto: icmp, group: remote}
    - {port: 5201, proto: tcp, group: remote}
    - {port: 5300, proto: udp, group: remote}
$dp
YML
}
node_yml() { # daemon(vela|nebula)
	local dp=""
	[ "$1" = vela ] && dp="dataplane: {backend: $BACKEND, interface: $VP, workers: $WORKERS, mode: event, socket: $WORK/vela.sock}"
	cat <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/node.crt, key: $WORK/node.key}
static_host_map: {"$GW": ["172.38.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun:
  dev: node-tun
  mtu: 1300
  unsafe_routes:
    - {route: $LAN.0/24, via: $GW}
logging: {level: info}
firewall:
  outbound:
    - {port: any, proto: any, host: any}
  inbound:
    - {port: any, proto: icmp, host: any}
    - {port: 5201, proto: tcp, host: any}
$dp
YML
}


in_l() { ip netns exec "$NSL" "$@"; }
in_g() { ip netns exec "$NSA" "$@"; }
in_p() { ip netns exec "$NSB" "$@"; }
VELA_NS=$NSA
dp() { ip netns exec "$VELA_NS" "$DPCTL" -s "$WORK/vela.sock" "$@"; }
drops() { # reason: the count in dpctl show -j
	dp -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["drops"][sys.argv[1].lower()])' "$1"
}
has_flow() { # proto local-ip remote-ip: is the flow in dpctl flows?
	dp -j flows | python3 -c '
import json, sys
p, l, r = sys.argv[1:]
sys.exit(0 if any(f["proto"] == p and f["local_ip"] == l and f["remote_ip"] == r
                  for f in json.load(sys.stdin)["flows"]) else 1)' "$@"
}
# With BACKEND=xsk: vela runs it, and its XDP program steered datagrams.
xsk_check() { # who
	[ "$BACKEND" = xsk ] || return 0
	local st
	st=$(dp -j show | python3 -c '
import json, sys
d = json.load(sys.stdin)
x = d["xdp"] or {}
print(d["backend"], x.get("steered", 0), x.get("no_xsk", -1))')
	set -- "$1" $st
	[ "$2" = xsk ] && [ "$3" -gt 0 ] && [ "$4" = 0 ] ||
		fail "$1: backend, steered, no_xsk: $st"
	echo "ok: $1 on the xsk backend, $3 datagrams steered to its AF_XDP sockets, none to a queue without one"
}
ping_ok() { # ns dst
	timeout 20 ip netns exec "$1" ping -c 3 -W 2 -i 0.3 "$2" >/dev/null
}
iperf_ok() { # server-ns server-ip client-ns
	ip netns exec "$1" timeout 15 iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
	local srv=$! out
	sleep 0.5
	out=$(ip netns exec "$3" timeout 10 iperf3 -c "$2" -t 2 -J 2>/dev/null) ||
		{ kill $srv 2>/dev/null; return 1; }
	wait $srv || true
	python3 -c 'import json,sys; d=json.load(sys.stdin); bps=d["end"]["sum_received"]["bits_per_second"]; print("  %.0f Mbit/s" % (bps/1e6)); sys.exit(0 if bps > 0 else 1)' <<<"$out"
}
# The remote node sends MSG to the LAN host's PORT, which echoes it.
node_to_host() { # port msg
	rm -f "ready-$1"
	in_l python3 "$UDP" echo "$1" >/dev/null &
	local l=$! _
	for _ in $(seq 50); do [ -e "ready-$1" ] && break; sleep 0.1; done
	[ -e "ready-$1" ] || fail "listener $1 not ready"
	in_p python3 "$UDP" send 7100 $HOST "$1" "$2" wait
	wait $l || true
}
start() { # ns config daemon(vela|nebula) log
	if [ "$3" = vela ]; then
		ip netns exec "$1" "$VELA" -config "$WORK/$2" >>"$4" 2>&1 &
	else
		ip netns exec "$1" nebula -config "$WORK/$2" >>"$4" 2>&1 &
	fi
	PIDS+=($!)
	LAST_PID=$!
}
stop() { # pid: SIGTERM (vela sends closeTunnel), wait for the exit
	kill "$1" 2>/dev/null || true
	timeout 10 tail --pid="$1" -f /dev/null || true
}

echo "== part 1: vela gateway ($BACKEND), nebula remote node"
gw_yml gw vela >g.yml
node_yml nebula >p.yml
start "$NSB" p.yml nebula nebula.log; NEBULA_PID=$LAST_PID
start "$NSA" g.yml vela vela.log; VELA_PID=$LAST_PID
wait_dev "$NSA" gw-tun
wait_dev "$NSB" node-tun
ip -n "$NSB" route show "$LAN.0/24" | grep -q "dev node-tun" ||
	fail "nebula did not route the LAN: $(ip -n "$NSB" route)"

# The remote node's ping first: ICMP has no ports, so once the LAN host
# has pinged, the conntrack entry, not the inbound rule, would admit it.
ping_ok "$NSB" $HOST || fail "ping remote node -> LAN host"
echo "ok: ping remote node -> LAN host (inbound icmp from group remote)"
ping_ok "$NSL" $NODE || fail "ping LAN host -> remote node"
echo "ok: ping LAN host -> remote node through the gateway"
iperf_ok "$NSB" $NODE "$NSL" || fail "iperf3 LAN host -> remote node"
echo "ok: iperf3 LAN host -> remote node"
has_flow tcp $HOST $NODE || fail "no flow for the LAN host: $(dp flows)"
echo "ok: dpctl flows has the LAN host's connection"

iperf_ok "$NSL" $HOST "$NSB" || fail "iperf3 remote node -> LAN host:5201"
echo "ok: iperf3 remote node -> LAN host:5201 (inbound tcp 5201)"
got=$(node_to_host 5300 hello)
[ "$got" = answer:hello ] || fail "UDP 5300 remote node <-> LAN host: $got"
echo "ok: UDP exchange remote node <-> LAN host on 5300"
before=$(drops FIREWALL_IN)
got=$(node_to_host 5301 refused)
[ "$got" = timeout ] || fail "UDP 5301 passed without a rule: $got"
after=$(drops FIREWALL_IN)
[ "$after" -gt "$before" ] || fail "FIREWALL_IN went $before -> $after on UDP 5301"
echo "ok: UDP 5301 (no rule) dropped and counted ($before -> $after)"
dp flows | sed 's/^/  /'
[ "$(drops SPOOFED)" = 0 ] && [ "$(drops NOT_FOR_US)" = 0 ] ||
	fail "legitimate traffic counted as spoofed or not for us: $(dp show)"

xsk_check gateway

# The LAN off the gateway's certificate; nebula keeps its ICMP conntrack
# entry for the LAN host (10 minutes), so its pings still leave.
stop "$VELA_PID"
grep -q "Close tunnel received" nebula.log || fail "no closeTunnel from the gateway"
gw_yml gw-nolan vela >g.yml
start "$NSA" g.yml vela vela.log; VELA_PID=$LAST_PID
wait_dev "$NSA" gw-tun
for _ in $(seq 50); do dp show >/dev/null 2>&1 && break; sleep 0.1; done
ping_ok "$NSB" $HOST && fail "ping to the LAN passed a gateway whose certificate lacks it"
[ "$(drops NOT_FOR_US)" -gt 0 ] ||
	fail "the gateway did not count NOT_FOR_US: $(dp show)"
# A tuple nebula has no entry for: its own firewall refuses it (the
# LAN is not in the gateway's certificate any more), nothing arrives.
n=$(drops NOT_FOR_US)
[ "$(in_p python3 "$UDP" send 7101 $HOST 5300 fresh wait)" = timeout ] ||
	fail "UDP to the LAN passed a gateway whose certificate lacks it"
[ "$(drops NOT_FOR_US)" = "$n" ] ||
	fail "nebula sent a new flow to a LAN outside the gateway's certificate"
[ "$(dp -j tunnels | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tunnels"]))')" = 1 ] ||
	fail "no tunnel to the remote node: the drop is not the peer's packets"
echo "ok: gateway without the LAN in its certificate: nebula's packets to the LAN dropped as NOT_FOR_US ($(drops NOT_FOR_US))"
# Nor does the gateway send what 1.6.1 would not (droppedLocalIP): the
# LAN host's packets, from outside its certificate now.
sent() { dp -j tunnels | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["tx_packets"])'; }
tx=$(sent)
ping_ok "$NSL" $NODE && fail "the LAN host's ping left a gateway whose certificate lacks the LAN"
# (Its answer to a liveness test request from nebula may leave meanwhile.)
[ "$(drops NOT_OURS)" -ge 3 ] && [ $(( $(sent) - tx )) -lt 3 ] ||
	fail "the LAN host's pings: NOT_OURS $(drops NOT_OURS), sent $tx -> $(sent)"
echo "ok: and the LAN host's packets are not sent: NOT_OURS ($(drops NOT_OURS))"
stop "$VELA_PID"
stop "$NEBULA_PID"

echo "== part 2: nebula gateway, vela remote node ($BACKEND) with unsafe_routes"
gw_yml gw nebula >g.yml
node_yml vela >p.yml
VELA_NS=$NSB
mv nebula.log nebula-part1.log; mv vela.log vela-part1.log
start "$NSA" g.yml nebula nebula.log; NEBULA_PID=$LAST_PID
start "$NSB" p.yml vela vela.log; VELA_PID=$LAST_PID
wait_dev "$NSA" gw-tun
wait_dev "$NSB" node-tun
for _ in $(seq 50); do
	ip -n "$NSB" route show "$LAN.0/24" | grep -q "dev node-tun" && break
	sleep 0.1
done
ip -n "$NSB" route show "$LAN.0/24" | grep -q "dev node-tun" ||
	fail "vela did not install the unsafe route: $(ip -n "$NSB" route)"
echo "ok: vela installed $(ip -n "$NSB" route show "$LAN.0/24")"
ping_ok "$NSB" $HOST || fail "ping vela node -> LAN host via the nebula gateway"
echo "ok: ping vela node -> LAN host via the nebula gateway"
iperf_ok "$NSL" $HOST "$NSB" || fail "iperf3 vela node -> LAN host"
echo "ok: iperf3 vela node -> LAN host"
ping_ok "$NSL" $NODE || fail "ping LAN host -> vela node"
echo "ok: ping LAN host -> vela node (source in the gateway's certificate)"
tun=$(dp -j tunnels | python3 -c 'import json,sys; print(" ".join(t["vpn_ip"] for t in json.load(sys.stdin)["tunnels"]))')
[ "$tun" = $GW ] || fail "vela's tunnels: '$tun', want only the via host $GW"
has_flow tcp $NODE $HOST || fail "no flow to the LAN host: $(dp flows)"
[ "$(drops SPOOFED)" = 0 ] || fail "the LAN host's packets counted as spoofed"
echo "ok: the LAN's traffic rode the tunnel to the via host $GW"
xsk_check "remote node"
echo "gateway ($BACKEND): all passed"
