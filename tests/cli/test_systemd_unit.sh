#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The shipped systemd unit, as meson configured it, passes
# `systemd-analyze verify` with its ExecStart pointed at the vela just
# built (the installed path does not exist here). Exits 77 (skipped)
# without systemd-analyze.
set -euo pipefail
: "${UNIT:?the configured vela.service}" "${VELA:?the vela binary}"
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=[^ ]*/vela |ExecStart=$VELA |" "$UNIT" >"$dir/vela.service"
grep -q "^ExecStart=$VELA " "$dir/vela.service" || { echo "ExecStart not found in $UNIT"; exit 1; }
grep -q '^Type=notify$' "$dir/vela.service" || { echo "not Type=notify"; exit 1; }
# vela stops vela-control before the dataplane: SIGTERM to it alone.
grep -q '^KillMode=mixed$' "$dir/vela.service" || { echo "not KillMode=mixed"; exit 1; }
# vela needs CAP_SETPCAP to leave vela-control without capabilities.
grep -q '^CapabilityBoundingSet=.*CAP_SETPCAP' "$dir/vela.service" || { echo "no CAP_SETPCAP for vela"; exit 1; }
out=$(systemd-analyze verify "$dir/vela.service" 2>&1) || { echo "$out"; exit 1; }
# verify warns without failing; any line about our unit is a problem.
if grep -q 'vela.service' <<<"$out"; then echo "$out"; exit 1; fi
echo "vela.service verifies"
