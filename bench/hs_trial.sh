#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One handshake-rate trial by hand, outside bench/run.sh: a responder in
# one namespace, vela-hsload in the other, then what the responder said
# about it (its log, and for Vela the dataplane's drop counters).
#
#   ns hst-a-$$                            ns hst-b-$$
#   +------------------------+    veth     +------------------------------+
#   | vela-hsload            |-------------| nebula 1.6.1, or vela        |
#   | 172.29.$N.1, -s ports  |             | 172.29.$N.2:4242, 10.77.0.1  |
#   +------------------------+             +------------------------------+
#
# Usage: flock /tmp/vela-netns.lock bench/hs_trial.sh -B BUILDDIR
#            [-r nebula|vela] [-c aes|chachapoly] [-n N] [-w W] [-s S]
#            [-l LOGLEVEL] [-t TIMEOUT] [-k]
#   -B  meson build directory with control/vela, control/vela-cert,
#       dataplane/dpctl and bench/vela-hsload      -r  responder (vela)
#   -l  the responder's logging.level (info)        -k  keep the work dir
#   other flags go to vela-hsload as they are; $HSLOAD overrides its path,
#   $HS_CIPHER its -cipher (a mismatch test)
#
# Needs root and nebula. Every process runs under `timeout`; the
# namespaces, link and processes are removed on exit. Another test may use
# namespaces on this machine: run it under the flock above.
set -euo pipefail

BUILD="" RESP=vela CIPHER=aes N=2000 W=64 S=256 LEVEL=info TMO=2s KEEP=0
while getopts B:r:c:n:w:s:l:t:k o; do
	case $o in
	B) BUILD=$(cd "$OPTARG" && pwd) ;;
	r) RESP=$OPTARG ;;
	c) CIPHER=$OPTARG ;;
	n) N=$OPTARG ;;
	w) W=$OPTARG ;;
	s) S=$OPTARG ;;
	l) LEVEL=$OPTARG ;;
	t) TMO=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '/^# Usage:/,/^# Needs root/p' "$0" >&2; exit 2 ;;
	esac
done
[ -n "$BUILD" ] || { echo "hs_trial.sh: -B BUILDDIR is required" >&2; exit 2; }
case $RESP in nebula|vela) ;; *) echo "hs_trial.sh: -r nebula or vela" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "hs_trial.sh: needs root" >&2; exit 1; }

VELA=$BUILD/control/vela VELA_CERT=$BUILD/control/vela-cert
DPCTL=$BUILD/dataplane/dpctl HSLOAD=${HSLOAD:-$BUILD/bench/vela-hsload}
NUM=$(( $$ % 250 + 1 ))
NSA=hst-a-$$ NSB=hst-b-$$ VA=hsta$$ VB=hstb$$ TUN=hstt$$
IPA=172.29.$NUM.1 IPB=172.29.$NUM.2
WORK=$(mktemp -d /tmp/hs-trial.XXXXXX)
RPID=""

cleanup() {
	if [ -n "$RPID" ]; then
		kill "$RPID" 2>/dev/null || true
		timeout 10 tail --pid="$RPID" -f /dev/null || kill -9 "$RPID" 2>/dev/null || true
	fi
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" addr add "$IPA/24" dev "$VA"
ip -n "$NSB" addr add "$IPB/24" dev "$VB"
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

cd "$WORK"
timeout 20 "$VELA_CERT" ca -name hs-trial-ca -duration 2h >/dev/null
timeout 20 "$VELA_CERT" sign -name responder -ip 10.77.0.1/16 >/dev/null

cat >b.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/responder.crt, key: $WORK/responder.key}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
relay: {use_relays: false}
cipher: $CIPHER
tun: {dev: $TUN, mtu: 1300}
logging: {level: $LEVEL, format: text}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
dataplane: {backend: udp, workers: 1, mode: event, socket: $WORK/vela.sock}
YML

LIMIT=$(( N / 20 + 120 ))
if [ "$RESP" = nebula ]; then
	ip netns exec "$NSB" timeout "$LIMIT" nebula -config b.yml >resp.log 2>&1 &
else
	ip netns exec "$NSB" timeout "$LIMIT" "$VELA" -config "$WORK/b.yml" >resp.log 2>&1 &
fi
RPID=$!
for _ in $(seq 100); do
	ip -n "$NSB" link show "$TUN" >/dev/null 2>&1 && break
	sleep 0.1
done
ip -n "$NSB" link show "$TUN" >/dev/null 2>&1 || { cat resp.log; echo "responder did not start"; exit 1; }
sleep 0.5

echo "== $RESP, cipher $CIPHER, logging $LEVEL: vela-hsload -n $N -w $W -s $S"
rc=0
ip netns exec "$NSA" timeout $(( LIMIT - 10 )) "$HSLOAD" -ca-crt ca.crt -ca-key ca.key \
	-cidr 10.77.0.0/16 -skip 10.77.0.1 -target "$IPB:4242" \
	-n "$N" -w "$W" -s "$S" -timeout "$TMO" -deadline "$(( LIMIT - 25 ))s" \
	-cipher "${HS_CIPHER:-$CIPHER}" -j >hsload.json 2>hsload.err || rc=$?
cat hsload.err >&2
cat hsload.json
echo "vela-hsload exit $rc"

sleep 1
echo "-- responder: messages 2 sent, by log: $(grep -c 'Handshake message sent' resp.log || true)"
echo "-- responder: log lines by message, numbers as #, without 'Handshake message sent/received'"
{ sed -n 's/.*msg="\([^"]*\)".*/\1/p; t; s/.*msg=\([^ ]*\).*/\1/p' resp.log |
	grep -v -x -e 'Handshake message sent' -e 'Handshake message received' |
	sed 's/\b[0-9a-f]\{8\}\b/#/g; s/[0-9][0-9.:]*/#/g' | sort | uniq -c | sort -rn | head -20; } || true
if [ "$RESP" = vela ]; then
	echo "-- dataplane"
	ip netns exec "$NSB" timeout 10 "$DPCTL" -s "$WORK/vela.sock" show 2>&1 | head -40 || true
	echo "-- tunnels in the dataplane: $(ip netns exec "$NSB" timeout 20 "$DPCTL" -s "$WORK/vela.sock" -j tunnels 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("tunnels", d)) if isinstance(d, dict) else len(d))' 2>/dev/null || echo '?')"
fi
