#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The XDP steering program (bpf/xsk_steer.bpf.c) and its loader
# (dataplane/xdp_steer.c), through xsk_probe, on a veth pair with 2 queues:
#
#   ns A ($NSA)                                    ns B ($NSB)
#   +--------------------------------------+       +-----------------------------+
#   | xsk_probe: vela_xsk_steer on $VA     |       | senders (python3):          |
#   |   AF_XDP sockets (copy) on queues    |       |   UDP v4/v6 to :4242 / :4243|
#   |   0 and 1, prints what they get      |       |   TCP to :4244, ping        |
#   | kernel listeners (python3):          |       |   raw frames (AF_PACKET):   |
#   |   UDP :4242 :4243, TCP :4244         |       |   VLAN, QinQ, IPv4 options, |
#   |                                      |       |   fragments, IPv6 ext, ...  |
#   | $VA  10.76.N.1/24  fd00:76:N::1/64 ========= $VB  10.76.N.2  fd00:76:N::2 |
#   | $VA.100 10.75.N.1 (if 8021q)         |       | $VB.100 10.75.N.2           |
#   +--------------------------------------+       +-----------------------------+
#
# Native mode on veth puts a frame on the RX queue whose index is the
# sender's TX queue, so A binds both queues and B's TX queue is chosen with
# XPS (tx-0 on CPU 0, tx-1 on CPU 1) and taskset. Generic mode puts every
# frame on queue 0. Checks, for native and generic: UDP to the listen port
# (IPv4, IPv6, VLAN, QinQ, IPv4 options) arrives at the AF_XDP socket of
# the right queue; UDP to another port, TCP and ping reach the kernel; the
# per-reason counters match what was sent; a queue without a socket passes
# to the kernel; detach leaves no XDP on the interface. Then: the listen
# address filter, native unsupported (a bridge), replacing a stale program
# of ours after a crash, refusing a live one, refusing someone else's, and
# a missing interface.
#
# Needs root; exits 77 (skipped) without it. Every command is bounded by
# timeout(1); cleanup removes everything on exit.
set -euo pipefail

XSK_PROBE=${XSK_PROBE:?path to xsk_probe}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root for network namespaces and XDP"
	exit 77
fi
for tool in ip python3 timeout taskset; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found"
		exit 77
	fi
done

N=$(($$ % 250 + 1))
NSA=vxs-a-$$
NSB=vxs-b-$$
VA=vxa$$
VB=vxb$$
BR=vxbr$$
A4=10.76.$N.1
B4=10.76.$N.2
A6=fd00:76:$N::1
B6=fd00:76:$N::2
AV4=10.75.$N.1
BV4=10.75.$N.2
PORT=4242
T=10 # seconds for one step

WORK=$(mktemp -d /tmp/vela-xdp-steer.XXXXXX)
PROBE_PID=
LISTEN_PID=
HAVE_VLAN_DEV=0
HAVE_XPS=0
MAC_A=
COUNTERS=
CURRENT=

say() { printf '== %s\n' "$*"; }

cleanup() {
	local status=$?

	set +e
	exec 7>&- 2>/dev/null
	for pid in $PROBE_PID $LISTEN_PID; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$status" != 0 ]; then
		for f in "$WORK"/*.out "$WORK"/*.err "$WORK"/kernel.log; do
			[ -s "$f" ] || continue
			echo "-- $f:"
			tail -n 40 "$f"
		done
	fi
	timeout $T ip netns del "$NSA" 2>/dev/null
	timeout $T ip netns del "$NSB" 2>/dev/null
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT

fail() {
	echo "FAIL${CURRENT:+ ($CURRENT)}: $*"
	exit 1
}

a() { timeout $T ip netns exec "$NSA" "$@"; }
b() { timeout $T ip netns exec "$NSB" "$@"; }

# wait_for FILE REGEX: until a line of FILE matches (bounded).
wait_for() {
	local _
	for _ in $(seq $((T * 10))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The helpers both sides run: senders, raw frames, kernel listeners.
cat >"$WORK/net.py" <<'EOF'
import select, socket, struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ip4(src, dst, payload, proto=17, frag=0, opts=b""):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 1,
                    frag, 64, proto, 0, socket.inet_aton(src),
                    socket.inet_aton(dst)) + opts
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def ip6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload

def udp(dport, data):
    return struct.pack("!HHHH", 40000, dport, 8 + len(data), 0) + data

def raw(ifname, dst_mac, kind, a4, b4, a6, b6, port):
    dst = bytes.fromhex(dst_mac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    src = s.getsockname()[4]
    eth = lambda proto: dst + src + struct.pack("!H", proto)
    tag = lambda vid, proto: struct.pack("!HH", vid, proto)
    v4 = lambda data, **kw: ip4(b4, a4, udp(port, data), **kw)
    frames = {
        "vlan": eth(0x8100) + tag(100, 0x0800) + v4(b"vlan-steer"),
        "qinq": eth(0x88A8) + tag(100, 0x8100) + tag(200, 0x0800) + v4(b"qinq-steer"),
        "opts": eth(0x0800) + v4(b"opts-steer", opts=b"\x01\x01\x01\x00"),
        "tags3": eth(0x8100) + tag(1, 0x8100) + tag(2, 0x8100) + tag(3, 0x0800) + v4(b"tags3"),
        "frag1": eth(0x0800) + v4(b"frag-first", frag=0x2000),
        "frag2": eth(0x0800) + ip4(b4, a4, b"frag-rest", frag=0x0010),
        "v6ext": eth(0x86DD) + ip6(b6, a6, 0, bytes([17, 0, 1, 4, 0, 0, 0, 0]) + udp(port, b"v6ext")),
        "short": eth(0x0800) + bytes(10),
        "otheraddr": eth(0x0800) + ip4(b4, "10.76.0.77", udp(port, b"other-addr")),
    }
    s.send(frames[kind])

def send(family, addr, port, data):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.sendto(data.encode(), (addr, int(port)))

def tcp(addr, port, data):
    s = socket.create_connection((addr, int(port)), timeout=5)
    s.sendall(data.encode() + b"\n")
    s.close()

def listen(log, udp_ports, tcp_port):
    out = open(log, "a", buffering=1)
    socks = []
    for p in udp_ports.split(","):
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        u.bind(("::", int(p)))
        socks.append(u)
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("::", int(tcp_port)))
    t.listen(8)
    socks.append(t)
    out.write("listening\n")
    while True:
        for s in select.select(socks, [], [])[0]:
            if s is t:
                c, _ = t.accept()
                c.settimeout(5)
                out.write("tcp %s %s\n" % (tcp_port, c.recv(100).decode().strip()))
                c.close()
            else:
                data, _ = s.recvfrom(2000)
                out.write("udp %d %s\n" % (s.getsockname()[1], data.decode(errors="replace")))

cmd = sys.argv[1]
if cmd == "raw":
    raw(*sys.argv[2:9], int(sys.argv[9]))
elif cmd == "send4":
    send(socket.AF_INET, *sys.argv[2:5])
elif cmd == "send6":
    send(socket.AF_INET6, *sys.argv[2:5])
elif cmd == "tcp":
    tcp(*sys.argv[2:5])
elif cmd == "listen":
    listen(*sys.argv[2:5])
EOF

net_b() { b python3 "$WORK/net.py" "$@"; }
raw_b() { net_b raw "$VB" "$MAC_A" "$1" "$A4" "$B4" "$A6" "$B6" $PORT; }

# probe_start ARGS...: xsk_probe attach on $VA, commands on fd 7.
probe_start() {
	rm -f "$WORK/ctl" "$WORK/probe.out" "$WORK/probe.err"
	mkfifo "$WORK/ctl"
	exec 7<>"$WORK/ctl" # read-write: never blocks, and is the writer
	timeout 120 ip netns exec "$NSA" "$XSK_PROBE" -v attach "$VA" "$@" \
		<"$WORK/ctl" >"$WORK/probe.out" 2>"$WORK/probe.err" &
	PROBE_PID=$!
	wait_for "$WORK/probe.out" '^(ready|error:)' ||
		fail "xsk_probe did not get ready"
	grep -q '^ready$' "$WORK/probe.out" ||
		fail "attach failed: $(cat "$WORK/probe.out")"
}

# probe_stop quit|crash: the probe exits; its status is checked.
probe_stop() {
	local status=0

	echo "$1" >&7
	exec 7>&-
	wait "$PROBE_PID" || status=$?
	PROBE_PID=
	[ "$status" = 0 ] || fail "xsk_probe exited with $status"
}

# snapshot: ask xsk_probe for its counters and keep the answer in COUNTERS.
snapshot() {
	local n _

	n=$(grep -c '^counters' "$WORK/probe.out" || true)
	echo counters >&7
	for _ in $(seq $((T * 10))); do
		[ "$(grep -c '^counters' "$WORK/probe.out" || true)" -gt "$n" ] && break
		sleep 0.1
	done
	COUNTERS=$(grep '^counters' "$WORK/probe.out" | tail -n 1)
}

# counter NAME: its value in the last snapshot.
counter() {
	echo "$COUNTERS" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}

expect_rx() { # queue-regex vlan-regex ip payload
	wait_for "$WORK/probe.out" "^rx queue=$1 vlan=$2 ip=$3 dport=$PORT payload=$4\$" ||
		fail "$4 did not arrive at the AF_XDP socket (queue $1, vlan $2)"
}

expect_kernel() { # regex
	wait_for "$WORK/kernel.log" "$1" || fail "kernel did not get: $1"
}

no_xdp_left() {
	if a ip link show "$VA" | grep -q xdp; then
		a ip link show "$VA"
		fail "an XDP program is still attached to $VA"
	fi
}

setup() {
	timeout $T ip netns add "$NSA"
	timeout $T ip netns add "$NSB"
	timeout $T ip link add "$VA" numtxqueues 2 numrxqueues 2 type veth \
		peer name "$VB" numtxqueues 2 numrxqueues 2
	timeout $T ip link set "$VA" netns "$NSA"
	timeout $T ip link set "$VB" netns "$NSB"
	a ip link set lo up
	b ip link set lo up
	a ip addr add "$A4/24" dev "$VA"
	b ip addr add "$B4/24" dev "$VB"
	a ip addr add "$A6/64" dev "$VA" nodad
	b ip addr add "$B6/64" dev "$VB" nodad
	a ip link set "$VA" up
	b ip link set "$VB" up
	# The kernel may lack 802.1Q (CONFIG_VLAN_8021Q): then tagged frames
	# come from the raw sender only.
	if b ip link add link "$VB" name "$VB.100" type vlan id 100 2>/dev/null; then
		a ip link add link "$VA" name "$VA.100" type vlan id 100
		a ip addr add "$AV4/24" dev "$VA.100"
		b ip addr add "$BV4/24" dev "$VB.100"
		a ip link set "$VA.100" up
		b ip link set "$VB.100" up
		HAVE_VLAN_DEV=1
	else
		say "no 802.1Q in this kernel: VLAN frames from the raw sender only"
	fi
	MAC_A=$(a cat "/sys/class/net/$VA/address")
	# XPS: B sends on tx-0 from CPU 0 and on tx-1 from CPU 1.
	HAVE_XPS=1
	b sh -c "echo 1 > /sys/class/net/$VB/queues/tx-0/xps_cpus &&
		 echo 2 > /sys/class/net/$VB/queues/tx-1/xps_cpus" 2>/dev/null ||
		HAVE_XPS=0
	[ "$(nproc)" -ge 2 ] || HAVE_XPS=0

	: >"$WORK/kernel.log"
	timeout 300 ip netns exec "$NSA" python3 "$WORK/net.py" listen \
		"$WORK/kernel.log" "$PORT,4243" 4244 &
	LISTEN_PID=$!
	wait_for "$WORK/kernel.log" '^listening$' || fail "listener did not start"
	# Neighbours first, so no frame below waits on ARP or ND.
	b ping -c 1 -W 2 "$A4" >/dev/null || fail "no IPv4 between the namespaces"
	b ping -6 -c 1 -W 2 "$A6" >/dev/null || fail "no IPv6 between the namespaces"
}

# One run in MODE: delivery, counters, queues, detach.
run_mode() {
	local mode=$1 n_steered=5 q_any q_clear steered other kind

	if [ "$mode" = native ]; then
		q_any='[01]'
		q_clear=1
		probe_start $PORT native -q 0 -q 1
	else
		q_any=0 # generic: every frame on queue 0
		q_clear=0
		probe_start $PORT generic -q 0 -q 1
	fi
	grep -q "^attached mode=$mode " "$WORK/probe.out" || fail "not in $mode mode"

	net_b send4 "$A4" $PORT "v4-steer-$mode"
	expect_rx "$q_any" - 4 "v4-steer-$mode"
	net_b send6 "$A6" $PORT "v6-steer-$mode"
	expect_rx "$q_any" - 6 "v6-steer-$mode"
	raw_b vlan
	expect_rx "$q_any" 100 4 vlan-steer
	raw_b qinq
	expect_rx "$q_any" 100,200 4 qinq-steer
	raw_b opts
	expect_rx "$q_any" - 4 opts-steer
	if [ "$HAVE_VLAN_DEV" = 1 ]; then
		# Through the 802.1Q device: the tag is in the frame, or in the
		# skb's metadata if veth offloads it; steered either way.
		net_b send4 "$AV4" $PORT "vlan-dev-$mode"
		expect_rx "$q_any" '(100|-)' 4 "vlan-dev-$mode"
		n_steered=6
	fi

	net_b send4 "$A4" 4243 "v4-other-$mode"
	expect_kernel "^udp 4243 v4-other-$mode\$"
	net_b send6 "$A6" 4243 "v6-other-$mode"
	expect_kernel "^udp 4243 v6-other-$mode\$"
	net_b tcp "$A4" 4244 "tcp-$mode"
	expect_kernel "^tcp 4244 tcp-$mode\$"
	b ping -c 2 -W 2 "$A4" >/dev/null || fail "IPv4 ping lost"
	b ping -6 -c 2 -W 2 "$A6" >/dev/null || fail "IPv6 ping lost"
	for kind in tags3 frag1 frag2 v6ext short; do
		raw_b $kind
	done
	sleep 0.3

	snapshot
	steered=$(counter steered)
	[ "$steered" = $n_steered ] ||
		fail "steered=$steered, sent $n_steered to the listen port"
	[ "$(grep -c '^rx ' "$WORK/probe.out")" = $n_steered ] ||
		fail "the sockets got $(grep -c '^rx ' "$WORK/probe.out") frames, not $n_steered"
	[ "$(counter no_xsk)" = 0 ] || fail "no_xsk=$(counter no_xsk) with every queue bound"
	# Exact where nothing but our frames can land; at least where the
	# kernel adds its own (ARP, ND, MLD with hop-by-hop options).
	other=$(counter other_dest)
	[ "$other" = 2 ] || fail "other_dest=$other, sent 2 to port 4243"
	[ "$(counter fragment)" = 2 ] || fail "fragment=$(counter fragment), sent 2"
	[ "$(counter malformed)" = 1 ] || fail "malformed=$(counter malformed), sent 1"
	[ "$(counter ip6_ext)" -ge 1 ] || fail "ip6_ext=0"
	[ "$(counter not_ip)" -ge 1 ] || fail "not_ip=0 after 3 VLAN tags"
	[ "$(counter not_udp)" -ge 6 ] || fail "not_udp=$(counter not_udp): pings and TCP"
	! grep -q "^udp $PORT .*steer" "$WORK/kernel.log" ||
		fail "the kernel got listen-port traffic meant for the sockets"

	# The frame's RX queue picks the socket.
	if [ "$mode" = native ] && [ "$HAVE_XPS" = 1 ]; then
		b taskset -c 0 python3 "$WORK/net.py" send4 "$A4" $PORT q0-steer
		expect_rx 0 - 4 q0-steer
		b taskset -c 1 python3 "$WORK/net.py" send4 "$A4" $PORT q1-steer
		expect_rx 1 - 4 q1-steer
		n_steered=$((n_steered + 2))
	elif [ "$mode" = native ]; then
		say "no XPS or one CPU: queue choice not checked"
	fi

	# A queue without a socket: its frames go to the kernel's UDP socket.
	echo "clear $q_clear" >&7
	wait_for "$WORK/probe.out" "^cleared queue=$q_clear ok" || fail "clear failed"
	if [ "$mode" = generic ] || [ "$HAVE_XPS" = 1 ]; then
		b taskset -c "$q_clear" python3 "$WORK/net.py" send4 "$A4" $PORT "noxsk-$mode"
		expect_kernel "^udp $PORT noxsk-$mode\$"
		snapshot
		[ "$(counter no_xsk)" = 1 ] || fail "no_xsk=$(counter no_xsk), sent 1"
		[ "$(counter steered)" = $n_steered ] ||
			fail "steered=$(counter steered), expected $n_steered"
	fi

	probe_stop quit
	grep -q '^detached$' "$WORK/probe.out" || fail "no detach"
	grep -q 'XDP program detached' "$WORK/probe.err" || fail "detach not logged"
	no_xdp_left
}

test_native() { run_mode native; }
test_generic() { run_mode generic; }

# A node bound to one IPv4 address: UDP to another address or over IPv6
# is not ours.
test_listen_address() {
	probe_start $PORT auto -a "$A4" -q 0 -q 1
	raw_b otheraddr
	net_b send6 "$A6" $PORT v6-not-ours
	expect_kernel "^udp $PORT v6-not-ours\$"
	net_b send4 "$A4" $PORT v4-ours
	expect_rx '[01]' - 4 v4-ours
	snapshot
	[ "$(counter other_dest)" = 2 ] || fail "other_dest=$(counter other_dest), sent 2"
	[ "$(counter steered)" = 1 ] || fail "steered=$(counter steered), sent 1"
	probe_stop quit
	no_xdp_left
}

# A bridge has no native XDP: native is refused with advice, auto falls
# back to generic.
test_native_unsupported() {
	local out

	a ip link add "$BR" type bridge
	a ip link set "$BR" up
	out=$(a "$XSK_PROBE" attach "$BR" $PORT native </dev/null 2>/dev/null) &&
		fail "native XDP on a bridge was accepted"
	echo "$out" | grep -q "^error: $BR: the driver has no native XDP.*use generic mode" ||
		fail "unclear error: $out"
	out=$(echo quit | a "$XSK_PROBE" attach "$BR" $PORT auto 2>"$WORK/auto.err") ||
		fail "auto on a bridge failed: $out"
	echo "$out" | grep -q '^attached mode=generic' || fail "auto did not fall back: $out"
	grep -q 'Native XDP refused, using generic XDP' "$WORK/auto.err" ||
		fail "fallback not logged"
	a ip link del "$BR"
}

# A crashed dataplane leaves its program attached; the next one replaces it.
test_stale() {
	local before after

	probe_start $PORT generic
	before=$(sed -n 's/^attached mode=generic prog=\([0-9]*\).*/\1/p' "$WORK/probe.out")
	probe_stop crash
	a ip link show "$VA" | grep -q xdp || fail "crash left no program to test with"

	probe_start $PORT generic
	after=$(sed -n 's/^attached mode=generic prog=\([0-9]*\).*/\1/p' "$WORK/probe.out")
	[ "$before" != "$after" ] || fail "same program id after replacing"
	grep -q "Replaced an XDP program left by a vela that is gone.*progId=$before" \
		"$WORK/probe.err" || fail "stale program $before not reported"
	net_b send4 "$A4" $PORT after-stale
	expect_rx 0 - 4 after-stale
	probe_stop quit
	no_xdp_left
}

# A program whose owner still runs is not taken over.
test_live_owner() {
	local out pid

	probe_start $PORT generic
	pid=$(sed -n 's/^attached .* pid=\([0-9]*\)$/\1/p' "$WORK/probe.out")
	out=$(a "$XSK_PROBE" attach "$VA" $PORT generic </dev/null 2>/dev/null) &&
		fail "a second attach took over a live program"
	echo "$out" | grep -q "^error: $VA: vela's XDP program (id [0-9]*) is in use by the running process $pid: stop that vela-dataplane first" ||
		fail "unclear error: $out"
	net_b send4 "$A4" $PORT still-live
	expect_rx 0 - 4 still-live
	probe_stop quit
	no_xdp_left
}

# Someone else's program: named, with the command that removes it.
test_foreign() {
	local out cmd argv

	a "$XSK_PROBE" foreign "$VA" >/dev/null || fail "could not attach a foreign program"
	out=$(a "$XSK_PROBE" attach "$VA" $PORT auto </dev/null 2>/dev/null) &&
		fail "attach over a foreign program succeeded"
	echo "$out" | grep -q "^error: $VA: another XDP program is attached (id [0-9]* \"foreign_pass\", generic mode): remove it with 'ip link set dev $VA xdpgeneric off'" ||
		fail "unclear error: $out"
	# Run the advice as given: it must remove the program.
	cmd=$(echo "$out" | sed -n "s/.*remove it with '\([^']*\)'.*/\1/p")
	read -r -a argv <<<"$cmd"
	a "${argv[@]}"
	no_xdp_left
	probe_start $PORT auto
	probe_stop quit
	no_xdp_left
}

test_missing_interface() {
	local out

	out=$(a "$XSK_PROBE" attach nosuch$$ $PORT auto </dev/null 2>/dev/null) &&
		fail "attach to a missing interface succeeded"
	[ "$out" = "error: no interface nosuch$$: check dataplane.interface" ] ||
		fail "unclear error: $out"
}

ALL_TESTS="test_native test_generic test_listen_address test_native_unsupported
	test_stale test_live_owner test_foreign test_missing_interface"

setup
for t in $ALL_TESTS; do
	CURRENT=$t
	say "$t"
	$t
done
CURRENT=
say "all passed"
