#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vela-hsload without a responder: every bad argument exits 2 with a
# message naming its flag; a too small -cidr is a runtime error (exit 1).
# As root, also a tiny run in a private network namespace (unshare -n,
# loopback only) against a port nobody listens on: exit 1 with complete
# JSON, every handshake counted as timed out. Checks the output is
# complete, never a figure. No traffic leaves the private namespace.
#
# Usage: hsload_smoke.sh VELA_HSLOAD VELA_CERT
set -euo pipefail

HSLOAD=${1:?path to vela-hsload}
CERT=${2:?path to vela-cert}
WORK=$(mktemp -d /tmp/hsload-smoke.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
timeout 20 "$CERT" ca -name smoke-ca -duration 1h >/dev/null

ok=(-ca-crt ca.crt -ca-key ca.key -cidr 10.77.0.0/24 -target 127.0.0.1:9)

fails=0
bad() { # flag-named-in-message args...
	local want=$1 rc=0 err
	shift
	err=$(timeout 10 "$HSLOAD" "$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -ne 2 ] || ! grep -q -- "-$want" <<<"$err"; then
		echo "FAIL: $* -> exit $rc, want 2 naming -$want: $err"
		fails=$((fails + 1))
	else
		echo "ok: -$want: $err" | head -n 1
	fi
}

bad ca-crt -ca-key ca.key -cidr 10.77.0.0/24 -target 127.0.0.1:9
bad ca-key -ca-crt ca.crt -cidr 10.77.0.0/24 -target 127.0.0.1:9
bad cidr -ca-crt ca.crt -ca-key ca.key -target 127.0.0.1:9
bad target -ca-crt ca.crt -ca-key ca.key -cidr 10.77.0.0/24
bad cidr "${ok[@]}" -cidr 10.77.0.0
bad target "${ok[@]}" -target 127.0.0.1
bad target "${ok[@]}" -target '[::1:9'
bad n "${ok[@]}" -n 0
bad n "${ok[@]}" -n 12x
bad n "${ok[@]}" -n 99999999999999999999999
bad w "${ok[@]}" -w -3
bad s "${ok[@]}" -s 5000
bad skip "${ok[@]}" -skip 10.77.0.1,nope
bad cipher "${ok[@]}" -cipher des
bad timeout "${ok[@]}" -timeout 0s
bad timeout "${ok[@]}" -timeout 2
bad deadline "${ok[@]}" -deadline -1s
bad bogus "${ok[@]}" -bogus

# Runtime errors are exit 1 and name the problem.
rc=0
err=$(timeout 10 "$HSLOAD" "${ok[@]}" -cidr 10.77.0.0/30 -skip 10.77.0.1 -n 3 2>&1) || rc=$?
if [ "$rc" -ne 1 ] || ! grep -q 'cidr' <<<"$err"; then
	echo "FAIL: too small a -cidr: exit $rc: $err"; fails=$((fails + 1))
fi

# Nothing listens on the discard port: all time out, the JSON is complete.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
	rc=0
	out=$(timeout 20 unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
		"$HSLOAD" "${ok[@]}" -n 5 -w 2 -s 3 -timeout 200ms -j 2>/dev/null) || rc=$?
	echo "$out"
	if [ "$rc" -ne 1 ]; then
		echo "FAIL: run without a responder: exit $rc, want 1"; fails=$((fails + 1))
	fi
	python3 - "$out" <<'PY' || fails=$((fails + 1))
import json, sys
d = json.loads(sys.argv[1])
want = {"tool", "responder", "sent", "completed", "invalid", "timeouts",
        "seconds", "rate", "latency_p50_ms", "latency_p99_ms"}
missing = want - set(d)
assert not missing, "missing keys %s" % missing
assert d["tool"] == "vela-hsload" and d["sent"] == 5 and d["timeouts"] == 5, d
assert d["completed"] == 0 and d["rate"] == 0, d
PY
else
	echo "skip: the run without a responder needs root (a private network namespace)"
fi

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "hsload smoke: all passed"
