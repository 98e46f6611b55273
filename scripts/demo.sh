#!/usr/bin/env bash
# The README's main job: installs what is missing, builds Vela (release,
# build/release), makes a Nebula PKI with vela-cert, and then, as root,
# runs Vela's main deployment in network namespaces against the real
# nebula 1.6.1:
#
#   ns lan            ns gw (Vela gateway)         ns rt (router)         ns lh (Vela lighthouse)
#   192.168.77.10 --- 192.168.77.1                                   +--- 172.30.1.1
#   default via .1    tun 10.42.0.2                172.30.1.254 -----+    tun 10.42.0.1
#                     172.30.2.1 ----------------- 172.30.2.254
#                     ip_forward, rp_filter        172.30.3.254 -----+    ns laptop (nebula 1.6.1)
#                                                  (ip_forward)      +--- 172.30.3.1
#                                                                         tun 10.42.0.10
#                                                                         unsafe_routes:
#                                                                         192.168.77.0/24 via 10.42.0.2
#
# A router rather than one shared bridge: every underlay link is a plain
# veth pair, and the three nodes reach each other only through routing,
# as across the internet; the gateway's LAN is not on the underlay at all.
#
# The gateway and the laptop know only the lighthouse (static_host_map
# and lighthouse.hosts); they find each other by asking it. Then: pings
# both ways between the LAN host and the laptop's VPN IP, iperf3 between
# them through the overlay (each direction), the gateway's dpctl show /
# tunnels / flows and its Prometheus endpoint. Every step prints
# "==> step" and its checks ("OK" or "FAIL"); a failed check exits
# non-zero with the logs' tails.
# Namespaces (vela-demo-*-$$) and processes go away on exit, also on
# Ctrl-C.
#
# Run time on the 2-core reference VM: about 20 s when already built (the
# network part about 15 s of it); a fresh release build adds about 15 s
# (13 s measured), the first apt-get install of the dependencies whatever
# the mirror takes. As a user that is not root, the script installs through sudo,
# builds and makes the PKI, and stops before the network part (it needs
# root: sudo ./scripts/demo.sh).
#
# Short mode, for the test suite (tests/netns/demo.sh): `--short` or
# DEMO_SHORT=1 skips the installation and the build, takes the binaries
# from VELA, VELA_CERT and DPCTL (as every netns test does), keeps the PKI
# in the temporary work dir, and runs iperf3 for 1 s instead of 3; the
# checks are the same. It exits 77 (skipped) without root or a tool.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SHORT=${DEMO_SHORT:-0}
[ "${1:-}" = --short ] && SHORT=1
T0=$(date +%s)

if [ -t 1 ]; then BOLD='\033[1m' NORM='\033[0m'; else BOLD='' NORM=''; fi
step() { printf "\n${BOLD}==> %s${NORM}\n" "$*"; }
ok() { printf '  %s ... OK%s\n' "$1" "${2:+ ($2)}"; }

if [ "$SHORT" = 1 ]; then
	: "${VELA:?DEMO_SHORT: path to the vela binary}"
	: "${VELA_CERT:?DEMO_SHORT: path to vela-cert}" "${DPCTL:?DEMO_SHORT: path to dpctl}"
	[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
	for tool in ip nebula nebula-cert iperf3 ping python3; do
		command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
	done
	IPERF_S=1
else
	step "Installing dependencies (Debian packages) if missing"
	scripts/deps.sh
	echo "  all installed"

	# Fresh, this takes about 15 s on 2 cores; a rebuild with nothing
	# changed, a second or two.
	step "Building a release build (build/release)"
	if [ -f build/release/build.ninja ]; then
		meson setup --reconfigure build/release >/dev/null
	else
		meson setup build/release --buildtype=release >/dev/null
	fi
	ninja -C build/release >/dev/null
	VELA=$ROOT/build/release/control/vela
	VELA_CERT=$ROOT/build/release/control/vela-cert
	DPCTL=$ROOT/build/release/dataplane/dpctl
	echo "  $("$VELA_CERT" -version | head -n 1)"
	IPERF_S=3
fi

WORK=$(mktemp -d /tmp/vela-demo.XXXXXX)
chmod 755 "$WORK"
NSL=vela-demo-lan-$$ NSG=vela-demo-gw-$$ NSR=vela-demo-rt-$$
NSH=vela-demo-lh-$$ NSN=vela-demo-laptop-$$
NAMESPACES=()
PIDS=()
LOGS=(lighthouse.log gateway.log laptop.log)

# Bounded, and safe to run twice: SIGTERM to the daemons (vela stops its
# own two and tells its peers, nebula closes its tunnels), up to 5 s for
# them, then SIGKILL to whatever still runs in our namespaces.
cleanup() {
	trap - EXIT INT TERM
	local p ns
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
	for ns in "${NAMESPACES[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "interrupted, cleaning up"; exit 130' INT TERM

fail() {
	printf '  ... FAIL\nFAIL: %s\n' "$*"
	local f
	for f in "${LOGS[@]}"; do
		[ -s "$WORK/$f" ] || continue
		echo "--- last lines of $f"
		tail -n 25 "$WORK/$f"
	done
	exit 1
}

# ---- PKI -------------------------------------------------------------------

if [ "$SHORT" = 1 ]; then
	PKI=$WORK/pki
else
	PKI=$ROOT/build/demo-pki
	rm -rf "$PKI"
fi
mkdir -p "$PKI"
pki() { (cd "$PKI" && "$@"); }
cert_line() { # name: one line from vela-cert print -json
	pki "$VELA_CERT" print -json -path "$1.crt" | python3 -c '
import json, sys
d = json.load(sys.stdin)["details"]
print("%-10s ips %s%s, groups %s" % (d["name"], ",".join(d["ips"]),
      ", subnets " + ",".join(d["subnets"]) if d["subnets"] else "",
      ",".join(d["groups"])))'
}

step "A PKI made with vela-cert ($PKI)"
pki "$VELA_CERT" ca -name "Vela demo CA" -duration 8760h -ips 10.42.0.0/16 \
	-subnets 192.168.77.0/24 -groups lighthouse,gateway,laptop
pki "$VELA_CERT" sign -name lighthouse -ip 10.42.0.1/16 -groups lighthouse
pki "$VELA_CERT" sign -name gateway -ip 10.42.0.2/16 -groups gateway \
	-subnets 192.168.77.0/24
# The laptop keeps its key: only its public key goes to the CA.
pki "$VELA_CERT" keygen -out-key laptop.key -out-pub laptop.pub
pki "$VELA_CERT" sign -name laptop -ip 10.42.0.10/16 -groups laptop -in-pub laptop.pub
echo "  CA: Vela demo CA, may issue 10.42.0.0/16 and the LAN 192.168.77.0/24"
for h in lighthouse gateway laptop; do
	echo "  $(cert_line $h)"
done
for h in lighthouse gateway laptop; do
	pki nebula-cert verify -ca ca.crt -crt $h.crt >/dev/null 2>&1 ||
		fail "nebula-cert does not accept $h.crt"
done
ok "every certificate verifies with the real nebula-cert $(nebula-cert -version | awk '{print $2}')"

if [ "$(id -u)" -ne 0 ]; then
	echo
	echo "The PKI is in $PKI. The network part needs root: sudo ./scripts/demo.sh"
	exit 0
fi
for tool in nebula iperf3 ping python3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh)"
done

# ---- network -----------------------------------------------------------------

step "Network namespaces: LAN host, Vela gateway, router, Vela lighthouse, nebula laptop"
for ns in "$NSL" "$NSG" "$NSR" "$NSH" "$NSN"; do
	ip netns add "$ns"
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
done
veth() { # ns1 dev1 addr1 ns2 dev2 addr2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
veth "$NSL" vdl$$ 192.168.77.10/24 "$NSG" vdgl$$ 192.168.77.1/24
veth "$NSG" vdg$$ 172.30.2.1/24 "$NSR" vdrg$$ 172.30.2.254/24
veth "$NSH" vdh$$ 172.30.1.1/24 "$NSR" vdrh$$ 172.30.1.254/24
veth "$NSN" vdn$$ 172.30.3.1/24 "$NSR" vdrn$$ 172.30.3.254/24
ip -n "$NSL" route add default via 192.168.77.1
ip -n "$NSG" route add default via 172.30.2.254
ip -n "$NSH" route add default via 172.30.1.254
ip -n "$NSN" route add default via 172.30.3.254
ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NSG" sysctl -qw net.ipv4.ip_forward=1
# Strict reverse-path filtering on the gateway, as docs/deployment.md
# advises: the LAN comes in on its link, the VPN network on the TUN device.
ip netns exec "$NSG" sysctl -qw net.ipv4.conf.all.rp_filter=1
echo "  $NSL $NSG $NSR $NSH $NSN"
for ns in "$NSG" "$NSN"; do
	timeout 10 ip netns exec "$ns" ping -c 1 -W 2 172.30.1.1 >/dev/null ||
		fail "the underlay does not route ($ns -> 172.30.1.1)"
done
ok "the router connects the gateway, the lighthouse and the laptop's underlay"

# ---- configs -------------------------------------------------------------------

LH_MAP='static_host_map: {"10.42.0.1": ["172.30.1.1:4242"]}'
LH_CLIENT='lighthouse: {am_lighthouse: false, interval: 2, hosts: ["10.42.0.1"]'
# Nebula's defaults but for: no hole punching (no NAT here), MTU 1300.
common() { # name tun
	cat <<YML
pki: {ca: $PKI/ca.crt, cert: $PKI/$1.crt, key: $PKI/$1.key}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
logging: {level: info}
YML
}
{
	common lighthouse
	cat <<YML
static_host_map: {}
lighthouse: {am_lighthouse: true}
tun: {dev: vela-lh, mtu: 1300}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: icmp, host: any}]
dataplane: {backend: udp, workers: 1, mode: event, socket: $WORK/lighthouse.sock}
YML
} >"$WORK/lighthouse.yml"
{
	common gateway
	cat <<YML
$LH_MAP
# The LAN address is no way in from outside: not reported to the lighthouse.
$LH_CLIENT, local_allow_list: {"192.168.77.0/24": false}}
tun: {dev: vela-gw, mtu: 1300}
firewall:
  outbound:
    - {port: any, proto: any, host: any}      # the LAN may open connections out
  inbound:
    - {port: any, proto: icmp, group: laptop}
    - {port: 5201, proto: tcp, group: laptop} # iperf3 on the LAN host
dataplane: {backend: udp, workers: 2, mode: event, socket: $WORK/gateway.sock}
stats: {type: prometheus, listen: "127.0.0.1:9107", path: /metrics, namespace: vela, subsystem: gw, interval: 10s}
YML
} >"$WORK/gateway.yml"
# The laptop would ignore a LAN address anyway (remote_allow_list), as it
# would any private address it cannot reach.
{
	common laptop
	cat <<YML
$LH_MAP
$LH_CLIENT, remote_allow_list: {"192.168.77.0/24": false}}
tun:
  dev: nebula1
  mtu: 1300
  unsafe_routes:
    - {route: 192.168.77.0/24, via: 10.42.0.2}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound:
    - {port: any, proto: icmp, host: any}
    - {port: 5201, proto: tcp, group: gateway} # iperf3, from the LAN behind it
YML
} >"$WORK/laptop.yml"

start() { # ns name dev program...
	local ns=$1 name=$2 dev=$3 _
	shift 3
	ip netns exec "$ns" "$@" -config "$WORK/$name.yml" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		ip -n "$ns" link show "$dev" >/dev/null 2>&1 && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || fail "$name exited"
		sleep 0.1
	done
	fail "$name: $dev did not come up"
}
dp() { # name command...: dpctl against that Vela node
	local name=$1
	shift
	"$DPCTL" -s "$WORK/$name.sock" "$@"
}
tunnel_ips() { # name: the VPN IPs it has tunnels to
	dp "$1" -j tunnels | python3 -c 'import json,sys; print(" ".join(sorted(t["vpn_ip"] for t in json.load(sys.stdin)["tunnels"])))'
}

step "Starting the Vela lighthouse, the Vela gateway and the nebula $(nebula -version | awk '{print $2}') laptop"
echo "  static_host_map on the gateway and the laptop: the lighthouse's only"
start "$NSH" lighthouse vela-lh "$VELA"
ok "lighthouse 10.42.0.1 up (vela, 172.30.1.1:4242)"
start "$NSG" gateway vela-gw "$VELA"
ok "gateway 10.42.0.2 up (vela, 172.30.2.1:4242, LAN 192.168.77.0/24)"
start "$NSN" laptop nebula1 nebula
ok "laptop 10.42.0.10 up (nebula, 172.30.3.1:4242)"
for _ in $(seq 100); do
	ip -n "$NSN" route show 192.168.77.0/24 | grep -q "dev nebula1" && break
	sleep 0.1
done
ip -n "$NSN" route show 192.168.77.0/24 | grep -q "dev nebula1" ||
	fail "nebula did not install the unsafe route"
ok "laptop routes the LAN into the overlay" "$(ip -n "$NSN" route show 192.168.77.0/24 | xargs)"

step "The gateway and the laptop register with the lighthouse"
printf '  lighthouse has tunnels to 10.42.0.2 and 10.42.0.10'
for _ in $(seq 150); do
	[ "$(tunnel_ips lighthouse 2>/dev/null)" = "10.42.0.10 10.42.0.2" ] && break
	sleep 0.1
done
[ "$(tunnel_ips lighthouse 2>/dev/null)" = "10.42.0.10 10.42.0.2" ] ||
	fail "lighthouse tunnels: '$(tunnel_ips lighthouse 2>&1)'"
printf ' ... OK\n'
sleep 0.5 # their first updates ride those tunnels

# ping_check NS FROM DST DESC: first until one reply (the tunnel is made
# on the first packet, through the lighthouse), then 3 that must all come.
ping_check() {
	local ns=$1 dst=$2 desc=$3 out _
	printf '  ping %s' "$desc"
	for _ in $(seq 10); do
		ip netns exec "$ns" ping -c 1 -W 1 "$dst" >/dev/null 2>&1 && break
	done
	out=$(timeout 20 ip netns exec "$ns" ping -c 3 -i 0.3 -W 2 "$dst" 2>&1) ||
		fail "ping $desc: $(tail -n 2 <<<"$out")"
	printf ' ... OK (%s; %s)\n' "$(grep -o '[0-9]* packets transmitted, [0-9]* received' <<<"$out")" \
		"$(grep -o 'rtt.*' <<<"$out")"
}

step "Pings across: LAN host <-> the laptop's VPN IP, through the gateway"
ping_check "$NSL" 10.42.0.10 "LAN host 192.168.77.10 -> laptop 10.42.0.10"
ping_check "$NSN" 192.168.77.10 "laptop 10.42.0.10 -> LAN host 192.168.77.10"
ep=$(dp gateway -j tunnels | python3 -c 'import json,sys; print(next((t["remote"] for t in json.load(sys.stdin)["tunnels"] if t["vpn_ip"] == "10.42.0.10"), ""))')
[ "$ep" = 172.30.3.1:4242 ] || fail "gateway's tunnel to the laptop: endpoint '$ep'"
ok "the gateway found the laptop at $ep through the lighthouse (not in its static_host_map)"

# iperf_check SERVER-NS SERVER-IP CLIENT-NS DESC [iperf3 flags]
iperf_check() {
	local sns=$1 sip=$2 cns=$3 desc=$4 srv out bps
	shift 4
	ip netns exec "$sns" timeout $((IPERF_S + 15)) iperf3 -s -1 -B "$sip" >/dev/null 2>&1 &
	srv=$!
	for _ in $(seq 50); do
		ip netns exec "$sns" ss -Hltn "sport = :5201" | grep -q . && break
		sleep 0.1
	done
	printf '  iperf3 %s, %d s' "$desc" "$IPERF_S"
	out=$(ip netns exec "$cns" timeout $((IPERF_S + 10)) iperf3 -c "$sip" -t "$IPERF_S" -J "$@" 2>&1) ||
		{ kill "$srv" 2>/dev/null; fail "iperf3 $desc: $(tail -n 3 <<<"$out")"; }
	wait "$srv" || true
	bps=$(python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' <<<"$out") ||
		fail "iperf3 $desc: no result"
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$bps" ||
		fail "iperf3 $desc: $bps Mbit/s"
	printf ' ... OK\n  throughput: %s Mbit/s (%s)\n' "$bps" "$desc"
}

step "iperf3 through the overlay (the LAN host connects to the laptop)"
iperf_check "$NSN" 10.42.0.10 "$NSL" "LAN host -> laptop"
iperf_check "$NSN" 10.42.0.10 "$NSL" "laptop -> LAN host" -R
dp gateway -j flows | python3 -c '
import json, sys
sys.exit(0 if any(f["proto"] == "tcp" and f["local_ip"] == "192.168.77.10" and f["remote_ip"] == "10.42.0.10"
                  for f in json.load(sys.stdin)["flows"]) else 1)' ||
	fail "the gateway has no flow for the LAN host's connection: $(dp gateway flows)"
ok "the gateway's firewall tracked the LAN host's connections"

step "The gateway's dataplane: dpctl show"
dp gateway show | sed 's/^/  /'
step "dpctl tunnels"
dp gateway tunnels | sed 's/^/  /'
step "dpctl flows"
dp gateway flows | sed 's/^/  /'
[ "$(tunnel_ips gateway)" = "10.42.0.1 10.42.0.10" ] ||
	fail "gateway tunnels: '$(tunnel_ips gateway)', want the lighthouse and the laptop"
ok "tunnels to the lighthouse and the laptop"

step "The gateway's Prometheus endpoint (stats: type prometheus)"
echo "  curl -s http://127.0.0.1:9107/metrics   (in the gateway's namespace; a few of its lines)"
timeout 10 ip netns exec "$NSG" curl -sf http://127.0.0.1:9107/metrics >"$WORK/metrics.txt" ||
	fail "the gateway's metrics endpoint did not answer"
grep -E '^vela_gw_(dataplane_up|tunnels|handshakes_total\{role="(initiator|responder)",result="completed"\}|dataplane_(tun_)?(rx|tx)_packets_total\{worker="[0-9]+"\}|dataplane_drops_total\{worker="0",reason="FIREWALL_IN"\}) ' \
	"$WORK/metrics.txt" | sed 's/^/  /'
grep -q '^vela_gw_dataplane_up 1$' "$WORK/metrics.txt" ||
	fail "metrics: the gateway's dataplane is not up"
ok "metrics served: $(grep -c '^[a-z]' "$WORK/metrics.txt") series"

step "Cleaning up"
cleanup
echo "  namespaces and processes removed"
echo
[ "$SHORT" = 1 ] || echo "The PKI stays in $PKI."
echo "demo finished in $(( $(date +%s) - T0 )) s: all checks OK"
