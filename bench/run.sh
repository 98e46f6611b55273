#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The benchmark: Vela next to raw veth, Nebula 1.6.1 and wireguard-go, in one
# run on this machine, the way a user would compare them -- iperf3 through
# the tunnel between two network namespaces:
#
#   ns vbench-a-$$  [172.30.$N.1] ==veth, 2 queues== [172.30.$N.2]  ns vbench-b-$$
#   iperf3 client, ping                               iperf3 server
#
# Systems (-s): raw (the veth itself), vela-udp and vela-xsk (Vela on both
# ends with that packet backend, one worker per veth queue; a backend this
# build or machine lacks is reported as skipped with the reason),
# vela-udp-nooff (udp without TUN offloads, to show what they buy), nebula
# (Debian's 1.6.1 on both ends, its defaults) and wg (Debian's
# wireguard-go). Per system and repetition: ping RTT,
# iperf3 TCP with 1 and with 4 streams, iperf3 UDP with 64-byte payloads at
# full rate (delivered packets per second and loss), and the CPU seconds the
# VPN processes (every thread of both ends) spent per GB delivered.
# Repetitions are interleaved: each one runs every system once, so a drift
# of the machine hits all of them alike, and the ratios Vela/Nebula and
# Vela/raw are taken inside each repetition before the median.
#
# Then: the handshake rate of a responder (vela and nebula, driven by
# vela-hsload from the other namespace), and the microbenchmarks (AEAD,
# in-memory pipeline). bench/report.py turns the raw files into
# results.json, report.md and PNG charts in the results directory.
#
# Usage: sudo bench/run.sh [-r REPS] [-d SECONDS] [-s "SYSTEMS"] [-o DIR]
#                          [-B BUILDDIR] [--smoke]
#   -r  repetitions (3)          -d  seconds per iperf3 run (10)
#   -o  results directory (bench/results/<UTC stamp>)
#   -B  use this meson build directory instead of building bench/build
#       (release) -- the test suite passes its own
#   --smoke  tiny durations, one repetition: checks that every row comes
#            out, measures nothing (the test suite runs this)
#
# Needs root (namespaces), iperf3, nebula, wireguard-go, wg, gnuplot,
# python3: scripts/deps.sh installs them. Every child runs under `timeout`,
# a watchdog bounds the whole run, and the namespaces, links and processes
# are removed on exit, Ctrl-C included.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

REPS=3
DUR=10
SYSTEMS="raw vela-udp vela-xsk vela-udp-nooff nebula wg"
OUT=""
BUILD=""
SMOKE=0
PINGS=20
HS_N=3000
MICRO_T=1.0

usage() { sed -n '/^# Usage:/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-r) REPS=$2; shift 2 ;;
	-d) DUR=$2; shift 2 ;;
	-s) SYSTEMS=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	-B) BUILD=$2; shift 2 ;;
	--smoke) SMOKE=1; shift ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
if [ "$SMOKE" = 1 ]; then
	REPS=1 DUR=1 PINGS=3 HS_N=40 MICRO_T=0.01
fi
case $REPS$DUR in *[!0-9]*) echo "run.sh: -r and -d take whole numbers" >&2; exit 2 ;; esac
[ "$REPS" -ge 1 ] && [ "$DUR" -ge 1 ] || { echo "run.sh: -r and -d must be at least 1" >&2; exit 2; }
for s in $SYSTEMS; do
	case $s in raw|vela-udp|vela-xsk|vela-udp-nooff|nebula|wg) ;;
	*) echo "run.sh: unknown system '$s' (raw vela-udp vela-xsk vela-udp-nooff nebula wg)" >&2; exit 2 ;;
	esac
done

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root for network namespaces (sudo bench/run.sh)" >&2; exit 1; }
for tool in ip iperf3 ping nebula wireguard-go wg gnuplot python3 timeout; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: $tool is missing; run scripts/deps.sh" >&2; exit 1; }
done

T0=$(date +%s)
# Progress goes to the script's own stdout, kept as LOGFD: a trap can fire
# inside fg while its redirections point stdout at a result file.
exec {LOGFD}>&1
log() { printf '[%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&"$LOGFD"; }

# ---------------------------------------------------------------- build
if [ -z "$BUILD" ]; then
	BUILD=$ROOT/bench/build
	log "building Vela (release) in $BUILD"
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
	fi
	ninja -C "$BUILD" >/dev/null
fi
BUILD=$(cd "$BUILD" && pwd)
VELA=$BUILD/control/vela
VELA_CERT=$BUILD/control/vela-cert
HSLOAD=$BUILD/bench/vela-hsload
for b in "$VELA" "$VELA_CERT" "$HSLOAD" "$BUILD/bench/vela-bench-aead" \
	 "$BUILD/bench/vela-bench-pipeline"; do
	[ -x "$b" ] || { echo "run.sh: $b not built" >&2; exit 1; }
done

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bench/results/$STAMP}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# A reused directory (the test suite's) holds only what a run writes.
rm -rf "${OUT:?}/raw" "$OUT"/*.png "$OUT"/*.log "$OUT/meta.json" "$OUT/results.json" "$OUT/report.md"

# ---------------------------------------------------------------- bounds
# Worst case per system: start + ping + three iperf3 runs, each bounded.
MAX_SECONDS=$(( 120 + REPS * $(wc -w <<<"$SYSTEMS") * (40 + 3 * (DUR + 25)) + 400 ))
N=$(( $$ % 250 + 1 ))
NSA=vbench-a-$$ NSB=vbench-b-$$
VA=vba$$ VB=vbb$$
IPA=172.30.$N.1 IPB=172.30.$N.2
OVA=10.98.0.1 OVB=10.98.0.2      # Vela and Nebula overlay
WGA=10.97.0.1 WGB=10.97.0.2      # wireguard-go overlay
WORK=$(mktemp -d /tmp/vbench.XXXXXX)
MODE_PIDS=()
WATCHDOG=""
FG=""  # the child fg() waits for
SRV="" # the iperf3 server of the run under way

tree_pids() {
	local p
	for p in "$@"; do
		[ -d "/proc/$p" ] || continue
		echo "$p"
		# shellcheck disable=SC2046
		tree_pids $(cat /proc/"$p"/task/*/children 2>/dev/null)
	done
}
kill_tree() { # PID...: TERM, a short grace, then KILL, children included
	local p alive=() _
	# shellcheck disable=SC2046 # a list of PIDs
	set -- $(tree_pids "$@")
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		alive+=("$p")
		kill -TERM "$p" 2>/dev/null || true
	done
	[ ${#alive[@]} -eq 0 ] && return 0
	for _ in $(seq 25); do
		local any=0
		for p in "${alive[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
		[ $any -eq 0 ] && break
		sleep 0.2
	done
	for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${alive[@]}"; do wait "$p" 2>/dev/null || true; done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	kill_tree $FG $SRV "${MODE_PIDS[@]}"
	# vela's daemons carry the work dir in their command lines.
	pkill -KILL -f "$WORK/" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	cp "$WORK"/*.log "$OUT"/ 2>/dev/null
	rm -rf "$WORK"
	[ $rc -ne 0 ] && log "stopped (exit $rc); partial results in $OUT"
	exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# One-second sleeps, so a killed watchdog leaves no long-lived orphan.
( for ((i = 0; i < MAX_SECONDS; i++)); do sleep 1; done
  echo "run.sh: watchdog: $MAX_SECONDS s exceeded, stopping" >&2
  kill -TERM $$ ) &
WATCHDOG=$!

nsa() { ip netns exec "$NSA" "$@"; }
nsb() { ip netns exec "$NSB" "$@"; }

# Runs a long child and waits for it so that Ctrl-C stops the run at once.
# A foreground child would not do: `timeout` puts its command in a process
# group of its own, the terminal's SIGINT never reaches it, and bash then
# drops the SIGINT once the child exits normally. The wait builtin returns
# at the signal and the trap runs; cleanup kills the child.
fg() {
	local rc=0
	"$@" &
	FG=$!
	wait "$FG" || rc=$?
	FG=""
	return $rc
}

# ---------------------------------------------------------------- topology
ip netns add "$NSA"
ip netns add "$NSB"
if ip link add "$VA" numtxqueues 2 numrxqueues 2 type veth \
	peer name "$VB" numtxqueues 2 numrxqueues 2 2>/dev/null; then
	QUEUES=2
else
	ip link add "$VA" type veth peer name "$VB"
	QUEUES=1
fi
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" addr add "$IPA/24" dev "$VA"
ip -n "$NSB" addr add "$IPB/24" dev "$VB"
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

wait_ping() { # IP SECONDS
	local deadline=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		nsa timeout 2 ping -c 1 -W 1 -q "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
wait_ping "$IPB" 5 || { echo "run.sh: the veth between the namespaces does not pass traffic" >&2; exit 1; }
log "namespaces up ($NSA, $NSB; veth with $QUEUES queues); results in $OUT"

# ---------------------------------------------------------------- identities
# One CA for Vela and Nebula (the same certificates serve both), keys for
# wireguard-go. The certificates hold a /16 so the handshake load generator
# can sign initiators inside it.
(
	cd "$WORK"
	"$VELA_CERT" ca -name vbench-ca -duration 4h >/dev/null
	"$VELA_CERT" sign -name node-a -ip "$OVA/16" >/dev/null
	"$VELA_CERT" sign -name node-b -ip "$OVB/16" >/dev/null
	umask 077
	wg genkey >wg-a.key
	wg genkey >wg-b.key
	wg pubkey <wg-a.key >wg-a.pub
	wg pubkey <wg-b.key >wg-b.pub
)

# node_config NAME OWN_IP PEER_OVERLAY PEER_UNDERLAY EXTRA -> $WORK/NAME.yml
# Nebula's defaults everywhere (mtu 1300, routines 1, aes); Vela reads the
# same file, plus its dataplane: section (nebula ignores unknown keys).
node_config() {
	cat >"$WORK/$1.yml" <<YML
pki: {ca: $WORK/ca.crt, cert: $WORK/$1.crt, key: $WORK/$1.key}
static_host_map: {"$3": ["$4:4242"]}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
relay: {use_relays: false}
tun: {dev: $2, mtu: 1300}
logging: {level: info, format: text}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
$5
YML
}

# ---------------------------------------------------------------- systems
# start_SYSTEM: brings the tunnel up, sets TARGET (the address B answers
# on), VPN_PIDS (processes whose CPU counts) and MODE_PIDS; returns 1 with
# SKIP_REASON set when the system cannot run here.
start_raw() {
	TARGET=$IPB
	VPN_PIDS=()
}

start_vela() { # backend [offload]
	local backend=$1 offload=${2:-true} p _
	local dp="backend: $backend, workers: $QUEUES, tun_offload: $offload"
	node_config node-a vbta$$ "$OVB" "$IPB" "dataplane: {$dp, interface: $VA, socket: $WORK/vela-a.sock}"
	node_config node-b vbtb$$ "$OVA" "$IPA" "dataplane: {$dp, interface: $VB, socket: $WORK/vela-b.sock}"
	: >"$WORK/vela-$backend-a.log"
	: >"$WORK/vela-$backend-b.log"
	nsb timeout $MAX_SECONDS "$VELA" -config "$WORK/node-b.yml" >>"$WORK/vela-$backend-b.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS=("$p")
	nsa timeout $MAX_SECONDS "$VELA" -config "$WORK/node-a.yml" >>"$WORK/vela-$backend-a.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS+=("$p")
	TARGET=$OVB
	# Up, or given up: a node that exits (bad config, backend missing)
	# ends the wait at once.
	for _ in $(seq 75); do
		nsa timeout 2 ping -c 1 -W 1 -q "$OVB" >/dev/null 2>&1 && return 0
		kill -0 "${VPN_PIDS[0]}" 2>/dev/null && kill -0 "${VPN_PIDS[1]}" 2>/dev/null || break
		grep -q 'Setup failed' "$WORK/vela-$backend-a.log" "$WORK/vela-$backend-b.log" && break
		sleep 0.2
	done
	SKIP_REASON=$(grep -h -i -E 'level=(error|fatal)|not supported|EOPNOTSUPP' \
		"$WORK/vela-$backend-a.log" "$WORK/vela-$backend-b.log" 2>/dev/null |
		head -n 1 | sed 's/^.*msg=//; s/"//g' | head -c 300)
	SKIP_REASON=${SKIP_REASON:-the tunnel did not come up in 15 s}
	return 1
}
start_vela-udp() { start_vela udp; }
start_vela-xsk() { start_vela xsk; }
start_vela-udp-nooff() { start_vela udp false; }

start_nebula() {
	local p
	node_config node-a nbta$$ "$OVB" "$IPB" ""
	node_config node-b nbtb$$ "$OVA" "$IPA" ""
	nsb timeout $MAX_SECONDS nebula -config "$WORK/node-b.yml" >>"$WORK/nebula-b.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS=("$p")
	nsa timeout $MAX_SECONDS nebula -config "$WORK/node-a.yml" >>"$WORK/nebula-a.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS+=("$p")
	TARGET=$OVB
	wait_ping "$OVB" 15 || { SKIP_REASON="nebula's tunnel did not come up in 15 s"; return 1; }
}

start_wg() {
	local p s
	# wireguard-go's UAPI socket (/var/run/wireguard/DEV.sock) is not per
	# namespace: the device names are unique per run.
	nsa env WG_PROCESS_FOREGROUND=1 timeout $MAX_SECONDS wireguard-go -f wga$$ >>"$WORK/wireguard-go-a.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS=("$p")
	nsb env WG_PROCESS_FOREGROUND=1 timeout $MAX_SECONDS wireguard-go -f wgb$$ >>"$WORK/wireguard-go-b.log" 2>&1 &
	p=$!; MODE_PIDS+=("$p"); VPN_PIDS+=("$p")
	for _ in $(seq 50); do
		[ -S /var/run/wireguard/wga$$.sock ] && [ -S /var/run/wireguard/wgb$$.sock ] && break
		sleep 0.1
	done
	nsa wg set wga$$ private-key "$WORK/wg-a.key" listen-port 51820 \
		peer "$(cat "$WORK/wg-b.pub")" allowed-ips "$WGB/32" endpoint "$IPB:51820"
	nsb wg set wgb$$ private-key "$WORK/wg-b.key" listen-port 51820 \
		peer "$(cat "$WORK/wg-a.pub")" allowed-ips "$WGA/32" endpoint "$IPA:51820"
	ip -n "$NSA" addr add "$WGA/24" dev wga$$
	ip -n "$NSB" addr add "$WGB/24" dev wgb$$
	ip -n "$NSA" link set wga$$ mtu 1420 up
	ip -n "$NSB" link set wgb$$ mtu 1420 up
	TARGET=$WGB
	wait_ping "$WGB" 10 || { SKIP_REASON="wireguard-go's tunnel did not come up in 10 s"; return 1; }
}

stop_system() {
	kill_tree "${MODE_PIDS[@]}"
	MODE_PIDS=()
	VPN_PIDS=()
	pkill -KILL -f "$WORK/" 2>/dev/null || true
	rm -f /var/run/wireguard/wga$$.sock /var/run/wireguard/wgb$$.sock
}

# ---------------------------------------------------------------- measuring
# CPU time (utime + stime, in clock ticks) of the given processes and all
# their descendants (vela's control plane and dataplane are children of the
# supervisor; timeout and ip netns exec wrap the others).
cpu_ticks() {
	local p sum=0 t
	for p in $(tree_pids "$@"); do
		t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		sum=$(( sum + ${t:-0} ))
	done
	echo $sum
}

wait_listen() { # port
	for _ in $(seq 50); do
		nsb ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# iperf NAME ARGS...: one iperf3 run A -> B through the tunnel, with the
# CPU ticks of the VPN processes over the client's run in NAME.cpu.
iperf() {
	local name=$1 srv c0 c1
	shift
	nsb timeout $(( DUR + 30 )) iperf3 -s -1 -B "$TARGET" -p 5201 >"$DIR/$name.server.log" 2>&1 &
	srv=$!
	SRV=$srv
	wait_listen 5201 || log "  iperf3 server did not come up"
	c0=$(cpu_ticks "${VPN_PIDS[@]}")
	fg nsa timeout $(( DUR + 20 )) iperf3 -c "$TARGET" -p 5201 -t "$DUR" \
		--connect-timeout 3000 -J "$@" >"$DIR/$name.json" 2>"$DIR/$name.err" ||
		log "  iperf3 $name: exit $?"
	c1=$(cpu_ticks "${VPN_PIDS[@]}")
	[ ${#VPN_PIDS[@]} -gt 0 ] && echo "$(( c1 - c0 )) $(getconf CLK_TCK)" >"$DIR/$name.cpu"
	wait "$srv" 2>/dev/null || true
	SRV=""
	log "  $name: $(python3 "$HERE/report.py" iperf "$DIR/$name.json" "$DIR/$name.cpu")"
}

measure() { # system rep
	DIR=$OUT/raw/$1/rep$2
	mkdir -p "$DIR"
	SKIP_REASON=""
	if ! "start_$1"; then
		log "$1: skipped: $SKIP_REASON"
		echo "$SKIP_REASON" >"$DIR/skipped"
		stop_system
		return 0
	fi
	fg nsa timeout $(( PINGS + 10 )) ping -c "$PINGS" -i 0.05 -W 1 -q "$TARGET" >"$DIR/ping.txt" 2>&1 || true
	log "$1 rep $2: ping $(tail -n 1 "$DIR/ping.txt")"
	iperf tcp1
	iperf tcp4 -P 4
	iperf udp64 -u -b 0 -l 64
	stop_system
}

versions() {
	python3 - "$OUT/meta.json" <<PY
import json, subprocess, sys
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or \
               subprocess.run(cmd, capture_output=True, text=True, timeout=10).stderr.strip()
    except Exception as e:
        return "unknown (%s)" % e
meta = {
    "stamp": "$STAMP", "kernel": out("uname", "-r"), "nproc": int(out("nproc")),
    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
    "commit": out("git", "-C", "$ROOT", "describe", "--always", "--dirty"),
    "vela": "vela " + out("$VELA", "-version").replace("Version: ", ""),
    "nebula": "nebula " + out("nebula", "-version").replace("Version: ", ""), "wireguard_go": out("wireguard-go", "--version").splitlines()[0],
    "iperf3": out("iperf3", "--version").splitlines()[0],
    "reps": $REPS, "duration_s": $DUR, "systems": "$SYSTEMS".split(), "smoke": bool($SMOKE),
    "veth_queues": $QUEUES, "mtu": {"vela": 1300, "nebula": 1300, "wg": 1420},
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
}
versions

# ---------------------------------------------------------------- throughput
for rep in $(seq "$REPS"); do
	log "repetition $rep of $REPS"
	for s in $SYSTEMS; do
		measure "$s" "$rep"
	done
done

# ---------------------------------------------------------------- handshakes
# A responder in B, vela-hsload in A signing a fresh initiator for every
# handshake from the same CA, as many distinct nodes would.
handshakes() { # system rep
	DIR=$OUT/raw/hs-$1/rep$2
	mkdir -p "$DIR"
	local p
	node_config node-b hbtb$$ "$OVA" "$IPA" "dataplane: {backend: udp, socket: $WORK/vela-b.sock}"
	if [ "$1" = vela ]; then
		nsb timeout $MAX_SECONDS "$VELA" -config "$WORK/node-b.yml" >>"$WORK/hs-vela-b.log" 2>&1 &
	else
		nsb timeout $MAX_SECONDS nebula -config "$WORK/node-b.yml" >>"$WORK/hs-nebula-b.log" 2>&1 &
	fi
	p=$!; MODE_PIDS+=("$p")
	for _ in $(seq 50); do
		ip -n "$NSB" link show hbtb$$ >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 0.5
	fg nsa timeout $(( HS_N / 50 + 60 )) "$HSLOAD" -ca-crt "$WORK/ca.crt" -ca-key "$WORK/ca.key" \
		-cidr 10.98.0.0/16 -skip "$OVA,$OVB" -target "$IPB:4242" -n "$HS_N" -s 1024 -j \
		>"$DIR/hsload.json" 2>"$DIR/hsload.err" || log "  vela-hsload: exit $?"
	log "handshakes $1 rep $2: $(python3 "$HERE/report.py" hsload "$DIR/hsload.json")"
	stop_system
}
for rep in $(seq "$REPS"); do
	handshakes vela "$rep"
	handshakes nebula "$rep"
done

# ---------------------------------------------------------------- microbenchmarks
# On the host, one core each; nothing else of ours runs by now.
mkdir -p "$OUT/raw/micro"
log "microbenchmark: AEAD"
fg timeout 300 "$BUILD/bench/vela-bench-aead" -t "$MICRO_T" -j >"$OUT/raw/micro/aead.json"
log "microbenchmark: dataplane pipeline in memory"
fg timeout 300 "$BUILD/bench/vela-bench-pipeline" -t "$MICRO_T" -j >"$OUT/raw/micro/pipeline.json"

# ---------------------------------------------------------------- report
python3 "$HERE/report.py" report "$OUT" >/dev/null
log "done: $OUT/report.md"
if [ "$SMOKE" = 1 ]; then
	python3 "$HERE/report.py" check "$OUT"
	log "smoke check: every row, table and chart is there"
else
	cat "$OUT/report.md"
fi
