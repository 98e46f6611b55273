#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# dpctl against a running vela-dataplane, in two network namespaces:
#
#   ns A ($NS_A)                                      ns B ($NS_B)
#   +------------------------------------------+      +-------------------------+
#   | python3 UDP 10.77.0.1:5000 / send :6000  |      |                         |
#   |        |                                 |      |                         |
#   |   vela tun (10.77.0.1/24)                |      |                         |
#   |        |                                 |      |                         |
#   |   vela-dataplane --- ctl socket (tmp) -- dp_peer as vela-control          |
#   |        |               \--------------- dpctl show / tunnels [-j]         |
#   |        | udp 172.31.77.1:4242            |      |  dp_peer as the Nebula  |
#   |   veth $VETH_A  =========================== veth $VETH_B  peer 10.77.0.2  |
#   |      172.31.77.1/24                      |      |  172.31.77.2/24 :4242   |
#   +------------------------------------------+      +-------------------------+
#
# dp_peer sets up a dataplane with 2 workers and one tunnel whose peer
# certificate is a real one made with vela-cert ("dpctl-peer"). Then the
# peer sends N sealed data packets (delivered to a listener behind the
# TUN), one data packet with a bad tag and one for an unknown index
# (answered with a recv_error); A sends one packet back through the
# tunnel. dpctl must report exactly that: totals, drops by reason, the
# tunnel's name, addresses, indexes, cipher and counters, in JSON and text.
# Also: dpctl before SETUP, and without a socket (exit 1, the message).
#
# Needs root (namespaces, TUN); exits 77 (skipped) without it. Every step is
# bounded by timeout(1); cleanup removes everything on exit.
set -euo pipefail

VELA_DATAPLANE=${VELA_DATAPLANE:?path to vela-dataplane}
DP_PEER=${DP_PEER:?path to dp_peer}
DPCTL=${DPCTL:?path to dpctl}
VELA_CERT=${VELA_CERT:?path to vela-cert}

. "$(dirname "$0")/dp_lib.sh"
dp_require base64
dp_names dpctl vc 78
# BACKEND=xsk: AF_XDP on $VETH_A (2 queues, a socket each); the JSON then
# also has the XDP counters and balanced frame accounting.
export BACKEND=${BACKEND:-udp}
export DP_BACKEND=$BACKEND DP_INTERFACE=$VETH_A
N=20 # data packets from the peer
SPOOFED=10.78.0.99 # in the VPN network, not in the peer's certificate
PAYLOAD=dpctl-test
PEER_NAME=dpctl-peer
TUN=

dpctl() { in_a "$DPCTL" -s "$SOCK" "$@"; }

# Fails with the output when $1 does not contain $2.
contains() {
	if ! grep -qF -- "$2" <<<"$1"; then
		echo "output lacks \"$2\":"
		echo "$1"
		return 1
	fi
}

# The peer's certificate as the control plane keeps it with a tunnel: the
# raw protobuf (RawNebulaCertificate), i.e. the PEM body decoded.
make_cert() {
	"$VELA_CERT" ca -name dpctl-test-ca -duration 1h \
		-out-crt "$TMP/ca.crt" -out-key "$TMP/ca.key"
	"$VELA_CERT" sign -name "$PEER_NAME" -ip "$VPN_B/24" -groups dpctl \
		-ca-crt "$TMP/ca.crt" -ca-key "$TMP/ca.key" \
		-out-crt "$TMP/peer.crt" -out-key "$TMP/peer.key"
	sed '/^-----/d' "$TMP/peer.crt" | base64 -d >"$TMP/peer.der"
	[ -s "$TMP/peer.der" ]
}

# --- the tests -----------------------------------------------------------------

test_no_socket() {
	local out status=0 want

	out=$(in_a "$DPCTL" -s "$TMP/missing.sock" show 2>&1) || status=$?
	want="dpctl: cannot connect to $TMP/missing.sock: No such file or directory (is vela-dataplane running? use -s PATH)"
	[ "$status" = 1 ] || { echo "exit $status, want 1"; return 1; }
	[ "$out" = "$want" ] || { echo "got: $out"; echo "want: $want"; return 1; }
	# The default path, when this machine has no dataplane running there.
	if [ ! -e /run/vela/vela.sock ]; then
		status=0
		out=$(in_a "$DPCTL" tunnels -j 2>&1) || status=$?
		[ "$status" = 1 ]
		[ "$out" = "dpctl: cannot connect to /run/vela/vela.sock: No such file or directory (is vela-dataplane running? use -s PATH)" ]
	fi
	# A bad command line is Go's exit 2.
	status=0
	in_a "$DPCTL" -s "$SOCK" frobnicate 2>/dev/null || status=$?
	[ "$status" = 2 ] || { echo "unknown command: exit $status, want 2"; return 1; }
}

test_before_setup() {
	local out

	out=$(dpctl show)
	echo "$out"
	contains "$out" "waiting for SETUP"
	dpctl show -j | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["set_up"] is False, j
assert j["workers"] == 0 and j["per_worker"] == [], j
assert j["backend"] is None and j["tun"] is None, j
assert j["tunnels"] == 0, j
'
	dpctl -j tunnels | python3 -c '
import json, sys
assert json.load(sys.stdin) == {"tunnels": []}
'
	contains "$(dpctl tunnels)" "no tunnels"
}

test_setup() {
	local out

	out=$(in_a "$DP_PEER" setup -sock "$SOCK" -workers 2 \
		-listen "$UNDER_A:$PORT" -vpn "$VPN_A/24" -mode event)
	echo "$out"
	TUN=$(sed -n 's/^tun=\([^ ]*\) .*/\1/p' <<<"$out")
	[ -n "$TUN" ]
	in_a "$DP_PEER" add -sock "$SOCK" -peer-vpn "$VPN_B" \
		-remote "$UNDER_B:$PORT" -cert "$TMP/peer.der"
}

test_traffic() {
	local got

	# N data packets, received behind the TUN (so the kernel answers none).
	rm -f "$TMP/listening"
	in_a python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'"$VPN_A"'", 5000))
open(sys.argv[1], "w").close()
s.settimeout(5)
n = 0
try:
    while n < int(sys.argv[2]):
        s.recvfrom(2048)
        n += 1
except socket.timeout:
    pass
print(n)
' "$TMP/listening" "$N" >"$TMP/listener.out" &
	local listener=$!
	wait_file "$TMP/listening"
	in_b "$DP_PEER" send-data -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT" \
		-src "$VPN_B" -dst "$VPN_A" -dport 5000 -payload "$PAYLOAD" \
		-count "$N"
	wait "$listener"
	got=$(cat "$TMP/listener.out")
	echo "listener got $got of $N"
	[ "$got" = "$N" ]

	# One forgery on the tunnel, one packet for no tunnel (recv_error back),
	# one authentic packet whose inner source is not the peer's.
	in_b "$DP_PEER" bad-tag -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT"
	in_b "$DP_PEER" unknown -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT"
	in_b "$DP_PEER" send-data -bind "$UNDER_B:$PORT" -to "$UNDER_A:$PORT" \
		-src "$SPOOFED" -dst "$VPN_A" -dport 5000 -payload spoofed \
		-counter 500

	# One packet from A through the tunnel.
	rm -f "$TMP/ready"
	in_b "$DP_PEER" recv -bind "$UNDER_B:$PORT" -ready "$TMP/ready" \
		-expect data -dst "$VPN_B" -dport 6000 -payload "hello from A" &
	local receiver=$!
	wait_file "$TMP/ready"
	dp_send_a 6000 "hello from A"
	wait "$receiver"
}

# The JSON checks. A worker counts a datagram after the kernel took it, so
# the receiver may have it first: ask again (bounded) until it settles.
test_json() {
	in_a python3 - "$DPCTL" "$SOCK" "$N" "$PAYLOAD" "$TUN" "$PEER_NAME" \
		"$VPN_B" "$UNDER_B:$PORT" "$PORT" <<'PY'
import json, os, subprocess, sys, time

dpctl, sock, n, payload, tun, name, vpn_b, remote_b, port = sys.argv[1:]
n, port = int(n), int(port)
# A data message: 16-byte header, IPv4 + UDP (28 bytes) + payload, 16-byte tag.
data_len = 16 + 28 + len(payload) + 16
RECV_ERROR_LEN = 16

def run(*args):
    p = subprocess.run([dpctl, "-s", sock, *args], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return json.loads(p.stdout)

def check(show, tunnels):
    backend = os.environ["BACKEND"]
    assert show["set_up"] is True and show["backend"] == backend, show
    if backend == "xsk":
        assert show["xdp"]["steered"] >= n + 2, show["xdp"]
        for w in show["per_worker"]:
            f = w["frames"]
            assert f["total"] == 4096, f
            assert f["free"] + f["fill"] + f["held"] + f["in_flight"] == f["total"], f
    else:
        assert show["xdp"] is None and show["interface"] is None, show
    assert show["mode"] == "event" and show["tun"] == tun, show
    assert show["workers"] == 2 and len(show["per_worker"]) == 2, show
    assert show["nic_queues"] == 2 and show["tun_queues"] == 2, show
    assert show["listen_port"] == port and show["tunnels"] == 1, show
    tot = show["total"]
    # Summing is dpctl's job: the total is the sum of the workers.
    for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
              "tun_tx_packets", "recv_errors", "dropped"):
        assert tot[k] == sum(w[k] for w in show["per_worker"]), k
    assert [w["worker"] for w in show["per_worker"]] == [0, 1]
    # In: N data, 1 bad tag, 1 unknown index.
    assert tot["rx_packets"] >= n + 3, tot
    assert tot["drops"]["bad_tag"] == 1, tot["drops"]
    assert tot["drops"]["no_tunnel"] == 1, tot["drops"]
    assert tot["drops"]["spoofed"] == 1, tot["drops"]
    assert tot["dropped"] == sum(tot["drops"].values()), tot
    assert tot["tun_tx_packets"] == n, tot
    # Out: the recv_error and A's one packet through the tunnel.
    assert tot["recv_errors"] == 1, tot
    assert tot["tx_packets"] == 2, tot
    assert tot["port"]["tx_packets"] == 2, tot["port"]
    assert tot["port"]["rx_packets"] == tot["rx_packets"], tot["port"]

    assert len(tunnels["tunnels"]) == 1, tunnels
    t = tunnels["tunnels"][0]
    assert t["name"] == name, t
    assert t["vpn_ip"] == vpn_b and t["remote"] == remote_b, t
    assert t["local_index"] == 0x0a0a0001, t
    assert t["remote_index"] == 0x0b0b0001, t
    assert t["cipher"] == "aes", t
    assert t["rx_packets"] == n and t["rx_bytes"] == n * data_len, t
    assert t["tx_packets"] == 1, t
    assert tot["tx_bytes"] == t["tx_bytes"] + RECV_ERROR_LEN, (tot, t)
    assert t["last_rx_ms_ago"] is not None, t
    assert 0 <= t["last_rx_ms_ago"] < 60000, t
    assert t["last_tx_ms_ago"] is not None, t
    # Counters: 2 installed, one sent; the window's top is the last data
    # (the spoofed packet was refused before it could move it).
    assert t["send_counter"] == 3 and t["recv_max"] == 3 + n - 1, t

    # The flow table: B's N datagrams to A:5000 and A's one to B:6000,
    # each a connection with its counters, local side first.
    fl = {(f["proto"], f["local_port"], f["remote_port"]): f
          for f in flows["flows"]}
    f = fl[("udp", 5000, 7000)]
    assert f["local_ip"] != vpn_b and f["remote_ip"] == vpn_b, f
    assert f["in_packets"] == n and f["out_packets"] == 0, f
    assert f["in_bytes"] == n * (28 + len(payload)), f
    out = [f for k, f in fl.items() if k[0] == "udp" and k[2] == 6000]
    assert len(out) == 1 and out[0]["out_packets"] == 1, fl
    assert flows["count"] == len(flows["flows"]) == 2, flows

for attempt in range(50):
    show, tunnels = run("show", "-j"), run("-j", "tunnels")
    flows = run("flows", "-j")
    try:
        check(show, tunnels)
        break
    except AssertionError:
        if attempt == 49:
            print(json.dumps(show, indent=1))
            print(json.dumps(tunnels, indent=1))
            print(json.dumps(flows, indent=1))
            raise
        time.sleep(0.1)
print("json: %d in, drops bad_tag=1 no_tunnel=1, tunnel %s rx %d tx %d" %
      (show["total"]["rx_packets"], name, n, 1))
PY
}

test_text() {
	local out

	out=$(dpctl show)
	echo "$out"
	contains "$out" "backend: $BACKEND"
	if [ "$BACKEND" = xsk ]; then
		contains "$out" "interface: $VETH_A, XDP"
		contains "$out" "frames: 2048 free + 2048 fill + 0 held + 0 in flight = 4096 of 4096"
	fi
	contains "$out" "listening port: $PORT"
	contains "$out" "worker 1: nic queue 1, tun queue 1"
	contains "$out" "BAD_TAG"
	contains "$out" "authentication failed"
	contains "$out" "NO_TUNNEL"
	out=$(dpctl tunnels)
	echo "$out"
	contains "$out" "tunnel: $PEER_NAME"
	contains "$out" "vpn ip: $VPN_B"
	contains "$out" "endpoint: $UNDER_B:$PORT"
	contains "$out" "indexes: local 0a0a0001, remote 0b0b0001"
	contains "$out" "cipher: aes"
	contains "$out" "transfer: "
	contains "$out" "packets: $N received, 1 sent"
	# Within the last minute: "now", or "N seconds ago".
	grep -Eq '^  latest activity: (now|[0-9]+ seconds? ago)$' <<<"$out" || {
		echo "no recent activity shown"
		return 1
	}
}

# workers -j: the AEAD work matches the traffic, the burst histograms add
# up (a burst of 2^b to 2^(b+1) - 1 packets), the busy share is a share.
test_workers() {
	local out

	in_a python3 - "$DPCTL" "$SOCK" "$N" <<'PY'
import json, subprocess, sys, time

dpctl, sock, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def run(*args):
    p = subprocess.run([dpctl, "-s", sock, *args], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return json.loads(p.stdout)

def hist_ok(h, packets):
    sizes = h["sizes"]
    assert list(sizes) == ["1", "2-3", "4-7", "8-15", "16-31", "32-63", "64"], h
    assert sum(sizes.values()) == h["bursts"], h
    assert h["packets"] == packets, (h, packets)
    lo = sum(c * (1 << b) for b, c in enumerate(sizes.values()))
    hi = sum(c * min((2 << b) - 1, 64) for b, c in enumerate(sizes.values()))
    assert lo <= packets <= hi, (h, lo, hi)

def check(wk, show):
    assert wk["mode"] == "event" and len(wk["per_worker"]) == 2, wk
    tot = wk["total"]
    # In: N data and the spoofed one authenticate, the forgery does not.
    assert tot["crypto"]["opened"] >= n, tot
    assert tot["crypto"]["opened"] == n + 1, tot
    assert tot["crypto"]["open_failed"] == 1, tot
    assert tot["crypto"]["opened_bytes"] == n * (28 + len("dpctl-test")) + 28 + len("spoofed"), tot
    # Out: A's one packet (the recv_error is not sealed).
    assert tot["crypto"]["sealed"] == 1, tot
    for i, w in enumerate(wk["per_worker"]):
        sw = show["per_worker"][i]
        assert w["worker"] == i and w["nic_queue"] == i and w["tun_queue"] == i, w
        assert w["mode"] == "event", w
        assert 0.0 <= w["busy_share"] <= 1.0, w
        assert 0 <= w["busy_ns"] <= w["loop_ns"], w
        # A worker may have had nothing to do (the NIC hash and the TUN's
        # queue choice decide).
        assert 0 <= w["busy_passes"] <= w["passes"] and w["passes"] > 0, w
        hist_ok(w["nic_rx"], sw["rx_packets"])
        hist_ok(w["tun_read"], sw["tun_rx_packets"] - sw["injected_out"])
    for k in ("opened", "sealed", "opened_bytes", "sealed_bytes"):
        assert tot["crypto"][k] == sum(w["crypto"][k] for w in wk["per_worker"]), k
    assert tot["nic_rx"]["bursts"] == sum(w["nic_rx"]["bursts"] for w in wk["per_worker"])
    assert tot["nic_rx"]["packets"] == show["total"]["rx_packets"], (tot, show["total"])
    assert tot["tun_read"]["bursts"] >= 1, tot
    assert 0.0 <= tot["busy_share"] <= 1.0 and tot["busy_passes"] > 0, tot

for attempt in range(50):
    show, wk = run("show", "-j"), run("workers", "-j")
    try:
        check(wk, show)
        break
    except AssertionError:
        if attempt == 49:
            print(json.dumps(wk, indent=1))
            raise
        time.sleep(0.1)
t = wk["total"]
print("workers: opened %d, sealed %d, %d nic bursts, busy %.4f" %
      (t["crypto"]["opened"], t["crypto"]["sealed"], t["nic_rx"]["bursts"],
       t["busy_share"]))
PY
	out=$(dpctl workers)
	echo "$out"
	contains "$out" "worker 1: nic queue 1, tun queue 1, mode event"
	contains "$out" "busy: "
	contains "$out" "nic rx"
	contains "$out" "tun read"
	contains "$out" "crypto: 1 sealed"
	contains "$out" "$((N + 1)) opened"
}

# drops -j: every reason, zeros included, and the counts show -j has.
test_drops() {
	local out

	in_a python3 - "$DPCTL" "$SOCK" <<'PY'
import json, subprocess, sys

dpctl, sock = sys.argv[1:]

def run(*args):
    p = subprocess.run([dpctl, "-s", sock, *args], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return json.loads(p.stdout)

show, drops = run("show", "-j"), run("drops", "-j")
want = show["total"]["drops"]
got = {r["reason"]: r["count"] for r in drops["reasons"]}
assert got == want, (got, want)
# bad_tag, no_tunnel, spoofed, and what the kernel sends into the TUN
# (IPv6 router solicitations: NOT_IPV4).
assert drops["dropped"] == show["total"]["dropped"] >= 3, drops
for r in drops["reasons"]:
    assert r["name"].lower() == r["reason"] and r["description"], r
    assert len(r["per_worker"]) == 2 and sum(r["per_worker"]) == r["count"], r
    for i, w in enumerate(show["per_worker"]):
        assert r["per_worker"][i] == w["drops"][r["reason"]], (r, w["drops"])
print("drops: %d reasons, %d dropped" % (len(got), drops["dropped"]))
PY
	out=$(dpctl drops)
	echo "$out"
	contains "$out" "BAD_TAG"
	contains "$out" "authentication failed"
	contains "$out" " dropped"
	if grep -q "RELAY" <<<"$out"; then
		echo "a reason with no drops is listed"
		return 1
	fi
	out=$(dpctl drops -v)
	echo "$out"
	contains "$out" "worker 1"
}

# stats: two snapshots a refresh apart; -c bounds it.
test_stats() {
	local out

	out=$(in_a "$DPCTL" -s "$SOCK" stats -w 1 -c 2 -j)
	echo "$out"
	python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 2, lines
for l in lines:
    j = json.loads(l)
    assert 0.9 <= j["interval_s"] < 5, j
    for k in ("rx_pps", "rx_bps", "tx_pps", "tx_bps", "tun_rx_pps",
              "tun_rx_bps", "tun_tx_pps", "tun_tx_bps", "drops_ps"):
        assert j[k] >= 0, (k, j)
    assert [w["worker"] for w in j["per_worker"]] == [0, 1], j
    for w in j["per_worker"]:
        assert 0 <= w["busy_share"] <= 1, w
        assert w["rx_pps"] >= 0 and w["tun_rx_pps"] >= 0, w
' "$out"
	# Not a terminal: one block per refresh, no escape codes.
	out=$(in_a "$DPCTL" -s "$SOCK" stats -w 0.2 -c 2)
	echo "$out"
	contains "$out" "refresh 2"
	contains "$out" "nic rx"
	[ "$(grep -c "rates over" <<<"$out")" = 2 ]
	if grep -q $'\033' <<<"$out"; then
		echo "escape codes in piped output"
		return 1
	fi
	# SIGINT ends an unbounded one at once, with status 0: timeout(1)
	# sends it after 2.5 s and exits with dpctl's status (KILL 5 s later
	# if it did not stop). Not in the background: a background job of a
	# script starts with SIGINT ignored. --foreground: to dpctl alone, not
	# to its process group, where a second SIGINT can catch the sanitizer's
	# exit-time leak check half done and hang it. The socket is reachable
	# from any namespace.
	local status=0
	timeout --foreground --preserve-status -k 5 -s INT 2.5 \
		"$DPCTL" -s "$SOCK" stats -w 1 -j >"$TMP/stats.out" || status=$?
	[ "$status" = 0 ] || { echo "stats ended by SIGINT: exit $status, want 0"; return 1; }
	[ "$(wc -l <"$TMP/stats.out")" -ge 1 ]
	status=0
	in_a "$DPCTL" -s "$SOCK" stats -w 0 2>/dev/null || status=$?
	[ "$status" = 2 ] || { echo "stats -w 0: exit $status, want 2"; return 1; }
}

# clear: every STATS reader sees counters since; the tunnel keeps its own.
test_clear() {
	local out

	out=$(dpctl clear)
	echo "$out"
	contains "$out" "counters cleared (clear 1)"
	in_a python3 - "$DPCTL" "$SOCK" "$N" <<'PY'
import json, subprocess, sys

dpctl, sock, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def run(*args):
    p = subprocess.run([dpctl, "-s", sock, *args], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return json.loads(p.stdout)

show = run("show", "-j")
assert show["clears"] == 1 and show["cleared_ms_ago"] >= 0, show
assert show["tunnels"] == 1 and show["workers"] == 2, show
for w in show["per_worker"] + [show["total"]]:
    for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
              "tun_rx_packets", "tun_tx_packets", "recv_errors", "dropped"):
        assert w[k] == 0, (k, w)
    assert not any(w["drops"].values()), w["drops"]
    assert w["port"]["rx_packets"] == 0 and w["port"]["tx_packets"] == 0, w
assert show["control"]["messages_refused"] == 0, show["control"]
assert show["flows"]["created"] == 0, show["flows"]
wk = run("workers", "-j")["total"]
assert wk["crypto"]["opened"] == 0 and wk["crypto"]["sealed"] == 0, wk
assert wk["nic_rx"]["bursts"] == 0, wk
assert run("drops", "-j")["dropped"] == 0
t = run("tunnels", "-j")["tunnels"][0]
assert t["rx_packets"] == n and t["tx_packets"] == 1, t
print("clear: counters 0, tunnel rx %d tx %d" % (t["rx_packets"], t["tx_packets"]))
PY
	contains "$(dpctl show)" "counters: since clear 1, "
	contains "$(dpctl drops)" "0 dropped"
	contains "$(dpctl -j clear)" '"clears": 2'
}

TESTS="test_no_socket test_before_setup test_setup test_traffic test_json test_text test_workers test_drops test_stats test_clear"

setup_net
make_cert
start_dataplane
for t in $TESTS; do
	say "$t"
	$t
done
say "stop"
stop_dataplane
say "all passed"
