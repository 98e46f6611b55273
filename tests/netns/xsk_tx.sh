#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The xsk port's TX ring on a veth pair: xsk_tx (tests/netns/xsk_tx.c)
# builds Ethernet/IP/UDP frames from a next-hop entry given on its command
# line and sends them through AF_XDP; an echo server on the other end sends
# them back, through the XDP program into the RX ring. IPv4 and IPv6 (whose
# UDP checksum the receiving kernel verifies), native and generic XDP.
#
#   ns $NSA: xsk_tx on $VA  --veth-->  ns $NSB: python echo on $VB
#
# Needs root and python3; exits 77 (skipped) otherwise.
set -euo pipefail

: "${XSK_TX:?path to xsk_tx}"
. "$(dirname "$0")/lib.sh"
netns_require python3
netns_pair vela-xsktx 33

ip -n "$NSA" addr add "fd00:33:$N::1/64" dev "$VA" nodad
ip -n "$NSB" addr add "fd00:33:$N::2/64" dev "$VB" nodad
MAC_A=$(ip netns exec "$NSA" cat "/sys/class/net/$VA/address")
MAC_B=$(ip netns exec "$NSB" cat "/sys/class/net/$VB/address")
# The next hop xsk_tx resolves through nexthop.c (and checks against MAC_B).
ip -n "$NSA" neigh replace 172.33.$N.2 lladdr "$MAC_B" dev "$VA" nud permanent
ip -n "$NSA" neigh replace "fd00:33:$N::2" lladdr "$MAC_B" dev "$VA" nud permanent

cat >"$WORK/echo.py" <<'PY'
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
PY
ip netns exec "$NSB" python3 "$WORK/echo.py" 172.33.$N.2 5000 &
PIDS+=($!)
ip netns exec "$NSB" python3 "$WORK/echo.py" "fd00:33:$N::2" 5000 &
PIDS+=($!)
# Both echo sockets bound before the first frame (python may start slowly
# on a loaded machine; a fixed sleep lost the race there).
for _ in $(seq 100); do
	[ "$(ip netns exec "$NSB" ss -Hlun 'sport = :5000' | wc -l)" -ge 2 ] && break
	sleep 0.1
done
[ "$(ip netns exec "$NSB" ss -Hlun 'sport = :5000' | wc -l)" -ge 2 ] ||
	fail "the echo servers did not bind port 5000"

for mode in native generic; do
	for fam in 4 6; do
		if [ $fam = 4 ]; then src=172.33.$N.1 dst=172.33.$N.2
		else src=fd00:33:$N::1 dst=fd00:33:$N::2; fi
		out=$(timeout 20 ip netns exec "$NSA" "$XSK_TX" "$VA" $mode \
			"$src" "$dst" 5000 "$MAC_A" "$MAC_B" 200 2>&1) ||
			{ echo "$out"; echo "FAIL: $mode IPv$fam"; exit 1; }
		echo "$out" | sed 's/^/  /'
		echo "ok $mode IPv$fam: 200 datagrams out the TX ring and back"
	done
done
# Without CAP_IPC_LOCK the UMEM is charged to RLIMIT_MEMLOCK: a small
# limit must give an error that says so and what to do.
if command -v capsh >/dev/null; then
	out=$(timeout 20 ip netns exec "$NSA" capsh --drop=cap_ipc_lock -- -c \
		"ulimit -l 64 && exec $XSK_TX $VA auto 172.33.$N.1 172.33.$N.2 5000 $MAC_A $MAC_B 1" 2>&1) &&
		{ echo "$out"; echo "FAIL: UMEM above RLIMIT_MEMLOCK accepted"; exit 1; }
	grep -q "RLIMIT_MEMLOCK.*CAP_IPC_LOCK" <<<"$out" ||
		{ echo "$out"; echo "FAIL: memlock error does not say what to do"; exit 1; }
	echo "  $out"
	echo "ok UMEM over RLIMIT_MEMLOCK: a clear error"
fi
echo "xsk_tx: all passed"
