#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SIGHUP reload of the PKI in vela (pki.ca, pki.cert, pki.key), as nebula
# 1.6.1's reloadCA and reloadCertKey do it, against the real nebula 1.6.1:
#
#   ns rl-a-$$  vela 10.47.0.1  ==veth==  ns rl-b-$$  nebula 10.47.0.2
#   cert by rl-ca, group old              cert by rl-ca2, group web
#
# B's firewall lets in UDP 5000 only from group new; A's lets in UDP 5001
# only from certificates issued by the CA named rl-ca2 (ca_name). Checked:
#   (a) A's certificate replaced (same IP, groups old,new, new key) and
#       SIGHUP: logged as refreshed, the tunnel (its indexes) stays and
#       still carries traffic; after nebula restarts, its handshake gets
#       the new certificate (the fingerprint nebula logs) and B's group
#       rule lets A's UDP 5000 in;
#   (b) a certificate with another IP: refused with a clear line, the old
#       one stays, traffic goes on, the next handshake still presents it;
#   (c) a CA file that does not parse: refused, the old pool stays (a new
#       handshake from B still verifies);
#   (d) rl-ca2 taken out of A's pool: the tunnel stays (no
#       pki.disconnect_invalid), but its firewall identity loses the CA
#       name, so a new UDP 5001 flow is dropped (FIREWALL_IN); put back,
#       it passes again -- each time without a new handshake.
#
# Needs root, nebula, python3; exits 77 without. Every wait is bounded;
# everything is removed on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
: "${DPCTL:?path to dpctl}"
. "$(dirname "$0")/lib.sh"
netns_require nebula ping python3
netns_pair rl 47
A=10.47.0.1 B=10.47.0.2

cd "$WORK"
"$VELA_CERT" ca -name rl-ca -duration 2h -out-crt ca1.crt -out-key ca1.key
"$VELA_CERT" ca -name rl-ca2 -duration 2h -out-crt ca2.crt -out-key ca2.key
cat ca1.crt ca2.crt >both.crt
sign() { # ca name ip groups out
	"$VELA_CERT" sign -ca-crt "$1.crt" -ca-key "$1.key" -name "$2" \
		-ip "$3" -groups "$4" -out-crt "$5.crt" -out-key "$5.key"
}
sign ca1 vela-a $A/24 old a1
sign ca2 nebula-b $B/24 web b
sign ca1 vela-a $A/24 old,new a2
sign ca1 vela-a 10.47.0.9/24 old,new a3
cp a1.crt a.crt
cp a1.key a.key
cp both.crt a-ca.crt

cat >a.yml <<YML
pki: {ca: $WORK/a-ca.crt, cert: $WORK/a.crt, key: $WORK/a.key}
static_host_map: {"$B": ["172.47.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: rl-a, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound:
    - {port: any, proto: icmp, host: any}
    - {port: 5001, proto: udp, host: any, ca_name: rl-ca2}
dataplane: {backend: udp, interface: $VA, workers: 1, mode: event, socket: $WORK/vela.sock}
YML
cat >b.yml <<YML
pki: {ca: $WORK/both.crt, cert: $WORK/b.crt, key: $WORK/b.key}
static_host_map: {"$A": ["172.47.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: rl-b, mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound:
    - {port: any, proto: icmp, host: any}
    - {port: 5000, proto: udp, group: new}
YML

# udp.py recv PORT | send SPORT DST DPORT MSG: one datagram, 3 s at most;
# recv prints what came or "timeout".
cat >udp.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.bind(("", int(sys.argv[2])))
if sys.argv[1] == "send":
    s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
    sys.exit(0)
open("ready-%s" % sys.argv[2], "w").close()
try:
    print(s.recvfrom(2048)[0].decode())
except socket.timeout:
    print("timeout")
PY

in_a() { ip netns exec "$NSA" "$@"; }
in_b() { ip netns exec "$NSB" "$@"; }
dp() { in_a "$DPCTL" -s "$WORK/vela.sock" "$@"; }
drops() { # reason: the count in dpctl show -j
	dp -j show | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["drops"][sys.argv[1].lower()])' "$1"
}
indexes() { # the tunnel's local and remote index, or "none"
	dp -j tunnels | python3 -c '
import json, sys
t = json.load(sys.stdin)["tunnels"]
print("%s %s" % (t[0]["local_index"], t[0]["remote_index"]) if t else "none")'
}
fingerprint() { # cert file
	"$VELA_CERT" print -json -path "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'
}
wait_log() { # file text: bounded wait for a line
	local _
	for _ in $(seq 50); do grep -qF -- "$2" "$1" && return 0; sleep 0.1; done
	fail "no \"$2\" in $1"
}
wait_ready() { local _; for _ in $(seq 50); do [ -e "ready-$1" ] && return; sleep 0.1; done; fail "listener $1 not ready"; }
# SPORT from the sending side to the other's PORT: what the listener got.
send_udp() { # from-ns-fn to-ns-fn dst sport port msg
	rm -f "ready-$5"
	"$2" python3 udp.py recv "$5" >got &
	local l=$!
	wait_ready "$5"
	"$1" python3 udp.py send "$4" "$3" "$5" "$6"
	wait $l
	cat got
}
ping_ok() { # ns dst what
	timeout 20 ip netns exec "$1" ping -c 2 -W 2 -i 0.3 "$2" >/dev/null ||
		fail "ping: $3"
}
hup() { # marker: SIGHUP vela, wait until the reload ran to its end
	local n
	n=$(grep -c "Caught HUP" vela.log || true)
	kill -HUP "$VELA_PID"
	for _ in $(seq 50); do
		[ "$(grep -c "Caught HUP" vela.log || true)" -gt "$n" ] &&
			[ "$(grep -c "Firewall rules unchanged\|New firewall has been installed" vela.log || true)" -gt "$n" ] &&
			return 0
		sleep 0.1
	done
	fail "SIGHUP ($1): no reload logged"
}
NEBULA_PID=
start_nebula() {
	ip netns exec "$NSB" nebula -config b.yml >>nebula.log 2>&1 &
	NEBULA_PID=$!
	PIDS+=($NEBULA_PID)
	wait_dev "$NSB" rl-b
}
restart_nebula() { # then B's ping makes a new handshake to A
	kill "$NEBULA_PID"
	wait "$NEBULA_PID" 2>/dev/null || true
	local _
	for _ in $(seq 50); do ip -n "$NSB" link show rl-b >/dev/null 2>&1 || break; sleep 0.1; done
	: >nebula.log
	start_nebula
	ping_ok "$NSB" $A "B -> A after nebula restarted"
}

start_nebula
ip netns exec "$NSA" "$VELA" -config "$WORK/a.yml" >vela.log 2>&1 &
VELA_PID=$!
PIDS+=($VELA_PID)
wait_dev "$NSA" rl-a

ping_ok "$NSA" $B "A -> B"
[ "$(send_udp in_a in_b $B 7000 5000 before)" = timeout ] ||
	fail "B let UDP 5000 in from group old"
echo "ok: tunnel up; B's group rule keeps A (group old) out of UDP 5000"

# (a) same IP, new groups and key.
idx=$(indexes)
cp a2.crt a.crt
cp a2.key a.key
hup a
wait_log vela.log "Client cert refreshed from disk"
grep "Client cert refreshed" vela.log | tail -n 1 | grep -q 'groups="old,new"' ||
	fail "refreshed line without the new groups: $(grep 'Client cert refreshed' vela.log | tail -n 1)"
grep -q "level=error" vela.log && fail "errors in the reload: $(grep level=error vela.log)"
ping_ok "$NSA" $B "A -> B across the reload"
[ "$(indexes)" = "$idx" ] || fail "the tunnel changed across the reload: $idx -> $(indexes)"
echo "ok: (a) new certificate taken ($(grep 'Client cert refreshed' vela.log | tail -n 1 | sed 's/.*msg=//')), same tunnel ($idx)"
restart_nebula
fp=$(fingerprint a2.crt)
grep "Handshake message received" nebula.log | grep -q "fingerprint=$fp" ||
	fail "nebula did not get the new certificate $fp: $(grep 'Handshake message' nebula.log)"
[ "$(send_udp in_a in_b $B 7001 5000 after)" = after ] ||
	fail "B's group rule: A's new certificate (group new) not let in"
echo "ok: (a) the next handshake presents the new certificate ($fp); group new lets A in"

# (b) another IP: refused, the old certificate stays.
cp a3.crt a.crt
cp a3.key a.key
hup b
wait_log vela.log "IP in new cert was different from old"
grep "Could not refresh client cert" vela.log | tail -n 1 | sed 's/^/  /'
ping_ok "$NSA" $B "A -> B after the refused certificate"
restart_nebula
grep "Handshake message received" nebula.log | grep -q "fingerprint=$fp" ||
	fail "the old certificate was not kept: $(grep 'Handshake message' nebula.log)"
echo "ok: (b) a certificate with another IP refused; the old one stays and is presented"
cp a2.crt a.crt
cp a2.key a.key

# (c) a CA file that does not parse: the old pool stays.
printf -- '-----BEGIN NEBULA CERTIFICATE-----\nnot base64 !\n-----END NEBULA CERTIFICATE-----\n' >a-ca.crt
hup c
wait_log vela.log "Could not refresh trusted CA certificates, the old ones stay"
grep "Could not refresh trusted CA" vela.log | tail -n 1 | sed 's/^/  /'
restart_nebula # B's new handshake must still verify against rl-ca2
echo "ok: (c) an unparsable CA file refused; the old pool still verifies B"

# (d) ca_name follows the pool, on the tunnel up.
[ "$(send_udp in_b in_a $A 7100 5001 ca2)" = ca2 ] ||
	fail "UDP 5001 from a certificate of rl-ca2"
idx=$(indexes)
ids() { grep -c "new firewall identity" vela.log || true; }
wait_ids() { # more than @1 identity updates applied by the dataplane
	local _
	for _ in $(seq 50); do [ "$(ids)" -gt "$1" ] && return 0; sleep 0.1; done
	fail "the dataplane applied no TUNNEL_IDENTITY"
}
n=$(ids)
cp ca1.crt a-ca.crt
hup d1
wait_log vela.log "Tunnel firewall identities updated for the new CA pool"
wait_ids "$n"
before=$(drops FIREWALL_IN)
[ "$(send_udp in_b in_a $A 7101 5001 no-ca)" = timeout ] ||
	fail "UDP 5001 passed with rl-ca2 out of the pool"
[ "$(drops FIREWALL_IN)" -gt "$before" ] || fail "the drop was not counted as FIREWALL_IN"
[ "$(indexes)" = "$idx" ] || fail "the tunnel changed: $idx -> $(indexes)"
ping_ok "$NSB" $A "B -> A with rl-ca2 out of A's pool (no disconnect_invalid)"
n=$(ids)
cp both.crt a-ca.crt
hup d2
wait_ids "$n"
[ "$(send_udp in_b in_a $A 7102 5001 back)" = back ] ||
	fail "UDP 5001 after rl-ca2 came back"
[ "$(indexes)" = "$idx" ] || fail "the tunnel changed: $idx -> $(indexes)"
echo "ok: (d) ca_name rule follows the CA pool on the same tunnel ($idx)"
echo "reload: all passed"
