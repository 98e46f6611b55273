#!/usr/bin/env bash
# The README's main job: installs what is missing, builds Vela, and walks
# through a Nebula PKI made with vela-cert -- a CA, host certificates for a
# lighthouse, a gateway serving a LAN and a laptop whose key never leaves it --
# checking each step with the real nebula-cert 1.6.1. Then, as root, a Vela
# node and a real nebula node with those certificates ping each other in two
# network namespaces (removed again at the end). Files stay in
# build/demo-pki for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Installing dependencies (Debian packages) if missing"
scripts/deps.sh

step "Building"
if [ -f build/release/build.ninja ]; then
	meson setup --reconfigure build/release >/dev/null
else
	meson setup build/release --buildtype=release >/dev/null
fi
ninja -C build/release >/dev/null
vela_cert=$PWD/build/release/control/vela-cert
"$vela_cert" -version

dir=build/demo-pki
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

step "A CA that may only issue 10.42.0.0/16, the LAN 192.168.77.0/24 and three groups"
run "$vela_cert" ca -name "Demo Org CA" -duration 8760h \
	-ips 10.42.0.0/16 -subnets 192.168.77.0/24 -groups lighthouse,gateway,laptop \
	-out-qr ca.png
run "$vela_cert" print -path ca.crt

step "Host certificates: a lighthouse, and a gateway that routes its LAN"
run "$vela_cert" sign -name lighthouse -ip 10.42.0.1/16 -groups lighthouse
run "$vela_cert" sign -name gateway -ip 10.42.0.2/16 -groups gateway \
	-subnets 192.168.77.0/24
run "$vela_cert" print -json -path gateway.crt

step "A laptop keeps its private key: it sends only its public key to be signed"
run "$vela_cert" keygen -out-key laptop.key -out-pub laptop.pub
run "$vela_cert" sign -name laptop -ip 10.42.0.10/16 -groups laptop -in-pub laptop.pub

step "Every certificate verifies, with vela-cert and with the real nebula-cert $(nebula-cert -version | awk '{print $2}')"
for h in lighthouse gateway laptop; do
	run "$vela_cert" verify -ca ca.crt -crt "$h.crt"
	run nebula-cert verify -ca ca.crt -crt "$h.crt"
	echo "$h.crt: valid"
done

step "What the CA does not allow is refused"
if "$vela_cert" sign -name rogue -ip 10.99.0.1/16 -out-crt rogue.crt -out-key rogue.key; then
	echo "unexpected: rogue certificate signed" >&2
	exit 1
fi
[ ! -e rogue.crt ] && [ ! -e rogue.key ] && echo "nothing was written"

step "nebula-cert signs with the CA vela-cert made, and vela-cert reads the result"
run nebula-cert sign -name real-nebula -ip 10.42.0.20/16 -groups laptop
run "$vela_cert" verify -ca ca.crt -crt real-nebula.crt
run "$vela_cert" print -path real-nebula.crt

step "Files (all mode 0600)"
ls -l
echo
echo "The PKI is in $dir. ca.png holds the CA certificate as a QR code."

if [ "$(id -u)" -ne 0 ]; then
	echo "(Run as root to also see a Vela node talk to a nebula node.)"
	exit 0
fi
PKI=$PWD
# shellcheck source=../tests/netns/lib.sh
. "$ROOT/tests/netns/lib.sh"
netns_require nebula ping
step "The laptop as a Vela node, the lighthouse host as a real nebula node, in two namespaces"
netns_pair vela-demo 29
cat >"$WORK/vela.yml" <<YML
pki: {ca: $PKI/ca.crt, cert: $PKI/laptop.crt, key: $PKI/laptop.key}
static_host_map: {"10.42.0.1": ["172.29.$N.2:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: vela0}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: icmp, host: any}]
dataplane: {backend: udp, workers: 2, mode: event, socket: $WORK/vela.sock}
YML
cat >"$WORK/nebula.yml" <<YML
pki: {ca: $PKI/ca.crt, cert: $PKI/lighthouse.crt, key: $PKI/lighthouse.key}
static_host_map: {"10.42.0.10": ["172.29.$N.1:4242"]}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: nebula0}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML
ip netns exec "$NSB" nebula -config "$WORK/nebula.yml" >"$WORK/nebula.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NSA" "$ROOT/build/release/control/vela" -config "$WORK/vela.yml" \
	>"$WORK/vela.log" 2>&1 &
PIDS+=($!)
wait_dev "$NSA" vela0
wait_dev "$NSB" nebula0
run ip netns exec "$NSA" ping -c 3 -i 0.3 -W 2 10.42.0.1
run ip netns exec "$NSB" ping -c 3 -i 0.3 -W 2 10.42.0.10
step "What the Vela node's dataplane says (dpctl)"
run "$ROOT/build/release/dataplane/dpctl" -s "$WORK/vela.sock" show
run "$ROOT/build/release/dataplane/dpctl" -s "$WORK/vela.sock" tunnels
echo
echo "Done."
