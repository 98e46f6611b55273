#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vela-dataplane and its TUN device, in two network namespaces (dp_lib.sh;
# dp_peer plays vela-control and the Nebula peer):
#
# 1. Hand-over: a python3 parent opens the queues of a multiqueue TUN
#    (IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, with IFF_VNET_HDR and
#    TUNSETOFFLOAD on the 2-queue run) and execs vela-dataplane with them
#    in VELA_TUN_FD. SETUP takes that device (address and MTU set as usual),
#    traffic flows both ways through it, and dpctl says "handed over".
#    Bad values are refused in SETUP_DONE, naming VELA_TUN_FD: not a number,
#    not open, not a TUN, too few fds, fds of two devices.
# 2. Link events: MTU changes and down/up show in dpctl show (text and
#    JSON) and in the log.
# 3. The device deleted, or moved to another namespace: vela-dataplane
#    logs it, naming the device, and exits 1 within $T seconds.
#
# Needs root; exits 77 (skipped) without it. Every wait is bounded.
set -euo pipefail

VELA_DATAPLANE=${VELA_DATAPLANE:?path to vela-dataplane}
DP_PEER=${DP_PEER:?path to dp_peer}
DPCTL=${DPCTL:?path to dpctl}

. "$(dirname "$0")/dp_lib.sh"
dp_require
dp_names tev te 78
export DP_BACKEND=udp DP_INTERFACE=$VETH_A
TUN=tev$$ # the handed-over device, unique per run

# Opens queues and execs the rest of the command line with VELA_TUN_FD set.
# Each DEV[:QUEUES[:vnet]] before "--" is a multiqueue TUN to open; with
# "fd" as VELA_TUN_FD's value given by -e VALUE, that value is used as is.
cat >"$TMP/handover.py" <<'EOF'
import fcntl, os, struct, sys

TUNSETIFF, TUNSETOFFLOAD = 0x400454CA, 0x400454D0
IFF_TUN, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR = 0x1, 0x1000, 0x100, 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x1, 0x2, 0x4

args = sys.argv[1:]
value = None
if args[0] == "-e":
    value, args = args[1], args[2:]
sep = args.index("--")
fds = []
for spec in args[:sep]:
    name, n, *opt = spec.split(":") + ["1"][: 2 - len(spec.split(":"))]
    flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE
    if opt == ["vnet"]:
        flags |= IFF_VNET_HDR
    for q in range(int(n)):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        if opt == ["vnet"] and q == 0:
            fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
        os.set_inheritable(fd, True)
        fds.append(fd)
env = dict(os.environ)
env["VELA_TUN_FD"] = value if value is not None else ",".join(map(str, fds))
os.execve(args[sep + 1], args[sep + 1:], env)
EOF

# Like start_dataplane, through handover.py: ARGS for it, then nothing.
start_handed_over() {
	rm -f "$TMP/dp.log"
	ip netns exec "$NS_A" python3 "$TMP/handover.py" "$@" -- \
		"$VELA_DATAPLANE" -s "$SOCK" 2>"$TMP/dp.log" &
	DP_PID=$!
	wait_file "$SOCK"
}

setup_ok() { # workers
	local out
	out=$(in_a "$DP_PEER" setup -sock "$SOCK" -workers "$1" \
		-listen "$UNDER_A:$PORT" -vpn "$VPN_A/24")
	echo "$out"
	SET_TUN=$(sed -n 's/^tun=\([^ ]*\) .*/\1/p' <<<"$out")
	[ -n "$SET_TUN" ]
	ip -n "$NS_A" -4 addr show dev "$SET_TUN" | grep -q "inet $VPN_A/24"
	ip -n "$NS_A" link show dev "$SET_TUN" | grep -q "mtu 1300"
}

# SETUP must fail with a message containing $2.
setup_refused() { # workers expected-text
	local err=0
	in_a "$DP_PEER" setup -sock "$SOCK" -workers "$1" \
		-listen "$UNDER_A:$PORT" -vpn "$VPN_A/24" 2>"$TMP/setup.err" || err=$?
	cat "$TMP/setup.err"
	[ "$err" != 0 ] || { echo "SETUP was accepted"; return 1; }
	grep -qF "$2" "$TMP/setup.err" || { echo "want: $2"; return 1; }
	grep -qF 'level=error msg="Setup failed: VELA_TUN_FD' "$TMP/dp.log"
}

show() { in_a "$DPCTL" -s "$SOCK" show "$@"; }

# Whether dpctl show prints $1 (through a file: grep -q must not cut
# dpctl's output short under pipefail).
show_has() {
	show >"$TMP/show.out" && grep -qF "$1" "$TMP/show.out"
}

# Checks dpctl show -j with a python expression on j, the parsed object.
show_json() { # expression [arg]
	show -j >"$TMP/show.json"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), j
' "$TMP/show.json" "$@"
}

# Waits (bounded) until dpctl show prints a line containing $1.
wait_show() {
	for _ in $(seq 50); do
		show_has "$1" && return 0
		sleep 0.1
	done
	echo "dpctl show never said: $1"
	cat "$TMP/show.out"
	return 1
}

test_inbound() { dp_inbound; }

test_outbound() { dp_outbound; }

# vela-dataplane must exit 1 on its own, naming $1 in its log.
expect_exit() { # tun
	local status=0
	timeout "$T" tail --pid="$DP_PID" -f /dev/null ||
		{ echo "vela-dataplane still running after ${T}s"; return 1; }
	wait "$DP_PID" || status=$?
	DP_PID=
	echo "exit status $status"
	[ "$status" = 1 ]
	grep -F "tun $1: the device was deleted or left the network namespace" "$TMP/dp.log"
	grep -qF 'Stopping: the TUN device is gone' "$TMP/dp.log"
	grep -q 'level=info msg="vela-dataplane stopped"' "$TMP/dp.log"
	[ ! -e "$SOCK" ]
}

setup_net

# --- 1. hand-over, then 2. link events, then 3. deletion ----------------------
for workers in 1 2; do
	spec=$TUN:$workers
	[ "$workers" = 2 ] && spec=$TUN:2:vnet
	say "hand-over of $spec"
	start_handed_over "$spec"
	grep -qF "VELA_TUN_FD=" "$TMP/dp.log"
	grep -qF "SETUP takes these $workers TUN queue fds" "$TMP/dp.log"
	setup_ok "$workers"
	[ "$SET_TUN" = "$TUN" ]
	grep -qF "tun $TUN: handed over (VELA_TUN_FD), $workers queues" "$TMP/dp.log"
	show
	show_has "tun: $TUN (handed over: VELA_TUN_FD)"
	show_has "tun link: up, running, mtu 1300"
	if [ "$workers" = 2 ]; then
		show_has "tun offloads: csum tso4 tso6"
	fi
	show_json 'j["tun"] == "'"$TUN"'" and j["tun_handed_over"] is True'
	show_json 'j["tun_mtu"] == 1300 and j["tun_up"] and j["tun_running"]'
	in_a "$DP_PEER" add -sock "$SOCK" -peer-vpn "$VPN_B" -remote "$UNDER_B:$PORT"
	say "traffic through the handed-over device"
	test_inbound
	test_outbound

	say "link events"
	ip -n "$NS_A" link set dev "$TUN" mtu 1400
	wait_show "tun link: up, running, mtu 1400"
	grep -qF "tun $TUN: mtu 1400 (was 1300)" "$TMP/dp.log"
	ip -n "$NS_A" link set dev "$TUN" mtu 1300
	wait_show "tun link: up, running, mtu 1300"
	ip -n "$NS_A" link set dev "$TUN" down
	wait_show "tun link: down, not running, mtu 1300"
	grep -qF "tun $TUN: link down, not running" "$TMP/dp.log"
	show_json 'j["tun_up"] is False and j["tun_running"] is False'
	ip -n "$NS_A" link set dev "$TUN" up
	wait_show "tun link: up, running, mtu 1300"
	grep -qF "tun $TUN: link up, running" "$TMP/dp.log"
	# Up again, the connected route is back: packets still reach the peer
	# (test_inbound again would be a replay: dp_peer's counter is fixed).
	test_outbound

	if [ "$workers" = 1 ]; then
		say "ip link del $TUN"
		ip -n "$NS_A" link del dev "$TUN"
		expect_exit "$TUN"
	else
		say "ip link set $TUN netns $NS_B"
		ip -n "$NS_A" link set dev "$TUN" netns "$NS_B"
		expect_exit "$TUN"
		ip -n "$NS_B" link del dev "$TUN" 2>/dev/null || true
	fi
done

say "a device vela created, deleted"
start_dataplane
setup_ok 1
show_has "tun: $SET_TUN"
if show_has "handed over"; then
	echo "a created device shown as handed over"
	exit 1
fi
show_json 'j["tun_handed_over"] is False and j["tun_mtu"] == 1300'
ip -n "$NS_A" link del dev "$SET_TUN"
expect_exit "$SET_TUN"

# --- bad VELA_TUN_FD: refused in SETUP_DONE, naming it --------------------------
say "VELA_TUN_FD=abc"
start_handed_over -e abc
grep -qF 'SETUP will be refused' "$TMP/dp.log"
setup_refused 1 'VELA_TUN_FD="abc": not a list of fd numbers'
stop_dataplane

say "VELA_TUN_FD=77 (not open)"
start_handed_over -e 77
setup_refused 1 'VELA_TUN_FD: fd 77 is not open in vela-dataplane'
stop_dataplane

say "VELA_TUN_FD=9 (/dev/null)"
rm -f "$TMP/dp.log"
VELA_TUN_FD=9 ip netns exec "$NS_A" "$VELA_DATAPLANE" -s "$SOCK" \
	9</dev/null 2>"$TMP/dp.log" &
DP_PID=$!
wait_file "$SOCK"
setup_refused 1 'VELA_TUN_FD: fd 9 is not a TUN device'
stop_dataplane

say "one fd for two workers"
start_handed_over "${TUN}c:1"
setup_refused 2 'VELA_TUN_FD has 1 fds, SETUP asks for 2 workers'
# Refused before taking them: the fds are still there for a right SETUP.
setup_ok 1
[ "$SET_TUN" = "${TUN}c" ]
stop_dataplane

say "fds of two devices"
start_handed_over "${TUN}d:1" "${TUN}e:1"
setup_refused 2 "is a queue of tun ${TUN}e"
stop_dataplane

say "all passed"
