#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run): installs what is
# missing, then builds three times with warnings as errors --
#   gcc, ASan+UBSan:   every suite (unit, cli, fuzz corpus replay, netns)
#   clang, ASan+UBSan: unit and fuzz suites, libFuzzer running each target
#   gcc, release:      unit suite
# and ends with one summary line "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh || exit 1

# Each build: directory | compiler | meson options | suites (empty: all).
# gcc and clang build with ASan+UBSan; the release build catches what only
# -O3 finds (and what the demo builds). Network-namespace tests need root
# and are skipped (exit 77) without it.
san="-Db_sanitize=address,undefined -Dwerror=true --buildtype=debugoptimized"
builds=(
	"build/test-gcc|gcc|$san|"
	"build/test-clang|clang|$san -Db_lundef=false -Dfuzz=enabled|--suite unit --suite fuzz"
	"build/test-release|gcc|--buildtype=release -Dwerror=true|--suite unit"
)

setup() { # DIR CC ARGS...
	local dir=$1 cc=$2
	shift 2
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		CC=$cc meson setup "$dir" "$@" >/dev/null
	fi
}

status=0
build_failures=0
for b in "${builds[@]}"; do
	IFS='|' read -r dir cc extra suites <<<"$b"
	rm -f "$dir/meson-logs/testlog.json"
	echo "== $cc: build ($dir)"
	# shellcheck disable=SC2086 # $extra and $suites are word lists
	if ! setup "$dir" "$cc" $extra || ! ninja -C "$dir"; then
		echo "== $cc: BUILD FAILED"
		build_failures=$((build_failures + 1))
		status=1
		continue
	fi
	echo "== $cc: test ${suites:-all suites}"
	# shellcheck disable=SC2086
	meson test -C "$dir" --print-errorlogs --num-processes 2 $suites || status=1
done

# One line for people and CI: counts over both builds from meson's logs.
BUILD_FAILURES=$build_failures python3 - build/test-gcc build/test-clang build/test-release <<'PY'
import json, os, sys
counts = {"passed": 0, "failed": int(os.environ["BUILD_FAILURES"]), "skipped": 0}
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
print("tests: {passed} passed, {failed} failed, {skipped} skipped".format(**counts))
PY
exit $status
