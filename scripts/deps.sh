#!/usr/bin/env bash
# Installs everything Vela builds, tests and benchmarks with, from Debian packages.
# Idempotent: when every package is already installed it only asks dpkg and exits.
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc clang llvm libclang-rt-14-dev
	# libraries
	libsodium-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev
	libxdp-dev libbpf-dev libipsec-mb-dev libqrencode-dev zlib1g-dev
	# tests
	libcmocka-dev python3 iproute2 iputils-ping zbar-tools
	# tests: the metrics endpoint scraped and parsed, man pages rendered
	curl python3-prometheus-client groff-base
	# interop and benchmark peers
	nebula iperf3 wireguard-go wireguard-tools
	# benchmark: OpenSSL for the AEAD comparison, gnuplot for the charts
	libssl-dev gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
