#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the raw files of a bench/run.sh run into figures.

  report.py iperf FILE.json FILE.cpu   one line for run.sh's progress
  report.py hsload FILE.json           one line for run.sh's progress
  report.py report DIR                 DIR/results.json, report.md, *.png
  report.py check DIR                  exit 1 unless every row is there

Every figure is computed per repetition; a median is the median of the
repetitions, and a ratio (Vela/Nebula, Vela/raw) is the median of the
ratios taken inside each repetition, so a slow repetition of the machine
does not favour whichever system ran in a fast one.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

# (key, label, unit, higher is better)
METRICS = [
    ("tcp1_gbps", "TCP, 1 stream", "Gbit/s", True),
    ("tcp4_gbps", "TCP, 4 streams", "Gbit/s", True),
    ("udp64_kpps", "UDP 64 B delivered", "kpps", True),
    ("udp64_loss_pct", "UDP 64 B loss", "%", False),
    ("ping_ms", "ping RTT (avg)", "ms", False),
    ("cpu_s_per_gb_tcp1", "CPU per GB, TCP 1 stream", "s/GB", False),
    ("cpu_s_per_gb_tcp4", "CPU per GB, TCP 4 streams", "s/GB", False),
    ("cpu_s_per_gb_udp64", "CPU per GB, UDP 64 B", "s/GB", False),
]
VELA_SYSTEMS = ("vela-udp", "vela-xsk", "vela-udp-nooff")
VPN_SYSTEMS = VELA_SYSTEMS + ("nebula", "wg")
NAMES = {"raw": "raw veth", "vela-udp": "Vela (udp)", "vela-xsk": "Vela (xsk)",
         "vela-udp-nooff": "Vela (udp, no TUN offloads)",
         "nebula": "Nebula 1.6.1", "wg": "wireguard-go"}
# Chart labels have less room.
SHORT = dict(NAMES, **{"vela-udp-nooff": "Vela (udp, no offl.)"})


def load(path):
    with open(path) as f:
        return json.load(f)


def iperf_figures(path, cpu_path=None):
    """Delivered bits/s, delivered bytes, packets/s and loss of one run."""
    d = load(path)
    if "error" in d:
        raise ValueError("%s: iperf3: %s" % (path, d["error"]))
    end = d["end"]
    if d["start"]["test_start"]["protocol"] == "TCP":
        secs = end["sum_received"]["seconds"]
        nbytes = end["sum_received"]["bytes"]
        fig = {"bps": end["sum_received"]["bits_per_second"], "bytes": nbytes}
    else:  # UDP: the client's summary carries the server's counts
        s = end["sum_received"] if "sum_received" in end else end["sum"]
        secs = s["seconds"]
        delivered = s["packets"] - s["lost_packets"]
        nbytes = delivered * d["start"]["test_start"]["blksize"]
        fig = {"pps": delivered / secs if secs else 0.0, "bytes": nbytes,
               "loss_pct": s["lost_percent"], "bps": nbytes * 8 / secs if secs else 0.0}
    fig["seconds"] = secs
    if cpu_path and os.path.exists(cpu_path):
        ticks, hz = open(cpu_path).read().split()
        fig["cpu_s"] = int(ticks) / int(hz)
        fig["cpu_s_per_gb"] = fig["cpu_s"] / (nbytes / 1e9) if nbytes else None
    return fig


def ping_ms(path):
    m = re.search(r"= [\d.]+/([\d.]+)/[\d.]+/[\d.]+ ms", open(path).read())
    return float(m.group(1)) if m else None


def rep_metrics(d, vpn):
    """The metrics of one system in one repetition directory."""
    m = {"ping_ms": ping_ms(os.path.join(d, "ping.txt"))}
    for name in ("tcp1", "tcp4", "udp64"):
        try:
            f = iperf_figures(os.path.join(d, name + ".json"), os.path.join(d, name + ".cpu"))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            m["error_" + name] = str(e)
            continue
        if name == "udp64":
            m["udp64_kpps"] = f["pps"] / 1e3
            m["udp64_loss_pct"] = f["loss_pct"]
        else:
            m[name + "_gbps"] = f["bps"] / 1e9
        if vpn:
            m["cpu_s_per_gb_" + name] = f.get("cpu_s_per_gb")
    return m


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def collect(out):
    meta = load(os.path.join(out, "meta.json"))
    res = {"meta": meta, "systems": {}, "ratios": {}, "handshakes": {}, "micro": {}}
    raw = os.path.join(out, "raw")
    for sysname in meta["systems"]:
        reps, skipped = [], None
        for r in range(1, meta["reps"] + 1):
            d = os.path.join(raw, sysname, "rep%d" % r)
            if os.path.exists(os.path.join(d, "skipped")):
                skipped = open(os.path.join(d, "skipped")).read().strip()
                reps.append(None)
            elif os.path.isdir(d):
                reps.append(rep_metrics(d, sysname in VPN_SYSTEMS))
            else:
                reps.append(None)
        med = {k: median([r.get(k) for r in reps if r]) for k, *_ in METRICS}
        res["systems"][sysname] = {"reps": reps, "median": med, "skipped": skipped}
    # Ratios inside each repetition, then their median.
    for vela in VELA_SYSTEMS:
        for base in ("nebula", "raw", "wg"):
            if vela not in res["systems"] or base not in res["systems"]:
                continue
            a, b = res["systems"][vela]["reps"], res["systems"][base]["reps"]
            ratios = {}
            for k, *_ in METRICS:
                if k.startswith("cpu") and base == "raw":
                    continue
                per = [x[k] / y[k] for x, y in zip(a, b)
                       if x and y and x.get(k) is not None and y.get(k)]
                ratios[k] = median(per)
            res["ratios"]["%s/%s" % (vela, base)] = ratios
    for sysname in ("vela", "nebula"):
        reps = []
        for r in range(1, meta["reps"] + 1):
            p = os.path.join(raw, "hs-" + sysname, "rep%d" % r, "hsload.json")
            try:
                reps.append(load(p))
            except (OSError, json.JSONDecodeError):
                reps.append(None)
        res["handshakes"][sysname] = {
            "reps": reps,
            "median_rate": median([r.get("rate") for r in reps if r]),
            "median_p50_ms": median([r.get("latency_p50_ms") for r in reps if r]),
            "median_p99_ms": median([r.get("latency_p99_ms") for r in reps if r]),
        }
    for name in ("aead", "pipeline"):
        try:
            res["micro"][name] = load(os.path.join(raw, "micro", name + ".json"))
        except (OSError, json.JSONDecodeError) as e:
            res["micro"][name] = {"error": str(e), "rows": []}
    return res


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, float):
        if abs(x) >= 100:
            return "%.0f" % x
        return ("%%.%df" % nd) % x
    return str(x)


def micro_table(doc):
    """A markdown table of a microbenchmark's rows, columns as they come."""
    rows = doc.get("rows", [])
    if not rows:
        return ["(no rows: %s)" % doc.get("error", "empty")]
    cols = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c)) for c in cols) + " |")
    return lines


def markdown(res, charts):
    meta = res["meta"]
    L = ["# Vela benchmark, %s" % meta["stamp"], "",
         "Commit `%s` · %s · kernel %s · %d CPUs · %s · %s · %s · %s" % (
             meta["commit"], meta["cpu"], meta["kernel"], meta["nproc"], meta["vela"],
             meta["nebula"], meta["wireguard_go"], meta["iperf3"]),
         "",
         "%d repetitions of %d s per iperf3 run, interleaved across systems; medians. "
         "Two namespaces joined by a veth with %d queues; iperf3 client in A, server in B. "
         "MTU: Vela and Nebula %d (Nebula's default), wireguard-go %d." % (
             meta["reps"], meta["duration_s"], meta["veth_queues"], meta["mtu"]["vela"],
             meta["mtu"]["wg"]), ""]
    if meta.get("smoke"):
        L += ["**Smoke run: durations too short to mean anything.**", ""]
    systems = list(res["systems"])
    L += ["## Throughput, latency, CPU", "",
          "| metric | " + " | ".join(NAMES.get(s, s) for s in systems) + " |",
          "|---|" + "---|" * len(systems)]
    for k, label, unit, _ in METRICS:
        cells = []
        for s in systems:
            e = res["systems"][s]
            cells.append("skipped" if e["skipped"] and not any(e["reps"]) else fmt(e["median"][k]))
        L.append("| %s (%s) | %s |" % (label, unit, " | ".join(cells)))
    L.append("")
    for s in systems:
        if res["systems"][s]["skipped"]:
            L.append("- %s skipped: %s" % (NAMES.get(s, s), res["systems"][s]["skipped"]))
    L += ["", "CPU is utime + stime of every thread of the VPN processes on both ends "
          "(kernel work done in their system calls included, softirq work elsewhere not) "
          "over the client's run, per GB of payload delivered.", ""]
    keys = [r for r in res["ratios"] if any(v is not None for v in res["ratios"][r].values())]
    if keys:
        L += ["## Ratios (median of per-repetition ratios)", "",
              "| metric | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        for k, label, unit, better in METRICS:
            L.append("| %s (%s better) | %s |" % (
                label, "higher" if better else "lower",
                " | ".join(fmt(res["ratios"][r].get(k)) for r in keys)))
        L.append("")
    L += ["## Handshakes", "",
          "Completed Noise IX handshakes per second of one responder, driven by "
          "`vela-hsload` from the other namespace (a new initiator certificate "
          "each, every message 2 verified afterwards).", "",
          "| responder | handshakes/s | p50 latency (ms) | p99 latency (ms) |",
          "|---|---|---|---|"]
    for s, h in res["handshakes"].items():
        L.append("| %s | %s | %s | %s |" % ({"vela": "vela-control"}.get(s, "nebula 1.6.1"),
                                          fmt(h["median_rate"], 0), fmt(h["median_p50_ms"]),
                                          fmt(h["median_p99_ms"])))
    L += ["", "## AEAD, one core", ""] + micro_table(res["micro"].get("aead", {}))
    L += ["", "## Dataplane pipeline in memory, one core", ""] + \
        micro_table(res["micro"].get("pipeline", {}))
    L += [""]
    if charts:
        L += ["## Charts", ""] + ["![%s](%s)" % (c, c) for c in charts] + [""]
    return "\n".join(L)


def gnuplot_bars(out, name, title, ylabel, series, rows):
    """A clustered bar chart: rows = [(label, [value per series])]; None
    when there is nothing to draw."""
    if not any(v is not None for _, vals in rows for v in vals):
        return None
    dat = os.path.join(out, name + ".dat")
    with open(dat, "w") as f:
        for label, vals in rows:
            f.write('"%s" %s\n' % (label, " ".join("nan" if v is None else repr(v) for v in vals)))
    plot = ", ".join("'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, s.replace("'", ""))
                     for i, s in enumerate(series))
    script = "\n".join([
        "set terminal pngcairo size 1000,480 font ',10'",
        "set output '%s'" % os.path.join(out, name + ".png"),
        "set title '%s'" % title, "set ylabel '%s'" % ylabel,
        "set style data histogram", "set style histogram cluster gap 1",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9",
        "set grid ytics", "set yrange [0:*]", "set key outside top center horizontal",
        "plot " + plot, ""])
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
    os.unlink(dat)
    return name + ".png"


def charts(out, res):
    if not shutil.which("gnuplot"):
        return []
    made = []
    systems = [s for s in res["systems"] if any(res["systems"][s]["reps"])]
    med = lambda s, k: res["systems"][s]["median"].get(k)
    made.append(gnuplot_bars(out, "throughput", "iperf3 TCP through the tunnel", "Gbit/s",
                             ["1 stream", "4 streams"],
                             [(SHORT.get(s, s), [med(s, "tcp1_gbps"), med(s, "tcp4_gbps")])
                              for s in systems]))
    made.append(gnuplot_bars(out, "udp64", "UDP, 64-byte payload, delivered", "kpps",
                             ["delivered"], [(SHORT.get(s, s), [med(s, "udp64_kpps")])
                                             for s in systems]))
    made.append(gnuplot_bars(out, "latency", "ping RTT (avg)", "ms", ["RTT"],
                             [(SHORT.get(s, s), [med(s, "ping_ms")]) for s in systems]))
    vpn = [s for s in systems if s in VPN_SYSTEMS]
    made.append(gnuplot_bars(out, "cpu", "CPU seconds of the VPN processes per GB delivered",
                             "s/GB", ["TCP 1 stream", "TCP 4 streams"],
                             [(SHORT.get(s, s), [med(s, "cpu_s_per_gb_tcp1"),
                                                 med(s, "cpu_s_per_gb_tcp4")]) for s in vpn]))
    made.append(gnuplot_bars(out, "handshakes", "Noise IX handshakes completed by a responder",
                             "handshakes/s", ["rate"],
                             [({"vela": "vela-control"}.get(s, "nebula 1.6.1"), [h["median_rate"]])
                              for s, h in res["handshakes"].items()]))
    aead = [r for r in res["micro"].get("aead", {}).get("rows", []) if r.get("op") == "seal"]
    if aead:
        sizes = sorted({r["size"] for r in aead})
        # Labels short enough to sit side by side: the case, and the
        # cipher only where the case name does not say it.
        label = lambda r: r["case"] if "chacha" in r["case"] or "chacha" not in r["cipher"] \
            else r["case"] + " (chacha)"
        cases = []
        for r in aead:
            if label(r) not in cases:
                cases.append(label(r))
        get = lambda c, sz: next((r["gbytes_per_s"] for r in aead
                                  if label(r) == c and r["size"] == sz), None)
        made.append(gnuplot_bars(out, "aead", "AEAD seal, one core", "GB/s",
                                 ["%d B" % sz for sz in sizes],
                                 [(c, [get(c, sz) for sz in sizes]) for c in cases]))
    return made


def cmd_report(out):
    res = collect(out)
    made = [c for c in charts(out, res) if c]
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(markdown(res, made))
    print(open(os.path.join(out, "report.md")).read())


def cmd_check(out):
    """Every row produced (the smoke test): says what is missing."""
    res = load(os.path.join(out, "results.json"))
    missing = []
    for s, e in res["systems"].items():
        for i, r in enumerate(e["reps"], 1):
            if r is None:
                if s == "vela-xsk" and e["skipped"]:
                    continue  # a backend this build or machine lacks
                missing.append("%s rep %d: %s" % (s, i, e["skipped"] or "no results"))
                continue
            for k, *_ in METRICS:
                if k.startswith("cpu") and s not in VPN_SYSTEMS:
                    continue
                v = r.get(k)
                if v is None or (k not in ("udp64_loss_pct",) and v <= 0):
                    missing.append("%s rep %d: %s = %s" % (s, i, k, v))
    for s, h in res["handshakes"].items():
        if not h["median_rate"]:
            missing.append("handshakes %s: no completed handshakes" % s)
    for name in ("aead", "pipeline"):
        if not res["micro"].get(name, {}).get("rows"):
            missing.append("microbenchmark %s: no rows" % name)
    for c in ("throughput", "udp64", "latency", "cpu", "handshakes", "aead"):
        if not os.path.exists(os.path.join(out, c + ".png")):
            missing.append("chart %s.png" % c)
    if not os.path.exists(os.path.join(out, "report.md")):
        missing.append("report.md")
    for m in missing:
        print("missing: " + m)
    return 1 if missing else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "iperf":
        try:
            f = iperf_figures(argv[2], argv[3] if len(argv) > 3 else None)
        except (OSError, ValueError, KeyError) as e:
            print("no result (%s)" % e)
            return 0
        s = "%.3f Gbit/s" % (f["bps"] / 1e9)
        if "pps" in f:
            s = "%.1f kpps delivered, %.2f%% lost" % (f["pps"] / 1e3, f["loss_pct"])
        if f.get("cpu_s_per_gb") is not None:
            s += ", %.2f CPU s/GB" % f["cpu_s_per_gb"]
        print(s)
    elif len(argv) == 3 and argv[1] == "hsload":
        try:
            h = load(argv[2])
            print("%(completed)d of %(sent)d completed, %(rate).0f/s" % h)
        except (OSError, ValueError, KeyError) as e:
            print("no result (%s)" % e)
    elif len(argv) == 3 and argv[1] == "report":
        cmd_report(argv[2])
    elif len(argv) == 3 and argv[1] == "check":
        return cmd_check(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
