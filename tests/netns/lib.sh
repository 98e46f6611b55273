# SPDX-License-Identifier: MIT
# Shared by the two-node network-namespace tests (sourced, not run):
#
#   ns $NSA  <-- veth $VA/$VB, 172.<net>.$N.0/24 -->  ns $NSB
#
# netns_require TOOL...      exit 77 (meson's skip) without root or a tool
# netns_pair PREFIX NET      make both namespaces and the link (queues: see
#                            VETH_QUEUES below); sets NSA, NSB, VA, VB, N,
#                            WORK (a temp dir) and traps cleanup on exit
# PIDS+=($!)                 processes to stop at exit
# fail MESSAGE               print the logs in $WORK and exit 1
# wait_dev NS DEV            wait (bounded) for a device to appear

netns_require() {
	[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
	local tool
	for tool in ip "$@"; do
		command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
	done
}

PIDS=()

netns_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	# Daemons started by vela carry the work dir in their command line.
	[ -n "${WORK:-}" ] && pkill -9 -f "$WORK/" 2>/dev/null || true
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}

netns_pair() { # prefix net
	N=$(( $$ % 250 + 1 ))
	NSA=$1-a-$$ NSB=$1-b-$$
	VA=${1:0:3}a$$ VB=${1:0:3}b$$
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	trap netns_cleanup EXIT
	ip netns add "$NSA"
	ip netns add "$NSB"
	# Queues: VETH_QUEUES each way on both ends (default 1), or per end
	# and direction with VETH_{A,B}_{TXQ,RXQ}. veth delivers a frame on
	# the RX queue numbered like the sender's TX queue, and native XDP
	# needs the receiver's RX queues >= the sender's TX queues.
	local q=${VETH_QUEUES:-1}
	ip link add "$VA" numtxqueues "${VETH_A_TXQ:-$q}" \
		numrxqueues "${VETH_A_RXQ:-$q}" type veth peer name "$VB" \
		numtxqueues "${VETH_B_TXQ:-$q}" numrxqueues "${VETH_B_RXQ:-$q}"
	ip link set "$VA" netns "$NSA"
	ip link set "$VB" netns "$NSB"
	ip -n "$NSA" addr add "172.$2.$N.1/24" dev "$VA"
	ip -n "$NSB" addr add "172.$2.$N.2/24" dev "$VB"
	local ns
	for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
	ip -n "$NSA" link set "$VA" up
	ip -n "$NSB" link set "$VB" up
}

fail() {
	echo "FAIL: $*"
	echo "--- A's log"; tail -n 40 "$WORK/vela.log" 2>/dev/null || true
	echo "--- B's log"; tail -n 40 "$WORK/nebula.log" 2>/dev/null || true
	exit 1
}

wait_dev() { # ns dev
	local _
	for _ in $(seq 50); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "device $2 did not come up in $1"
}
