#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Restarts under traffic (DESIGN.md §1), vela against the real nebula:
#
#   ns vela-ra-$$ : vela 10.43.0.1  --veth--  ns vela-rb-$$ : nebula 10.43.0.2
#
# 1. kill -9 vela-control during an iperf3 run through the tunnel: every
#    second of it moves data, the supervisor restarts the control plane,
#    which adopts the dataplane's tunnel -- nebula sees no new handshake.
# 2. kill -9 vela-dataplane: the supervisor restarts it, the control plane
#    re-installs the tunnel (send counters above every lease granted), and
#    traffic resumes -- again without a handshake.
#
# BACKEND=xsk runs vela on AF_XDP (its veth end): the XDP program a killed
# dataplane leaves behind is replaced by the restarted one.
#
# Needs root and nebula; exits 77 otherwise. Bounded; cleans up on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
. "$(dirname "$0")/lib.sh"
netns_require nebula ping pgrep iperf3 python3
netns_pair vela-restart 30
BACKEND=${BACKEND:-udp}

cd "$WORK"
"$VELA_CERT" ca -name restart-ca -duration 2h
"$VELA_CERT" sign -name vela-a -ip 10.43.0.1/24
"$VELA_CERT" sign -name nebula-b -ip 10.43.0.2/24
cat >a.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/vela-a.crt, key: $WORK/vela-a.key}
static_host_map: {"10.43.0.2": ["172.30.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: vela-a}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
dataplane: {backend: $BACKEND, interface: $VA, workers: 1, mode: event, socket: $WORK/vela.sock}
YML
cat >b.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/nebula-b.crt, key: $WORK/nebula-b.key}
static_host_map: {"10.43.0.1": ["172.30.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: nebula-b}
logging: {level: debug}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML

ip netns exec "$NSB" nebula -config b.yml >nebula.log 2>&1 &
PIDS+=($!)
ip netns exec "$NSA" "$VELA" -config "$WORK/a.yml" >vela.log 2>&1 &
PIDS+=($!)

handshakes() { grep -c "Handshake message received\|Handshake message sent" nebula.log || true; }
daemon_pid() { pgrep -f "$1.*$WORK/" | head -n1; }

wait_dev "$NSA" vela-a
wait_dev "$NSB" nebula-b
timeout 20 ip netns exec "$NSA" ping -c 3 -W 2 -i 0.3 10.43.0.2 >/dev/null ||
	fail "no tunnel to start with"
before=$(handshakes)
echo "ok tunnel up ($before handshake log lines on nebula)"

# 1. The control plane dies during iperf3; the dataplane keeps forwarding.
ip netns exec "$NSA" timeout 20 iperf3 -s -1 -B 10.43.0.1 >/dev/null 2>&1 &
SRV=$!
sleep 0.5
ip netns exec "$NSB" timeout 15 iperf3 -c 10.43.0.1 -t 5 -i 1 -J >iperf.json 2>&1 &
CLI=$!
sleep 1.5
ctl=$(daemon_pid vela-control)
[ -n "$ctl" ] || fail "vela-control not running"
kill -9 "$ctl"
wait $CLI || fail "iperf3 failed while vela-control was down"
wait $SRV || true
# Every one-second interval, those after the kill included, moved data.
python3 - iperf.json <<'PY' || fail "traffic stopped with the control plane"
import json, sys
iv = json.load(open(sys.argv[1]))["intervals"]
rates = [i["sum"]["bits_per_second"] for i in iv]
print("  intervals (Mbit/s):", " ".join("%.0f" % (r / 1e6) for r in rates))
sys.exit(0 if len(rates) >= 5 and min(rates) > 0 else 1)
PY
echo "ok iperf3 kept running while vela-control was killed"
for _ in $(seq 50); do grep -q "Adopted tunnel" vela.log && break; sleep 0.1; done
grep -q "Adopted tunnel" vela.log || fail "restarted vela-control did not adopt the tunnel"
[ "$(handshakes)" -eq "$before" ] || fail "a new handshake happened after the control restart"
echo "ok vela-control restarted and adopted the tunnel without a handshake"

# 2. The dataplane dies; it is restarted and the tunnel re-installed.
dp=$(daemon_pid vela-dataplane)
[ -n "$dp" ] || fail "vela-dataplane not running"
kill -9 "$dp"
ok=0
for _ in $(seq 30); do
	if ip netns exec "$NSB" ping -c 1 -W 1 10.43.0.1 >/dev/null 2>&1; then ok=1; break; fi
done
[ $ok -eq 1 ] || fail "traffic did not resume after the dataplane restart"
timeout 10 ip netns exec "$NSA" ping -c 3 -W 2 -i 0.3 10.43.0.2 >/dev/null ||
	fail "vela cannot reach nebula after the dataplane restart"
[ "$(handshakes)" -eq "$before" ] || fail "a new handshake happened after the dataplane restart"
echo "ok vela-dataplane restarted, tunnel re-installed without a handshake"
if [ "$BACKEND" = xsk ]; then
	[ "$(grep -c "backend xsk" vela.log)" -ge 2 ] ||
		fail "the restarted dataplane did not come back on xsk"
	echo "ok the restarted dataplane took over the XDP program and runs xsk"
fi
echo "restart: all passed"
