#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Nebula's firewall in vela (spec §8), against the real nebula 1.6.1:
#
#   ns fw-a-$$  vela 10.43.0.1 (group gw)  ==veth==  ns fw-b-$$  nebula 10.43.0.2
#                                                    (groups web, ops)
#
# A's rules: inbound UDP 5000 for group web, UDP 5002 for group nope, TCP
# 5201 for web (iperf3), ICMP from anyone; outbound UDP 6000 only; UDP
# conntrack timeout 3 s. Checked, through dpctl and real traffic:
#   - allowed port and group pass; another port, or a group B lacks, is
#     dropped and counted (FIREWALL_IN);
#   - replies pass through conntrack: B's ping gets A's echo reply, which
#     no outbound rule allows; B's answer from 6000 reaches A's port 7000,
#     which no inbound rule allows;
#   - dpctl flows shows the connection with its counters, -z zeroes them;
#   - after 3 s without traffic the flow is gone and the same answer is
#     dropped;
#   - SIGHUP with a new rule (UDP 5001) under iperf3 load: the rule takes
#     effect, the tunnel (its indexes) stays, iperf3 runs to the end;
#   - systemd's Type=notify protocol: READY=1 at start, RELOADING=1 with
#     MONOTONIC_USEC and READY=1 again around the reload.
#
# BACKEND=udp (default) or xsk. Needs root, nebula, iperf3, python3;
# exits 77 without. Every wait is bounded; everything is removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
: "${DPCTL:?path to dpctl}"
. "$(dirname "$0")/lib.sh"
# One datagram each way (udp_probe.py has the modes), found before any cd.
UDP=$(realpath "$(dirname "$0")/udp_probe.py")
netns_require nebula iperf3 ping python3
BACKEND=${BACKEND:-udp}
WORKERS_A=1
if [ "$BACKEND" = xsk ]; then
	export VETH_QUEUES=2 # as interop.sh: a socket on every queue
	WORKERS_A=2
fi
netns_pair fw 43
A=10.43.0.1 B=10.43.0.2

cd "$WORK"
"$VELA_CERT" ca -name fw-ca -duration 2h
"$VELA_CERT" sign -name vela-a -ip $A/24 -groups gw
"$VELA_CERT" sign -name nebula-b -ip $B/24 -groups web,ops

write_a() { # extra inbound rule lines
	cat >a.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/vela-a.crt, key: $WORK/vela-a.key}
static_host_map: {"$B": ["172.43.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: fw-a, mtu: 1300}
logging: {level: info}
firewall:
  conntrack: {udp_timeout: 3s}
  outbound:
    - {port: 6000, proto: udp, host: any}
  inbound:
    - {port: 5000, proto: udp, group: web}
    - {port: 5002, proto: udp, group: nope}
    - {port: 5201, proto: tcp, groups: [web, ops]}
    - {port: any, proto: icmp, host: any}
$1
dataplane: {backend: $BACKEND, interface: $VA, workers: $WORKERS_A, mode: event, socket: $WORK/vela.sock}
YML
}
write_a ""
cat >b.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/nebula-b.crt, key: $WORK/nebula-b.key}
static_host_map: {"$A": ["172.43.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: fw-b, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML


ip netns exec "$NSB" nebula -config b.yml >nebula.log 2>&1 &
PIDS+=($!)
# systemd's end of Type=notify: every state vela reports, one per line.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.time() + 150
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            log.write(s.recv(512).decode().replace("\n", " ") + "\n")
        except socket.timeout:
            pass
' "$WORK/notify.sock" "$WORK/notify.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$WORK/notify.sock ip netns exec "$NSA" "$VELA" -config "$WORK/a.yml" >vela.log 2>&1 &
PIDS+=($!); VELA_PID=$!
wait_dev "$NSA" fw-a
wait_dev "$NSB" fw-b

in_a() { ip netns exec "$NSA" "$@"; }
in_b() { ip netns exec "$NSB" "$@"; }
dp() { in_a "$DPCTL" -s "$WORK/vela.sock" "$@"; }
drops() { # reason: the count in dpctl show -j
	dp -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["drops"][sys.argv[1].lower()])' "$1"
}
wait_ready() { local _; for _ in $(seq 50); do [ -e "ready-$1" ] && return; sleep 0.1; done; fail "listener $1 not ready"; }

# B sends MSG to A:PORT; prints what A's listener got ("timeout" if nothing).
b_to_a() { # port msg
	rm -f "ready-$1"
	in_a python3 "$UDP" recv "$1" >got &
	local l=$!
	wait_ready "$1"
	in_b python3 "$UDP" send 7100 $A "$1" "$2"
	wait $l
	cat got
}

# A's ping first: ICMP has no ports, so once B has pinged, A's echo
# requests would match B's conntrack entry (1.6.1 behaves the same).
timeout 8 ip netns exec "$NSA" ping -c 2 -W 2 $B >/dev/null &&
	fail "ping from A passed: no outbound rule allows icmp"
echo "ok: ping A -> B refused (no outbound icmp rule)"
# B's ping: the echo reply leaves through conntrack.
timeout 20 ip netns exec "$NSB" ping -c 3 -W 2 -i 0.3 $A >/dev/null ||
	fail "ping from B (inbound icmp, reply by conntrack)"
echo "ok: ping B -> A, the reply by conntrack"

[ "$(b_to_a 5000 allowed)" = allowed ] || fail "UDP 5000 for group web"
echo "ok: UDP 5000 from group web"
before=$(drops FIREWALL_IN)
[ "$(b_to_a 5001 port)" = timeout ] || fail "UDP 5001 passed without a rule"
[ "$(b_to_a 5002 group)" = timeout ] || fail "UDP 5002 passed: B is not in group nope"
after=$(drops FIREWALL_IN)
[ "$after" -ge $((before + 2)) ] || fail "FIREWALL_IN went $before -> $after, want +2"
echo "ok: UDP 5001 (no rule) and 5002 (other group) dropped and counted ($before -> $after)"

# Conntrack: A asks B:6000 from port 7000; B answers to 7000.
rm -f ready-6000
in_b python3 "$UDP" echo 6000 >/dev/null &
e=$!
wait_ready 6000
got=$(in_a python3 "$UDP" send 7000 $B 6000 question wait)
wait $e
[ "$got" = answer:question ] || fail "answer from B:6000 to A:7000: $got"
echo "ok: the answer to A's outbound UDP came back through conntrack"

flow() { # field of the flow A:7000 <-> B:6000, or "none"
	dp -j flows "${@:2}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
f = [f for f in d["flows"] if f["proto"] == "udp" and f["local_port"] == 7000 and f["remote_port"] == 6000]
print(f[0][sys.argv[1]] if f else "none")' "$1"
}
[ "$(flow out_packets)" = 1 ] && [ "$(flow in_packets)" = 1 ] ||
	fail "dpctl flows: $(dp flows)"
dp flows | sed 's/^/  /'
[ "$(flow in_bytes -z)" -gt 0 ] || fail "dpctl flows -z returned no bytes"
[ "$(flow in_packets)" = 0 ] || fail "dpctl flows -z did not zero the counters"
echo "ok: dpctl flows shows the connection; -z zeroes its counters"

sleep 3.5
[ "$(flow in_packets)" = none ] || fail "flow still there after udp_timeout: $(dp flows)"
before=$(drops FIREWALL_IN)
in_b python3 "$UDP" send 6000 $A 7000 late
sleep 0.5
[ "$(drops FIREWALL_IN)" -gt "$before" ] || fail "late answer not dropped after the flow expired"
echo "ok: the flow expired after udp_timeout; a late answer is dropped"

# Reload under load: iperf3 B -> A:5201 while SIGHUP adds UDP 5001.
idx=$(dp -j tunnels | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnels"]; print(t[0]["local_index"], t[0]["remote_index"])')
in_a timeout 20 iperf3 -s -1 -B $A >/dev/null 2>&1 &
srv=$!
sleep 0.5
in_b timeout 15 iperf3 -c $A -t 4 -J >iperf.json 2>&1 &
cli=$!
sleep 1.5
write_a "    - {port: 5001, proto: udp, host: any}"
kill -HUP "$VELA_PID"
for _ in $(seq 50); do grep -q "New firewall has been installed" vela.log && break; sleep 0.1; done
grep -q "New firewall has been installed" vela.log || fail "SIGHUP: no new firewall"
# Type=notify: ready at start, then reloading and ready again.
grep -q '^READY=1$' notify.log || fail "vela sent no READY=1: $(cat notify.log)"
grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9][0-9]*$' notify.log ||
	fail "vela sent no RELOADING=1 with MONOTONIC_USEC: $(cat notify.log)"
[ "$(tail -n 1 notify.log)" = READY=1 ] || fail "not READY after the reload: $(cat notify.log)"
echo "ok: sd_notify READY=1, RELOADING=1, READY=1"
wait $cli || fail "iperf3 through the reload: $(tail -n 5 iperf.json)"
wait $srv || true
python3 -c 'import json,sys; d=json.load(open("iperf.json")); bps=d["end"]["sum_received"]["bits_per_second"]; print("  iperf3 across the reload: %.0f Mbit/s" % (bps/1e6)); sys.exit(0 if bps > 0 else 1)' ||
	fail "iperf3 moved nothing"
[ "$(b_to_a 5001 reloaded)" = reloaded ] || fail "UDP 5001 after the reload"
now=$(dp -j tunnels | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnels"]; print(t[0]["local_index"], t[0]["remote_index"])')
[ "$now" = "$idx" ] || fail "the tunnel changed across the reload: $idx -> $now"
dp show | grep -i firewall | sed 's/^/  /'
echo "ok: SIGHUP under iperf3 load: new rule in force, same tunnel ($idx)"
echo "firewall ($BACKEND): all passed"
