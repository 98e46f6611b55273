#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Prometheus endpoint (stats: type prometheus) of a vela node talking
# to the real nebula 1.6.1, scraped with curl and checked with the Debian
# prometheus_client parser (prom_check.py):
#
#   ns metrics-a-$$                          ns metrics-b-$$
#   +-------------------------------+        +-------------------------+
#   | vela, stats on 127.0.0.1:PORT | veth   | nebula 1.6.1            |
#   | tun vela-a 10.44.0.1          |--------| tun nebula-b 10.44.0.2  |
#   +-------------------------------+        +-------------------------+
#
# - the page is well-formed (HELP/TYPE, _total, the configured prefix);
# - PINGS pings after the tunnel is up show as exactly PINGS packets written to
#   the TUN and at least that many read, sealed and opened, and in the peer's
#   per-peer series; the handshake and the tunnel are counted;
# - counters never go down across scrapes, `dpctl clear` included;
# - other paths get 404, POST 405, a request over 4 KiB 431, HEAD no body; SIGHUP is counted;
# - a config without stats.listen, and a listen port already taken, are
#   refused with the key named;
# - vela started vela-control with no capabilities at all, and it still
#   serves and reloads its (root-owned) files.
#
# BACKEND=udp (default) or xsk (then also the XDP program's counters).
# Needs root, nebula, curl, /usr/bin/python3 with prometheus_client;
# exits 77 otherwise. Every step is bounded; cleanup on exit.
set -euo pipefail

: "${VELA:?path to the vela binary}" "${VELA_CERT:?path to vela-cert}"
: "${DPCTL:?path to dpctl}"
. "$(dirname "$0")/lib.sh"
netns_require nebula curl ping
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
	{ echo "skip: python3-prometheus-client not installed"; exit 77; }
CHECK="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/prom_check.py"
BACKEND=${BACKEND:-udp}
WORKERS_A=1
if [ "$BACKEND" = xsk ]; then
	export VETH_QUEUES=2 # as interop.sh: a socket on every queue
	WORKERS_A=2
fi
netns_pair metrics 33
PINGS=10
PORT=9$(( $$ % 900 + 100 ))
URL=http://127.0.0.1:$PORT/metrics
P=vela_test_node_ # namespace "vela_test", subsystem "node"

cd "$WORK"
"$VELA_CERT" ca -name metrics-ca -duration 2h
"$VELA_CERT" sign -name vela-a -ip 10.44.0.1/24 -groups vela
"$VELA_CERT" sign -name nebula-b -ip 10.44.0.2/24 -groups nebula

fw='firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]'
cat >a.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/vela-a.crt, key: $WORK/vela-a.key}
static_host_map: {"10.44.0.2": ["172.33.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: vela-a, mtu: 1300}
logging: {level: info}
$fw
dataplane: {backend: $BACKEND, interface: $VA, workers: $WORKERS_A, mode: event, socket: $WORK/vela.sock}
stats:
  type: prometheus
  listen: 127.0.0.1:$PORT
  path: /metrics
  namespace: vela_test
  subsystem: node
  interval: 10s
  message_metrics: true
  peer_metrics: true
YML
cat >b.yml <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/nebula-b.crt, key: $WORK/nebula-b.key}
static_host_map: {"10.44.0.1": ["172.33.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: nebula-b, mtu: 1300}
logging: {level: info}
$fw
YML

in_a() { timeout 20 ip netns exec "$NSA" "$@"; }
scrape() { in_a curl -sf "$URL" >"$1" || fail "scrape $1"; $CHECK check "$1" "$P" || fail "$1 is not a valid exposition"; }
val() { $CHECK get "$1" "$2"; }

# --- config errors: named, and nothing starts --------------------------------
sed '/^  listen: 127/d' a.yml >nolisten.yml
if out=$(in_a "$VELA" -test -config nolisten.yml 2>&1); then fail "no stats.listen accepted"; fi
grep -q "stats.listen: required with type prometheus" <<<"$out" || fail "no stats.listen: $out"
echo "ok: a config without stats.listen is refused, naming it"

# --- up ---------------------------------------------------------------------
ip netns exec "$NSB" nebula -config b.yml >>nebula.log 2>&1 &
PIDS+=($!)
ip netns exec "$NSA" "$VELA" -config a.yml >>vela.log 2>&1 &
PIDS+=($!); VELA_PID=$!
wait_dev "$NSA" vela-a
wait_dev "$NSB" nebula-b
for _ in $(seq 50); do
	in_a curl -sf "$URL" -o up.txt && grep -q "^${P}dataplane_up 1" up.txt && break
	sleep 0.2
done
grep -q "^${P}dataplane_up 1" up.txt || fail "the endpoint never showed dataplane_up 1"
echo "ok: endpoint up, dataplane answering"

# vela started the control plane without capabilities (bounding set too)
# and the dataplane without CAP_SETPCAP; the control plane still serves
# metrics and reloads its root-owned files (below) as uid 0 without them.
caps() { # pid field
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
ctl_pid=$(pgrep -P "$VELA_PID" -f vela-control) || fail "no vela-control child"
dp_pid=$(pgrep -P "$VELA_PID" -f vela-dataplane) || fail "no vela-dataplane child"
for f in CapInh CapPrm CapEff CapBnd CapAmb; do
	[ "$(caps "$ctl_pid" $f)" = 0000000000000000 ] ||
		fail "vela-control $f: $(caps "$ctl_pid" $f), want none"
done
eff=$((16#$(caps "$dp_pid" CapEff))) bnd=$((16#$(caps "$dp_pid" CapBnd)))
(( eff & (1 << 12) )) || fail "vela-dataplane lacks CAP_NET_ADMIN"
(( bnd & (1 << 8) )) && fail "vela-dataplane kept CAP_SETPCAP"
echo "ok: vela-control runs without capabilities, vela-dataplane without CAP_SETPCAP"

# The port is ours now: a second node with the same stats.listen does not
# start, and vela says so (exit 1, its dataplane stopped) instead of
# restarting a control plane that cannot run.
sed -e "s#socket: $WORK/vela.sock#socket: $WORK/other.sock#" \
	-e "s/dev: vela-a/dev: vela-x/" -e "s/port: 4242}/port: 4343}/" a.yml >taken.yml
if out=$(timeout 40 ip netns exec "$NSA" "$VELA" -config taken.yml 2>&1); then
	fail "a taken stats.listen port was accepted"
fi
grep -q "stats.listen: cannot listen on 127.0.0.1:$PORT: Address already in use" <<<"$out" ||
	fail "taken port: $out"
grep -q "vela-control could not start; stopping" <<<"$out" || fail "taken port: $out"
ip -n "$NSA" link show vela-x >/dev/null 2>&1 && fail "the second dataplane's TUN stayed"
echo "ok: a taken listen port: vela exits 1 naming stats.listen, its dataplane stopped"

# --- N pings, seen N times ------------------------------------------------------
timeout 20 ip netns exec "$NSA" ping -c 1 -W 5 10.44.0.2 >/dev/null || fail "first ping"
sleep 0.3
scrape s1.txt
[ "$(val s1.txt "${P}tunnels")" = 1 ] || fail "tunnels != 1"
[ "$(val s1.txt "${P}handshakes_total{role=\"initiator\",result=\"completed\"}")" = 1 ] ||
	fail "handshake not counted as completed"
[ "$(val s1.txt "${P}messages_total{direction=\"tx\",type=\"handshake\"}")" -ge 1 ] ||
	fail "handshake message not counted as sent"
timeout 30 ip netns exec "$NSA" ping -c "$PINGS" -i 0.1 -W 2 10.44.0.2 >/dev/null || fail "pings"
sleep 1.5 # per-peer series follow the once-a-second ACTIVITY
scrape s2.txt
delta() { echo $(( $(val s2.txt "$1") - $(val s1.txt "$1") )); }
d=$(delta "${P}dataplane_tun_tx_packets_total")
[ "$d" = "$PINGS" ] || fail "TUN writes rose by $d, want $PINGS echo replies"
for m in dataplane_tun_rx_packets_total dataplane_crypto_sealed_packets_total \
	dataplane_crypto_opened_packets_total dataplane_rx_packets_total \
	dataplane_tx_packets_total "peer_rx_packets_total{name=\"nebula-b\",vpn_ip=\"10.44.0.2\"}" \
	"peer_tx_packets_total{name=\"nebula-b\"}"; do
	d=$(delta "$P$m")
	[ "$d" -ge "$PINGS" ] || fail "$m rose by $d, want >= $PINGS"
done
[ "$(delta "${P}dataplane_drops_total{reason=\"BAD_TAG\"}")" = 0 ] || fail "BAD_TAG drops"
[ "$(val s2.txt "${P}dataplane_workers")" = "$WORKERS_A" ] || fail "workers"
if [ "$BACKEND" = xsk ]; then
	d=$(delta "${P}dataplane_xdp_packets_total{result=\"steered\"}")
	[ "$d" -ge "$PINGS" ] || fail "XDP steered rose by $d, want >= $PINGS"
	val s2.txt "${P}dataplane_xdp_info{interface=\"$VA\"}" >/dev/null || fail "no xdp_info"
	echo "ok: xsk: the XDP program's steered frames +$d"
else
	grep -q xdp s2.txt && fail "udp backend with XDP series"
fi
echo "ok: $PINGS pings seen: TUN writes +$PINGS; reads, AEAD, NIC, per-peer +>=$PINGS"

# --- monotonic, dpctl clear included ---------------------------------------------
in_a "$DPCTL" -s "$WORK/vela.sock" clear >/dev/null || fail "dpctl clear"
in_a "$DPCTL" -s "$WORK/vela.sock" show | grep -q "since clear 1" || fail "dpctl did not clear"
scrape s3.txt
$CHECK monotonic s2.txt s3.txt || fail "a counter went down across dpctl clear"
echo "ok: counters monotonic across scrapes and dpctl clear"

# --- HTTP ------------------------------------------------------------------------
code() { in_a curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$PORT/other")" = 404 ] || fail "other path not 404"
[ "$(code -X POST "$URL")" = 405 ] || fail "POST not 405"
[ "$(code "$URL?x=1")" = 200 ] || fail "a query string is not ignored"
long=$(head -c 5000 /dev/zero | tr '\0' a)
[ "$(code "$URL?$long")" = 431 ] || fail "a request over 4 KiB not refused with 431"
in_a curl -sfI "$URL" >head.txt || fail "HEAD"
grep -qi '^content-type: text/plain; version=0.0.4' head.txt || fail "HEAD: content type"
# Several scrapes at once share one STATS from the dataplane.
par=()
for i in 1 2 3 4; do in_a curl -sf "$URL" -o "par$i.txt" & par+=($!); done
for p in "${par[@]}"; do wait "$p" || fail "a parallel scrape failed"; done
for i in 1 2 3 4; do $CHECK check "par$i.txt" "$P" || fail "parallel scrape $i"; done
scrape s4.txt
[ "$(val s4.txt "${P}metrics_http_errors_total")" = 3 ] || fail "http errors not counted"
echo "ok: 404, 405, 431, query string, HEAD, 4 scrapes at once"

# --- SIGHUP counted ----------------------------------------------------------------
kill -HUP "$VELA_PID"
for _ in $(seq 30); do
	scrape s5.txt
	[ "$(val s5.txt "${P}config_reloads_total{result=\"success\"}")" = 1 ] && break
	sleep 0.2
done
[ "$(val s5.txt "${P}config_reloads_total{result=\"success\"}")" = 1 ] || fail "reload not counted"
[ "$(val s5.txt "${P}config_last_reload_success_timestamp_seconds")" -gt 0 ] || fail "reload time"
$CHECK monotonic s4.txt s5.txt >/dev/null || fail "a counter went down across SIGHUP"
echo "ok: SIGHUP counted"
echo "metrics: all passed"
