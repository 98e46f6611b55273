#!/usr/bin/env bash
# The README's main job: installs what is missing, builds Vela, and walks
# through a Nebula PKI made with vela-cert -- a CA, host certificates for a
# lighthouse, a gateway serving a LAN and a laptop whose key never leaves it --
# checking each step with the real nebula-cert 1.6.1. Files stay in
# build/demo-pki for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "Done: the PKI is in $dir. ca.png holds the CA certificate as a QR code."
