#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's demo (scripts/demo.sh) in its short mode, on this build's
# binaries (VELA, VELA_CERT, DPCTL): a Vela lighthouse, a Vela gateway
# with a LAN host behind it and a nebula 1.6.1 node with unsafe_routes,
# finding each other through the lighthouse. The demo checks each step
# itself; this checks what it printed: both pings answered 3 of 3, a
# throughput above 0 each way, dpctl show with the gateway's 2 tunnels,
# dpctl tunnels with the nebula node, and the closing line.
# Exits 77 (skipped) when the demo does.
set -uo pipefail

OUT=$(mktemp /tmp/vela-demo-test.XXXXXX)
trap 'rm -f "$OUT"' EXIT
DEMO_SHORT=1 "$(dirname "$0")/../../scripts/demo.sh" --short 2>&1 | tee "$OUT"
rc=${PIPESTATUS[0]}
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || { echo "FAIL: the demo exited $rc"; exit 1; }

fail() { echo "FAIL: $*"; exit 1; }
has() { grep -Eq -- "$1" "$OUT"; }
has '^  ping LAN host 192\.168\.77\.10 -> laptop 10\.42\.0\.10 \.\.\. OK \(3 packets transmitted, 3 received' ||
	fail "no answered ping LAN host -> laptop"
has '^  ping laptop 10\.42\.0\.10 -> LAN host 192\.168\.77\.10 \.\.\. OK \(3 packets transmitted, 3 received' ||
	fail "no answered ping laptop -> LAN host"
for dir in 'LAN host -> laptop' 'laptop -> LAN host'; do
	mbit=$(sed -n "s/^  throughput: \([0-9.]*\) Mbit\/s ($dir)\$/\1/p" "$OUT")
	[ -n "$mbit" ] || fail "no throughput printed for $dir"
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$mbit" ||
		fail "throughput $dir: $mbit Mbit/s"
done
has '^    tunnels: 2$' || fail "dpctl show did not list the gateway's 2 tunnels"
has '^    vpn ip: 10\.42\.0\.10$' || fail "dpctl tunnels did not list the nebula node"
has '^    endpoint: 172\.30\.3\.1:4242$' || fail "dpctl tunnels: not the nebula node's endpoint"
has '^  tcp   192\.168\.77\.10:[0-9]+ +10\.42\.0\.10:5201 ' ||
	fail "dpctl flows did not list the LAN host's iperf3 connection"
has '^  vela_gw_dataplane_up 1$' || fail "the gateway's metrics lack dataplane_up 1"
has '^  vela_gw_tunnels 2$' || fail "the gateway's metrics lack its 2 tunnels"
has '^  metrics served: [0-9]+ series \.\.\. OK$' || fail "no metrics step"
has '^demo finished in [0-9]+ s: all checks OK$' || fail "no closing line"
echo "demo: all passed"
