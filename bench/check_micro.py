#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke test of the microbenchmarks: runs one with -j and checks the rows.

Usage: check_micro.py [--sizes 64,1420] -- PROGRAM [ARGS...]

The program's JSON names the tool; the rows it must have are known here per
tool (every case or stage, at every size, seal and open for the AEADs),
each with positive figures. A row that may carry a note instead of
figures: libsodium's AES-GCM on a CPU where libsodium says it is
unavailable. Checks that the
output is complete and sane, never how fast anything is.
"""
import json
import subprocess
import sys

AEAD_CASES = [
    ("ipsecmb-burst", "aes-256-gcm"),
    ("ipsecmb-direct", "aes-256-gcm"),
    ("libsodium-aesgcm", "aes-256-gcm"),
    ("openssl-evp", "aes-256-gcm"),
    ("libsodium-chacha", "chacha20-poly1305"),
    ("aead-burst", "chacha20-poly1305"),
]
AEAD_SIZES = [64, 1420, 9000]
AEAD_FIGURES = ["packets", "seconds", "gbytes_per_s", "mpps", "ns_per_packet",
                "tsc_cycles_per_byte", "tsc_cycles_per_packet"]

PIPELINE_STAGES = ["encrypt", "decrypt", "end-to-end", "firewall"]
PIPELINE_SIZES = [64, 1420]
PIPELINE_FIGURES = ["packets", "seconds", "mpps", "ns_per_packet",
                    "tsc_cycles_per_packet"]


def positive(row, keys):
    bad = [k for k in keys
           if not isinstance(row.get(k), (int, float))
           or isinstance(row.get(k), bool) or not row[k] > 0]
    return bad


def check_noted(row, keys, errors, what):
    if not row.get("note"):
        errors.append(f"{what}: neither figures nor a note")
    for k in keys:
        if row.get(k, 0) is not None:
            errors.append(f"{what}: {k} should be null next to a note")


def check_aead(doc, sizes, errors):
    rows = {}
    for r in doc["rows"]:
        key = (r.get("case"), r.get("cipher"), r.get("op"), r.get("size"))
        if key in rows:
            errors.append(f"duplicate row {key}")
        rows[key] = r
    may_skip = {"libsodium-aesgcm"} if not doc.get(
        "libsodium_aesgcm_available") else set()
    want = set()
    for size in sizes:
        for case, cipher in AEAD_CASES:
            for op in ("seal", "open"):
                key = (case, cipher, op, size)
                want.add(key)
                r = rows.get(key)
                what = f"{case} {cipher} {op} {size}"
                if r is None:
                    errors.append(f"missing row {what}")
                elif case in may_skip:
                    check_noted(r, AEAD_FIGURES, errors, what)
                else:
                    bad = positive(r, AEAD_FIGURES)
                    if bad:
                        errors.append(f"{what}: not positive: {bad}")
    for key in rows.keys() - want:
        errors.append(f"unexpected row {key}")


def check_pipeline(doc, sizes, errors):
    rows = {}
    for r in doc["rows"]:
        key = (r.get("stage"), r.get("size"))
        if key in rows:
            errors.append(f"duplicate row {key}")
        rows[key] = r
    want = set()
    for size in sizes:
        for stage in PIPELINE_STAGES:
            key = (stage, size)
            want.add(key)
            r = rows.get(key)
            if r is None:
                errors.append(f"missing row {stage} {size}")
                continue
            bad = positive(r, PIPELINE_FIGURES)
            if bad:
                errors.append(f"{stage} {size}: not positive: {bad}")
            if r.get("udp_payload") != size - 28:
                errors.append(f"{stage} {size}: udp_payload "
                              f"{r.get('udp_payload')}")
    for key in rows.keys() - want:
        errors.append(f"unexpected row {key}")


TOOLS = {
    "vela-bench-aead": (check_aead, AEAD_SIZES),
    "vela-bench-pipeline": (check_pipeline, PIPELINE_SIZES),
}


def main(argv):
    sizes = None
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    if opts[:1] == ["--sizes"] and len(opts) == 2:
        sizes = [int(s) for s in opts[1].split(",")]
    elif opts:
        print(__doc__, file=sys.stderr)
        return 2

    p = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        print(f"{cmd[0]} exited {p.returncode}", file=sys.stderr)
        return 1
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        print(f"not one JSON object: {e}", file=sys.stderr)
        sys.stdout.write(p.stdout.decode(errors="replace"))
        return 1

    errors = []
    tool = doc.get("tool")
    if tool not in TOOLS:
        print(f"unknown tool {tool!r}", file=sys.stderr)
        return 1
    if not (isinstance(doc.get("tsc_hz"), (int, float)) and doc["tsc_hz"] > 0):
        errors.append("tsc_hz missing or not positive")
    if not isinstance(doc.get("rows"), list):
        errors.append("no rows")
    else:
        check, default_sizes = TOOLS[tool]
        check(doc, sizes or default_sizes, errors)
    for e in errors:
        print(f"{tool}: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"{tool}: {len(doc['rows'])} rows, all present and positive")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
