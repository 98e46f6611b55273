#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time: new inputs go to a scratch
# directory, the kept corpus (tests/fuzz/corpus/NAME) is only read. A crash
# leaves its input in the build directory and fails the test.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix="$(pwd)/" -print_final_stats=1 "$scratch" "$corpus"
