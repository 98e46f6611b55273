#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# TUN segmentation offloads (DESIGN.md §4) between two vela nodes:
#
#   ns vela-tunoff-a-$$                  ns vela-tunoff-b-$$
#   +-------------------------+          +-------------------------+
#   | vela (udp backend)      |   veth   | vela (udp backend)      |
#   | 172.32.$N.1:4242        |----------| 172.32.$N.2:4242        |
#   | tun tunoff-a 10.44.0.1  |          | tun tunoff-b 10.44.0.2  |
#   +-------------------------+          +-------------------------+
#
# Both dataplanes open their TUN with IFF_VNET_HDR and TSO/USO. Through the
# tunnel: ping both ways, iperf3 TCP both ways, iperf3 UDP, and UDP sent
# with UDP_SEGMENT (a USO super-packet on the sender's TUN) counted
# datagram by datagram at the receiver. Then `dpctl show -j` on each node
# must prove the offload paths ran: super-packets read and split into
# more segments than frames (the sending side of a TCP stream), and
# super-packets written (the receiving side), no frame refused.
#
# IPERF_SECS (default 3) sets each iperf3 run's length, e.g. 10 for a
# sustained run in a sanitizer build.
#
# Needs root, iperf3, python3; exits 77 (skipped) otherwise, and when the
# kernel gives no offloads (the log says why). Every step is bounded;
# namespaces and processes are removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
: "${DPCTL:?path to dpctl}"
. "$(dirname "$0")/lib.sh"
netns_require iperf3 ping python3
netns_pair vela-tunoff 32

cd "$WORK"
"$VELA_CERT" ca -name tunoff-ca -duration 2h
"$VELA_CERT" sign -name node-a -ip 10.44.0.1/24 -groups vela
"$VELA_CERT" sign -name node-b -ip 10.44.0.2/24 -groups vela

config() { # name me peer-vpn peer-underlay workers
	cat <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/node-$1.crt, key: $WORK/node-$1.key}
static_host_map: {"$3": ["$4:4242"]}
# Socket buffers big enough that the UDP tests lose nothing underneath.
listen: {host: 0.0.0.0, port: 4242, read_buffer: 4194304, write_buffer: 4194304}
punchy: {punch: false}
cipher: aes
tun: {dev: tunoff-$1, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
dataplane: {backend: udp, workers: $5, mode: adaptive, socket: $WORK/$1.sock}
YML
}
config a 10.44.0.1 10.44.0.2 "172.32.$N.2" 1 >a.yml
config b 10.44.0.2 10.44.0.1 "172.32.$N.1" 2 >b.yml

ip netns exec "$NSB" "$VELA" -config "$WORK/b.yml" >>nebula.log 2>&1 &
PIDS+=($!); PID_B=$!
ip netns exec "$NSA" "$VELA" -config "$WORK/a.yml" >>vela.log 2>&1 &
PIDS+=($!); PID_A=$!
wait_dev "$NSA" tunoff-a
wait_dev "$NSB" tunoff-b

for log in vela.log nebula.log; do
	for _ in $(seq 50); do
		grep -q "offloads " "$log" && break
		sleep 0.1
	done
	line=$(grep -m1 "offloads " "$log") || fail "$log: no offloads line"
	echo "$log: ${line#*msg=}"
	if grep -q "offloads off" <<<"$line"; then
		echo "skip: this kernel gives the TUN no offloads"
		exit 77
	fi
done

ping_ok() { # ns dst
	timeout 20 ip netns exec "$1" ping -c 3 -W 2 -i 0.3 "$2" >/dev/null
}

# iperf3 for IPERF_SECS, TCP or (with extra args) UDP; bytes received > 0.
iperf_ok() { # server-ns server-ip client-ns [iperf3 args]
	local srv_ns=$1 ip=$2 cli_ns=$3
	shift 3
	local secs=${IPERF_SECS:-3}
	ip netns exec "$srv_ns" timeout $((secs + 17)) iperf3 -s -1 -B "$ip" >/dev/null 2>&1 &
	local srv=$!
	sleep 0.5
	local out
	out=$(ip netns exec "$cli_ns" timeout $((secs + 12)) iperf3 -c "$ip" -t "$secs" -J "$@" 2>/dev/null) ||
		{ kill $srv 2>/dev/null; return 1; }
	wait $srv || true
	python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
s = e.get("sum_received") or e["sum"]
print("  %.0f Mbit/s received" % (s["bits_per_second"] / 1e6))
sys.exit(0 if s["bytes"] > 0 else 1)' <<<"$out"
}

# UDP_SEGMENT: one send of 20 datagrams is one USO frame on A's TUN.
uso_ok() {
	rm -f ready
	ip netns exec "$NSB" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
s.bind(("10.44.0.2", 5001))
open("ready", "w").close()
s.settimeout(3)
n = 0
per_send = [0] * 10
try:
    while n < 200:
        d, _ = s.recvfrom(65535)
        assert len(d) == 1000 and d == bytes([d[0]]) * 1000, len(d)
        per_send[d[0]] += 1
        n += 1
except socket.timeout:
    pass
print(n)
print("  datagrams per send:", per_send, file=sys.stderr)' >uso.out 2>uso.err &
	local rx=$!
	for _ in $(seq 50); do [ -e ready ] && break; sleep 0.1; done
	ip netns exec "$NSA" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)  # UDP_SEGMENT
s.connect(("10.44.0.2", 5001))
for i in range(10):
    s.send(bytes([i]) * 20000)'
	wait $rx || true
	echo "  USO: $(cat uso.out) of 200 datagrams"
	cat uso.err
	if [ "$(cat uso.out)" -lt 200 ]; then
		# Where the rest went: socket buffers (kernel counters), not us.
		local ns
		for ns in "$NSA" "$NSB"; do
			echo "  $ns: $(ip netns exec "$ns" nstat -az UdpRcvbufErrors UdpSndbufErrors UdpInErrors 2>/dev/null | tail -n +2 | awk '{printf "%s=%s ", $1, $2}')"
		done
	fi
	# A's reads are counted by dpctl below; here, every datagram arrived.
	[ "$(cat uso.out)" -eq 200 ]
}

ping_ok "$NSA" 10.44.0.2 || fail "ping A -> B"
ping_ok "$NSB" 10.44.0.1 || fail "ping B -> A"
echo "ok: ping both ways"
iperf_ok "$NSB" 10.44.0.2 "$NSA" || fail "iperf3 TCP A -> B"
echo "ok: iperf3 TCP A -> B"
iperf_ok "$NSA" 10.44.0.1 "$NSB" || fail "iperf3 TCP B -> A"
echo "ok: iperf3 TCP B -> A"
iperf_ok "$NSB" 10.44.0.2 "$NSA" -u -b 50M -l 1200 || fail "iperf3 UDP A -> B"
echo "ok: iperf3 UDP A -> B"
if grep -q uso4 vela.log; then
	uso_ok || fail "UDP_SEGMENT A -> B"
	echo "ok: UDP_SEGMENT A -> B"
fi

# Both nodes sent and received a TCP stream: each read super-packets
# (its sender side) and wrote coalesced ones (its receiver side).
check_counters() { # name ns socket
	ip netns exec "$2" "$DPCTL" -s "$3" show -j >"$1.json" ||
		fail "$1: dpctl show -j"
	python3 - "$1" "$1.json" <<'PY' || fail "$1: offload counters"
import json, sys
name, path = sys.argv[1], sys.argv[2]
j = json.load(open(path))
t = j["total"]
print("  %s: tun_offloads %s; reads: %d frames, %d gso -> %d segments, "
      "%d packets; writes: %d, %d supers of %d packets, %d packets"
      % (name, j["tun_offloads"], t["tun_rx_frames"], t["tun_rx_gso_frames"],
         t["tun_rx_segments"], t["tun_rx_packets"], t["tun_tx_writes"],
         t["tun_tx_supers"], t["tun_tx_coalesced"], t["tun_tx_packets"]))
print("  %s: drops %s, port %s" % (name,
      {k: v for k, v in t["drops"].items() if v},
      {k: v for k, v in t["port"].items() if v and k.startswith(("rx_t", "tx_e"))}))
assert "tso4" in j["tun_offloads"], j["tun_offloads"]
assert t["tun_rx_gso_frames"] > 0, "no super-packet read"
assert t["tun_rx_segments"] > t["tun_rx_gso_frames"], "super-packets of 1"
assert t["tun_rx_packets"] > t["tun_rx_frames"], "no more packets than reads"
assert t["tun_tx_supers"] > 0, "no super-packet written"
assert t["tun_tx_coalesced"] > t["tun_tx_supers"], "super-packets of 1"
assert t["tun_tx_packets"] > t["tun_tx_writes"], "no fewer writes than packets"
assert t["drops"]["tun_vnet"] == 0, "frames refused"
PY
}
check_counters a "$NSA" "$WORK/a.sock"
check_counters b "$NSB" "$WORK/b.sock"
echo "ok: dpctl shows split reads and coalesced writes on both nodes"

# A clean stop, then nothing from a sanitizer (ASan, UBSan, LSan builds)
# in either node's log: buffers handed to read/writev stayed owned.
for p in "$PID_A" "$PID_B"; do
	kill "$p" 2>/dev/null || true
	timeout 10 tail --pid="$p" -f /dev/null || true
done
! grep -E "Sanitizer|runtime error" vela.log nebula.log ||
	fail "sanitizer report in a node's log"
echo "ok: clean stop, no sanitizer report"
echo "tun_offload: all passed"
