#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks a Prometheus text exposition as a scraper would see it.

  prom_check.py check PAGE [PREFIX]      well-formed: parsed by the Debian
                                         prometheus_client, HELP and TYPE for
                                         every family, counters named _total,
                                         every name starting with PREFIX, no
                                         series twice
  prom_check.py monotonic PAGE1 PAGE2    every counter (and histogram bucket,
                                         sum, count) of PAGE1 is in PAGE2 and
                                         not smaller
  prom_check.py get PAGE 'name{a="b"}'   prints the sample's value (sum of all
                                         series matching the labels given)

Exits 1 with the reason on the first problem.
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

COUNTING = ("counter", "histogram")


def fail(msg):
    print("prom_check: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def families(text):
    try:
        return list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        fail("the page does not parse: %s" % e)


def series(text):
    """{(name, frozenset(labels)): (value, family type)}"""
    out = {}
    for fam in families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in out:
                fail("series twice: %s %s" % (s.name, dict(s.labels)))
            out[key] = (s.value, fam.type)
    return out


def check(text, prefix):
    helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        fam = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and fam not in types:
            fail("%s has no # TYPE line" % name)
        if name not in helps and fam not in helps:
            fail("%s has no # HELP line" % name)
        t = types.get(name) or types.get(fam)
        if t == "counter" and not name.endswith("_total"):
            fail("counter %s does not end in _total" % name)
        if t == "histogram" and name == fam:
            fail("histogram sample %s without _bucket/_sum/_count" % name)
        if prefix and not name.startswith(prefix):
            fail("%s does not start with %s" % (name, prefix))
    series(text)
    if not text.endswith("\n"):
        fail("the page does not end with a newline")


def monotonic(a, b):
    sa, sb = series(a), series(b)
    n = 0
    for key, (v, t) in sa.items():
        if t not in COUNTING:
            continue
        if key not in sb:
            fail("%s %s went missing" % (key[0], dict(key[1])))
        if sb[key][0] < v:
            fail("%s %s went down: %s -> %s" % (key[0], dict(key[1]), v, sb[key][0]))
        n += 1
    if not n:
        fail("no counters to compare")
    print("%d counters, none went down" % n)


def get(text, want):
    m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?", want)
    if not m:
        fail("bad selector %s" % want)
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
    total, found = 0.0, False
    for (name, ls), (v, _) in series(text).items():
        if name == m.group(1) and labels.items() <= dict(ls).items():
            total += v
            found = True
    if not found:
        fail("no series %s" % want)
    print("%d" % total if total == int(total) else total)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(read(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
    elif len(sys.argv) == 4 and sys.argv[1] == "monotonic":
        monotonic(read(sys.argv[2]), read(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "get":
        get(read(sys.argv[2]), sys.argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
