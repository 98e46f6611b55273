#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of vela-cert against the real nebula-cert 1.6.1.
#
#   VELA_CERT=build/control/vela-cert tests/cli/test_vela_cert.sh [TEST...]
#
# VELA_CERT (required) is the binary under test; NEBULA_CERT (default
# nebula-cert) is the reference. Exits 77 (meson's "skipped") when nebula-cert
# or python3 is missing. Everything happens in a mktemp -d work dir, each test
# in a fresh subdir of it; nothing touches the network.
#
# Each test_* function returns non-zero on failure, after calling fail() with
# the reason; 77 means skipped. Tests run in order, each in a subshell.

set -u

# ---- environment --------------------------------------------------------------

if [[ -z ${VELA_CERT:-} ]]; then
	echo "VELA_CERT must name the vela-cert binary to test" >&2
	exit 1
fi
if [[ ! -x $VELA_CERT ]]; then
	echo "VELA_CERT=$VELA_CERT is not an executable file" >&2
	exit 1
fi
VELA_CERT=$(realpath "$VELA_CERT")
NEBULA_CERT=${NEBULA_CERT:-nebula-cert}
if ! command -v "$NEBULA_CERT" >/dev/null; then
	echo "skip: $NEBULA_CERT not found (Debian package nebula)"
	exit 77
fi
NEBULA_CERT=$(command -v "$NEBULA_CERT")
if ! command -v python3 >/dev/null; then
	echo "skip: python3 not found"
	exit 77
fi

# A sanitizer report must never pass for vela-cert's own "exit 1": ASan and
# UBSan exit with status 1 by default, so make them abort instead.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=1:exitcode=99"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export LC_ALL=C TZ=UTC

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vela-cert-test.XXXXXX") || exit 1
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

OUTF=$WORK/.stdout # stdout and stderr of the last command run by a helper
ERRF=$WORK/.stderr
REASONF=$WORK/.reason
PY=$WORK/.helper.py
EXP=$WORK/.expiry   # fixtures made once at start-up, expired by test_expired
QR_OK=0             # zbarimg found

# ---- helpers ------------------------------------------------------------------

vela() { "$VELA_CERT" "$@"; }
nebula() { "$NEBULA_CERT" "$@"; }

# Records why the current test failed (appended: a helper's reason comes
# before its caller's); returns 1 so "|| return" reads well.
fail() {
	printf '%s\n' "$*" >>"$REASONF"
	return 1
}

skip() {
	printf '%s\n' "$*" >"$REASONF"
	return 77
}

# First lines of a file, flattened for a one-line FAIL message.
excerpt() { head -c "${2:-300}" "$1" | tr '\n\t' '  '; }

# The command line for a FAIL message: long arguments cut, odd bytes quoted.
cmdline() {
	local a out=()

	for a in "$@"; do
		if ((${#a} > 48)); then
			out+=("$(printf '%q' "${a:0:40}")...(${#a} chars)")
		else
			out+=("$(printf '%q' "$a")")
		fi
	done
	printf '%s' "${out[*]}"
}

# run_ok CMD...: CMD must exit 0 and write nothing on stderr. Its stdout is
# left in $OUTF.
run_ok() {
	local rc

	"$@" >"$OUTF" 2>"$ERRF"
	rc=$?
	if ((rc != 0)); then
		fail "'$(cmdline "$@")' exited $rc: $(excerpt "$ERRF")"
		return 1
	fi
	if [[ -s $ERRF ]]; then
		fail "'$(cmdline "$@")' succeeded but wrote on stderr: $(excerpt "$ERRF")"
		return 1
	fi
	return 0
}

# expect_fail [-u] PATTERN... -- CMD...
#
# CMD must exit 1 (a crash under ASan aborts, a plain crash is a signal: both
# differ from 1), print nothing on stdout, and its stderr must start with
# "Error: ". Without -u stderr must be exactly that one line (file errors);
# with -u (usage mistakes) the mode's usage must follow it. The first line must
# contain every PATTERN; a PATTERN may give alternatives as "a|b".
expect_fail() {
	local usage=0 pats=() rc first nlines p alt matched
	local -a alts

	if [[ $1 == -u ]]; then
		usage=1
		shift
	fi
	while (($#)) && [[ $1 != -- ]]; do
		pats+=("$1")
		shift
	done
	shift
	"$@" >"$OUTF" 2>"$ERRF"
	rc=$?
	if ((rc != 1)); then
		fail "'$(cmdline "$@")': exit status $rc, want 1; stderr: $(excerpt "$ERRF")"
		return 1
	fi
	if [[ -s $OUTF ]]; then
		fail "'$(cmdline "$@")': failed but wrote on stdout: $(excerpt "$OUTF")"
		return 1
	fi
	first=$(head -n 1 "$ERRF")
	if [[ $first != "Error: "* ]]; then
		fail "'$(cmdline "$@")': stderr does not start with 'Error: ': $(excerpt "$ERRF")"
		return 1
	fi
	nlines=$(wc -l <"$ERRF")
	if ((usage)); then
		if ! grep -q '^Usage of ' "$ERRF"; then
			fail "'$(cmdline "$@")': usage error without the usage: $(excerpt "$ERRF")"
			return 1
		fi
	elif ((nlines != 1)) || [[ $(tail -c 1 "$ERRF" | od -An -c) != *'\n'* ]]; then
		fail "'$(cmdline "$@")': stderr is not exactly one line ($nlines): $(excerpt "$ERRF" 600)"
		return 1
	fi
	for p in "${pats[@]}"; do
		IFS='|' read -r -a alts <<<"$p"
		matched=0
		for alt in "${alts[@]}"; do
			[[ $first == *"$alt"* ]] && matched=1
		done
		if ((!matched)); then
			fail "'$(cmdline "$@")': error does not mention '$p': $first"
			return 1
		fi
	done
	return 0
}

# A listing of DIR: every entry (hidden ones too: a stray temp file is a bug)
# with its type and mode, and every regular file's checksum.
snapshot() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 -printf '%p %y %m %s %l\n' | sort
		find . -type f -print0 | sort -z | xargs -0r sha256sum
	)
}

# mark DIR, then assert_no_new_files DIR: nothing created, removed or changed.
mark() { SNAP=$(snapshot "${1:-.}"); }
assert_no_new_files() {
	local now

	now=$(snapshot "${1:-.}")
	if [[ $now != "$SNAP" ]]; then
		fail "files changed in ${1:-.}: $(diff <(printf '%s\n' "$SNAP") \
			<(printf '%s\n' "$now") | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
		return 1
	fi
	return 0
}

# same_output 'CMD A' 'CMD B': both succeed with byte-identical stdout.
same_output() {
	local a=$1 b=$2

	eval "$a" >"$WORK/.a" 2>"$ERRF" || {
		fail "'$a' failed: $(excerpt "$ERRF")"
		return 1
	}
	eval "$b" >"$WORK/.b" 2>"$ERRF" || {
		fail "'$b' failed: $(excerpt "$ERRF")"
		return 1
	}
	if [[ ! -s $WORK/.a ]]; then
		fail "'$a' printed nothing"
		return 1
	fi
	if ! cmp -s "$WORK/.a" "$WORK/.b"; then
		fail "'$a' and '$b' differ: $(diff "$WORK/.a" "$WORK/.b" | head -n 6 | tr '\n\t' '  ')"
		return 1
	fi
	return 0
}

# same_print FILE: nebula-cert and vela-cert print FILE identically, as text
# and as JSON, in UTC and in a zone with a half-hour offset.
same_print() {
	local f=$1 tz fmt

	for tz in UTC Asia/Kolkata; do
		for fmt in "" -json; do
			same_output "TZ=$tz nebula print $fmt -path '$f'" \
				"TZ=$tz vela print $fmt -path '$f'" || return 1
		done
	done
}

# verify_both CA CRT: both tools accept CRT under CA.
verify_both() {
	run_ok nebula verify -ca "$1" -crt "$2" || return 1
	run_ok vela verify -ca "$1" -crt "$2" || return 1
}

# detail CERT FIELD: one field of the first certificate's print -json, from
# vela-cert ("fingerprint", "signature" or a details key; times as Unix
# seconds, lists comma-joined).
detail() {
	vela print -json -path "$1" >"$WORK/.json" 2>"$ERRF" || {
		fail "vela print -json -path $1 failed: $(excerpt "$ERRF")"
		return 1
	}
	python3 "$PY" field "$WORK/.json" "$2"
}

write_helper() {
	cat >"$PY" <<'EOF'
import base64, datetime, json, random, subprocess, sys

def blocks(path):
    """(banner, body bytes) of every PEM block in path."""
    out, banner, body = [], None, []
    for line in open(path, encoding="ascii"):
        line = line.strip()
        if line.startswith("-----BEGIN ") and line.endswith("-----"):
            banner, body = line[11:-5], []
        elif line.startswith("-----END ") and banner is not None:
            out.append((banner, base64.b64decode("".join(body), validate=True)))
            banner = None
        elif banner is not None:
            body.append(line)
    return out

def pem(banner, data):
    s = base64.b64encode(data).decode()
    lines = [s[i:i + 64] for i in range(0, len(s), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (banner, "\n".join(lines), banner)

def epoch(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())

def main(cmd, *a):
    if cmd == "field":  # JSON-FILE FIELD
        obj = json.loads(open(a[0]).readline())
        v = obj[a[1]] if a[1] in obj else obj["details"][a[1]]
        if a[1] in ("notBefore", "notAfter"):
            v = epoch(v)
        elif isinstance(v, list):
            v = ",".join(v)
        elif isinstance(v, bool):
            v = str(v).lower()
        print(v)
    elif cmd == "hex":  # PEM-FILE: body of the first block, as hex
        print(blocks(a[0])[0][1].hex())
    elif cmd == "mkpem":  # BANNER HEX
        sys.stdout.write(pem(a[0], bytes.fromhex(a[1])))
    elif cmd == "random":  # BANNER N SEED: N seeded pseudo-random bytes
        sys.stdout.write(pem(a[0], random.Random(int(a[2])).randbytes(int(a[1]))))
    elif cmd == "flip":  # PEM-FILE OFFSET: xor 0x01 into the byte at OFFSET (negative: from the end)
        banner, data = blocks(a[0])[0]
        data = bytearray(data)
        data[int(a[1])] ^= 0x01
        sys.stdout.write(pem(banner, bytes(data)))
    elif cmd == "x25519pub" or cmd == "ed25519pub":  # KEY-FILE: public key derived with openssl
        raw = blocks(a[0])[0][1]
        oid = "656e" if cmd == "x25519pub" else "6570"
        der = bytes.fromhex("302e020100300506032b" + oid + "04220420") + raw[:32]
        pub = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
                             input=der, capture_output=True, check=True).stdout
        print(pub[-32:].hex())
    else:
        sys.exit("unknown helper command " + cmd)

main(*sys.argv[1:])
EOF
}

# Appendix A of docs/nebula-1.6.1-protocol.md: a CA valid 1700000000 ..
# 2000000000 (2023-11-14 .. 2033-05-18), its key, and two host certificates.
write_vectors() {
	cat >vectors_ca.crt <<'EOF'
-----BEGIN NEBULA CERTIFICATE-----
CkgKCXZlY3Rvci1jYSICZzEiAmcyIgNvcHMogOLPqgYwgKjWuQc6IIJggUx6eH3O
aGY6vtVd/VC0VX5pmp0bYnVcX03UaYfjQAESQFuh/FwHVMjoH3NnJU5TvnXGyvVn
OUyPcivukGi9EzRm2KWL+3DiCM5S0IQAl/wIppi3ilY7pSTvZHMlCoATkwM=
-----END NEBULA CERTIFICATE-----
EOF
	cat >vectors_ca.key <<'EOF'
-----BEGIN NEBULA ED25519 PRIVATE KEY-----
fMpPxVFSZrNR6i4tKM49qSzYAja3JLdDSzqt/H9r1tOCYIFMenh9zmhmOr7VXf1Q
tFV+aZqdG2J1XF9N1GmH4w==
-----END NEBULA ED25519 PRIVATE KEY-----
EOF
	cat >host-a.crt <<'EOF'
-----BEGIN NEBULA CERTIFICATE-----
CmsKBmhvc3QtYRIJgYCEUICA/P8PIgJnMSICZzIogOLPqgYwgKjWuQc6IFWQPq31
GN9bcJbXmlC/wGuLixhHbTIKhVu645qdZ1gnSiBDRfvC1BTvp4y6ODUFeJ6RKqta
aap3NWIyTG9yF9bfDhJASzxRAeyo8KFNwHYeuV3V3YjASQzYKSYE4rgt77sAQpmZ
nwTYi+lTd+Z8B5bd7cEaNrWi6/D8FYUpMXzcoXUuBw==
-----END NEBULA CERTIFICATE-----
EOF
	cat >host-b.crt <<'EOF'
-----BEGIN NEBULA CERTIFICATE-----
CnQKBmhvc3QtYhIJgoCEUICA/P8PGgqA5KCFDID+//8PIgNvcHMogOLPqgYwgKjW
uQc6IJLkZhAw0DXMzvaWG798HnvRO8GWm2C9g7BQDENt7QBpSiBDRfvC1BTvp4y6
ODUFeJ6RKqtaaap3NWIyTG9yF9bfDhJATX4mCO7aTts+5pa/8AMOugUfuwYFnDc1
l1lMBULurQc9pe+ZnnwjLG2aIzkfJmZlR1B7BWq0dn6yQe3cT2HCAw==
-----END NEBULA CERTIFICATE-----
EOF
}
VEC_CA_FP=4345fbc2d414efa78cba383505789e912aab5a69aa773562324c6f7217d6df0e
VEC_A_FP=0b4b7d6bc438af05cace1d4ebc0e1d317dc5da92dc47ae5f00de33bb6cfb563a
VEC_B_FP=6cd0189003d47e79e0055abd24c042321a7a5f5790949170c9f7ebb791a86bd0

# Certificates that expire a second after they are made: made once, before
# the first test, so that by the time test_expired runs they are stale and
# one sleep at most is needed.
make_expiry_fixtures() {
	mkdir -p "$EXP" && cd "$EXP" || return 1
	vela ca -name short-ca -duration 1s -out-crt short-ca.crt \
		-out-key short-ca.key &&
		nebula ca -name nebula-short-ca -duration 1s \
			-out-crt nebula-short-ca.crt -out-key nebula-short-ca.key &&
		vela ca -name long-ca -out-crt ca.crt -out-key ca.key &&
		vela sign -name short-host -ip 10.3.0.1/24 -duration 1s &&
		nebula sign -name nebula-short-host -ip 10.3.0.2/24 -duration 1s ||
		return 1
	EXP_MADE=$(date +%s)
	cd - >/dev/null || return 1
}

# ---- interop ------------------------------------------------------------------

# vela-cert's CA and host certificate: nebula-cert accepts them and prints
# them exactly as vela-cert does.
test_vela_ca_sign_nebula_reads() {
	run_ok vela ca -name 'Vela "test" CA <&>' -groups 'ops, dev,a<b,,' \
		-ips 10.1.0.0/16,10.9.9.9/8 -subnets 192.168.0.0/16,172.16.0.0/12 || return 1
	run_ok vela sign -name host-1 -ip 10.1.2.3/16 -groups ops,dev,'a<b' \
		-subnets 192.168.10.0/24,192.168.20.5/24,172.16.1.0/24 || return 1
	run_ok vela sign -name bare -ip 10.9.0.1/8 || return 1
	verify_both ca.crt host-1.crt || return 1
	verify_both ca.crt bare.crt || return 1
	same_print ca.crt || return 1
	same_print host-1.crt || return 1
	same_print bare.crt || return 1
	[[ $(detail host-1.crt subnets) == 192.168.10.0/24,192.168.20.0/24,172.16.1.0/24 ]] ||
		fail "host-1.crt subnets are not stored as networks: $(detail host-1.crt subnets)" || return 1
	[[ $(detail ca.crt groups) == 'ops,dev,a<b' ]] ||
		fail "ca.crt groups: $(detail ca.crt groups)"
}

# nebula-cert's CA and host certificate: vela-cert accepts them, and prints
# them (several in one file) exactly as nebula-cert does.
test_nebula_ca_sign_vela_reads() {
	run_ok nebula ca -name 'Nebula CA' -groups ops,dev -ips 10.2.0.0/16 \
		-subnets 10.200.0.0/16 || return 1
	run_ok nebula sign -name host-2 -ip 10.2.0.7/24 -groups dev \
		-subnets 10.200.1.0/24 || return 1
	run_ok nebula ca -name 'Other CA' -out-crt other.crt -out-key other.key || return 1
	verify_both ca.crt host-2.crt || return 1
	cat other.crt ca.crt >bundle.crt
	verify_both bundle.crt host-2.crt || return 1
	cat ca.crt host-2.crt other.crt >three.crt
	same_print three.crt || return 1
	[[ $(vela print -json -path three.crt | wc -l) == 3 ]] ||
		fail "vela print -json of three certificates is not three lines"
}

# A vela-cert CA used by nebula-cert sign.
test_vela_ca_nebula_sign() {
	run_ok vela ca -name vela-ca -groups g -ips 10.4.0.0/16 || return 1
	run_ok nebula sign -name h -ip 10.4.0.1/24 -groups g || return 1
	verify_both ca.crt h.crt || return 1
	[[ $(detail h.crt issuer) == "$(detail ca.crt fingerprint)" ]] ||
		fail "h.crt issuer is not the CA fingerprint" || return 1
	if command -v openssl >/dev/null; then
		# nebula-cert only compares the public half of the key file: check
		# that the seed really derives it.
		local derived
		derived=$(python3 "$PY" ed25519pub ca.key) || fail "openssl failed on ca.key" || return 1
		[[ $derived == "$(detail ca.crt publicKey)" ]] ||
			fail "ca.key seed does not derive the certificate's public key"
	fi
}

# A nebula-cert CA used by vela-cert sign.
test_nebula_ca_vela_sign() {
	run_ok nebula ca -name nebula-ca -groups g -subnets 10.99.0.0/16 || return 1
	run_ok vela sign -name h -ip 10.5.0.1/24 -groups g -subnets 10.99.3.0/24 || return 1
	verify_both ca.crt h.crt || return 1
	[[ $(detail h.crt issuer) == "$(detail ca.crt fingerprint)" ]] ||
		fail "h.crt issuer is not the CA fingerprint" || return 1
	same_print h.crt
}

test_keygen_interop() {
	local pub

	run_ok vela ca -name ca || return 1
	# vela-cert keygen, nebula-cert sign -in-pub.
	run_ok vela keygen -out-key v.key -out-pub v.pub || return 1
	[[ $(printf '%s ' *) == "ca.crt ca.key v.key v.pub " ]] ||
		fail "keygen wrote: $(printf '%s ' *)" || return 1
	run_ok nebula sign -name v -ip 10.6.0.1/24 -in-pub v.pub || return 1
	pub=$(python3 "$PY" hex v.pub) || fail "cannot read v.pub" || return 1
	[[ $(detail v.crt publicKey) == "$pub" ]] ||
		fail "v.crt public key is not v.pub" || return 1
	verify_both ca.crt v.crt || return 1
	# nebula-cert keygen, vela-cert sign -in-pub: no key file is written.
	run_ok nebula keygen -out-key nk.key -out-pub nk.pub || return 1
	mark .
	run_ok vela sign -name n -ip 10.6.0.2/24 -in-pub nk.pub || return 1
	[[ -f n.crt ]] || fail "sign -in-pub wrote no n.crt" || return 1
	[[ ! -e n.key ]] || fail "sign -in-pub wrote n.key" || return 1
	rm n.crt
	assert_no_new_files . || return 1
	run_ok vela sign -name n -ip 10.6.0.2/24 -in-pub nk.pub || return 1
	pub=$(python3 "$PY" hex nk.pub) || fail "cannot read nk.pub" || return 1
	[[ $(detail n.crt publicKey) == "$pub" ]] ||
		fail "n.crt public key is not nk.pub" || return 1
	verify_both ca.crt n.crt || return 1
	if command -v openssl >/dev/null; then
		# Each private key matches its public key.
		[[ $(python3 "$PY" x25519pub v.key) == "$(python3 "$PY" hex v.pub)" ]] ||
			fail "vela keygen: v.key does not derive v.pub" || return 1
		run_ok vela sign -name k -ip 10.6.0.4/24 || return 1
		[[ $(python3 "$PY" x25519pub k.key) == "$(detail k.crt publicKey)" ]] ||
			fail "vela sign: k.key does not derive the key in k.crt" || return 1
	fi
}

# sign without -duration expires a second before the CA; ca defaults to 8760h.
test_default_durations() {
	local nb na hna

	run_ok vela ca -name ca || return 1
	nb=$(detail ca.crt notBefore) && na=$(detail ca.crt notAfter) || return 1
	((na - nb >= 31536000 && na - nb <= 31536001)) ||
		fail "ca default validity is $((na - nb)) s, want 31536000" || return 1
	[[ $(detail ca.crt isCa) == true ]] || fail "ca.crt is not a CA" || return 1
	run_ok vela sign -name h -ip 10.7.0.1/24 || return 1
	hna=$(detail h.crt notAfter) || return 1
	((hna == na - 1)) ||
		fail "host NotAfter $hna, want CA NotAfter - 1 = $((na - 1))" || return 1
	# The same against a nebula-cert CA.
	run_ok nebula ca -name nca -out-crt nca.crt -out-key nca.key || return 1
	run_ok vela sign -name h2 -ip 10.7.0.2/24 -ca-crt nca.crt -ca-key nca.key || return 1
	na=$(detail nca.crt notAfter) && hna=$(detail h2.crt notAfter) || return 1
	((hna == na - 1)) ||
		fail "h2 NotAfter $hna, want nebula CA NotAfter - 1 = $((na - 1))" || return 1
	# sign takes -duration 0 or less as "the default", as nebula-cert does.
	run_ok vela sign -name h4 -ip 10.7.0.4/24 -duration -5m || return 1
	[[ $(detail h4.crt notAfter) == "$(($(detail ca.crt notAfter) - 1))" ]] ||
		fail "sign -duration -5m did not default to the CA's expiry - 1 s" || return 1
	# An explicit -duration.
	run_ok vela sign -name h3 -ip 10.7.0.3/24 -duration 1h30m || return 1
	nb=$(detail h3.crt notBefore) && na=$(detail h3.crt notAfter) || return 1
	((na - nb >= 5400 && na - nb <= 5401)) ||
		fail "-duration 1h30m gave $((na - nb)) s"
}

# Every key, certificate and QR code is written 0600, whatever the umask.
test_file_modes() {
	local f m

	umask 000
	run_ok vela ca -name ca -out-qr ca.png || return 1
	run_ok vela sign -name h -ip 10.8.0.1/24 -out-qr h.png || return 1
	run_ok vela keygen -out-key k.key -out-pub k.pub || return 1
	run_ok vela sign -name p -ip 10.8.0.2/24 -in-pub k.pub || return 1
	run_ok vela print -path h.crt -out-qr p.png || return 1
	for f in ca.key ca.crt ca.png h.key h.crt h.png k.key k.pub p.crt p.png; do
		[[ -f $f ]] || fail "$f was not written" || return 1
		m=$(stat -c %a "$f")
		[[ $m == 600 ]] || fail "$f has mode $m, want 600" || return 1
	done
}

# The Appendix A vectors of the protocol document.
test_appendix_a_vectors() {
	write_vectors
	[[ $(detail vectors_ca.crt fingerprint) == "$VEC_CA_FP" ]] ||
		fail "CA fingerprint $(detail vectors_ca.crt fingerprint), want $VEC_CA_FP" || return 1
	[[ $(detail host-a.crt fingerprint) == "$VEC_A_FP" ]] ||
		fail "host-a fingerprint $(detail host-a.crt fingerprint), want $VEC_A_FP" || return 1
	[[ $(detail host-b.crt fingerprint) == "$VEC_B_FP" ]] ||
		fail "host-b fingerprint $(detail host-b.crt fingerprint), want $VEC_B_FP" || return 1
	[[ $(detail host-b.crt issuer) == "$VEC_CA_FP" ]] ||
		fail "host-b issuer is not the CA fingerprint" || return 1
	[[ $(detail host-b.crt notBefore),$(detail host-b.crt notAfter) == 1700000000,2000000000 ]] ||
		fail "host-b validity is not 1700000000..2000000000" || return 1
	same_print vectors_ca.crt || return 1
	same_print host-b.crt || return 1
	run_ok vela verify -ca vectors_ca.crt -crt host-a.crt || return 1
	run_ok vela verify -ca vectors_ca.crt -crt host-b.crt || return 1
	run_ok vela sign -ca-crt vectors_ca.crt -ca-key vectors_ca.key \
		-name host-c -ip 10.1.0.3/16 -groups g2,ops || return 1
	verify_both vectors_ca.crt host-c.crt || return 1
	[[ $(detail host-c.crt notAfter) == 1999999999 ]] ||
		fail "host-c NotAfter $(detail host-c.crt notAfter), want 1999999999" || return 1
	[[ $(detail host-c.crt issuer) == "$VEC_CA_FP" ]] ||
		fail "host-c issuer is not the CA fingerprint"
}

# qr_is PNG FILE...: PNG decodes to exactly the concatenated FILEs.
qr_is() {
	local png=$1

	shift
	[[ -f $png ]] || fail "$png was not written" || return 1
	zbarimg --raw -q "$png" >"$WORK/.qr" 2>/dev/null ||
		fail "zbarimg cannot decode $png" || return 1
	# zbarimg ends each symbol with a newline of its own.
	{
		cat "$@"
		echo
	} >"$WORK/.qr.want"
	cmp -s "$WORK/.qr" "$WORK/.qr.want" ||
		fail "$png decodes to something else than $*: $(excerpt "$WORK/.qr" 120)"
}

test_qr_codes() {
	((QR_OK)) || {
		skip "zbarimg not found (package zbar-tools)"
		return 77
	}
	run_ok vela ca -name ca -out-qr ca.png || return 1
	qr_is ca.png ca.crt || return 1
	run_ok vela sign -name h -ip 10.9.0.1/24 -groups a,b -out-qr h.png || return 1
	qr_is h.png h.crt || return 1
	cat ca.crt h.crt >both.crt
	run_ok vela print -path both.crt -out-qr both.png || return 1
	qr_is both.png ca.crt h.crt || return 1
	# print -out-qr re-encodes: a file written by nebula-cert, too.
	run_ok nebula ca -name nca -out-crt nca.crt -out-key nca.key || return 1
	run_ok vela print -json -path nca.crt -out-qr nca.png || return 1
	qr_is nca.png nca.crt
}

# ---- bad input ----------------------------------------------------------------

# bad_cert_file FILE REASON: every command that reads a certificate refuses
# FILE with REASON, naming it, and writes nothing.
bad_cert_file() {
	local f=$1 why=$2

	mark .
	expect_fail "$f" "$why" -- vela print -path "$f" || return 1
	expect_fail "$f" "$why" -- vela print -json -path "$f" || return 1
	expect_fail "$f" "$why" -- vela print -path "$f" -out-qr q.png || return 1
	expect_fail "$f" "$why" -- vela verify -ca ca.crt -crt "$f" || return 1
	expect_fail "$f" "$why" -- vela verify -ca "$f" -crt h.crt || return 1
	expect_fail "$f" "$why" -- vela sign -ca-crt "$f" -name x -ip 10.0.0.9/24 || return 1
	assert_no_new_files .
}

# bad_key_file FILE REASON: as -ca-key and as -in-pub.
bad_key_file() {
	local f=$1 why=$2

	mark .
	expect_fail "$f" "$why" -- vela sign -ca-key "$f" -name x -ip 10.0.0.9/24 || return 1
	expect_fail "$f" "$why" -- vela sign -in-pub "$f" -name x -ip 10.0.0.9/24 || return 1
	assert_no_new_files .
}

test_bad_input_files() {
	local size

	run_ok vela ca -name ca || return 1
	run_ok vela sign -name h -ip 10.0.0.1/24 || return 1
	run_ok vela keygen -out-key k.key -out-pub k.pub || return 1
	write_vectors

	size=$(stat -c %s h.crt)
	head -c $((size / 2)) h.crt >truncated.crt
	size=$(stat -c %s ca.key)
	head -c $((size / 2)) ca.key >truncated.key
	sed '2s/^\(....\)./\1*/' h.crt >garbled.crt
	sed '2s/^\(....\)./\1*/' ca.key >garbled.key
	sed 's/uBw==$/uBw=/' host-a.crt >pad-short.crt
	sed 's/kwM=$/kwM/' vectors_ca.crt >pad-missing.crt
	sed 's/kwM=$/kwM==/' vectors_ca.crt >pad-extra.crt
	sed '2s/^\(....\)/\1==/' vectors_ca.crt >pad-inside.crt
	python3 "$PY" random "NEBULA CERTIFICATE" 100 1 >random.crt
	python3 "$PY" mkpem "NEBULA CERTIFICATE" 0a00 >empty-details.crt
	python3 "$PY" mkpem "NEBULA CERTIFICATE" "" >empty-body.crt
	: >empty.crt
	mkdir dir.crt
	cmp -s pad-short.crt host-a.crt && fail "bad padding fixture not made" && return 1

	# The reference refuses these too.
	local f
	for f in truncated.crt garbled.crt pad-short.crt pad-missing.crt \
		pad-extra.crt pad-inside.crt random.crt empty-details.crt \
		empty-body.crt empty.crt dir.crt nonexistent.crt; do
		nebula print -path "$f" >/dev/null 2>&1 &&
			fail "fixture $f is accepted by nebula-cert" && return 1
	done

	bad_cert_file truncated.crt truncated || return 1
	bad_cert_file garbled.crt base64 || return 1
	bad_cert_file pad-short.crt base64 || return 1
	bad_cert_file pad-missing.crt base64 || return 1
	bad_cert_file pad-extra.crt base64 || return 1
	bad_cert_file pad-inside.crt base64 || return 1
	bad_cert_file random.crt protobuf || return 1
	bad_cert_file empty-details.crt "public key" || return 1
	bad_cert_file empty-body.crt "empty" || return 1
	bad_cert_file empty.crt "no PEM block" || return 1
	bad_cert_file nonexistent.crt "No such file" || return 1
	bad_cert_file dir.crt "not a regular file" || return 1
	# Wrong banners: a key where a certificate goes, and the other way.
	bad_cert_file ca.key "banner" || return 1
	bad_cert_file k.pub "banner" || return 1
	bad_key_file h.crt "banner" || return 1
	bad_key_file truncated.key truncated || return 1
	bad_key_file garbled.key base64 || return 1
	bad_key_file empty.crt "no PEM block" || return 1
	bad_key_file nonexistent.key "No such file" || return 1
	bad_key_file dir.crt "not a regular file" || return 1
	python3 "$PY" mkpem "NEBULA X25519 PUBLIC KEY" "$(printf '01%.0s' {1..31})" >short.pub
	python3 "$PY" mkpem "NEBULA ED25519 PRIVATE KEY" "$(printf '01%.0s' {1..32})" >short.key
	mark .
	expect_fail short.pub "bytes" -- vela sign -in-pub short.pub -name x -ip 10.0.0.9/24 || return 1
	expect_fail short.key "bytes" -- vela sign -ca-key short.key -name x -ip 10.0.0.9/24 || return 1
	expect_fail k.key banner -- vela sign -in-pub k.key -name x -ip 10.0.0.9/24 || return 1
	expect_fail k.key banner -- vela sign -ca-key k.key -name x -ip 10.0.0.9/24 || return 1
	expect_fail ca.key banner -- vela sign -in-pub ca.key -name x -ip 10.0.0.9/24 || return 1
	assert_no_new_files .
}

# One flipped bit in the signature, in the details, in a CA's self-signature.
test_bad_signature() {
	run_ok vela ca -name ca || return 1
	run_ok vela sign -name h -ip 10.0.0.1/24 || return 1
	run_ok vela ca -name ca2 -out-crt ca2.crt -out-key ca2.key || return 1
	python3 "$PY" flip h.crt -10 >badsig.crt || return 1
	python3 "$PY" flip h.crt 4 >baddetails.crt || return 1 # the name, "h" -> "i"
	python3 "$PY" flip ca.crt -3 >badca.crt || return 1
	mark .
	expect_fail badsig.crt "certificate signature did not match" -- \
		vela verify -ca ca.crt -crt badsig.crt || return 1
	expect_fail "signature did not match" -- nebula verify -ca ca.crt -crt badsig.crt || return 1
	expect_fail baddetails.crt "certificate signature did not match" -- \
		vela verify -ca ca.crt -crt baddetails.crt || return 1
	expect_fail badca.crt "self-signed" -- vela verify -ca badca.crt -crt h.crt || return 1
	# A bundle with one bad CA is refused as a whole, as nebula-cert does.
	cat ca2.crt badca.crt >bundle.crt
	mark .
	expect_fail bundle.crt "self-signed" -- vela verify -ca bundle.crt -crt h.crt || return 1
	# Printing does not check signatures; the fingerprint changes.
	[[ $(detail badsig.crt fingerprint) != "$(detail h.crt fingerprint)" ]] ||
		fail "a changed signature kept the fingerprint" || return 1
	assert_no_new_files .
}

test_expired() {
	local now wait

	now=$(date +%s)
	wait=$((EXP_MADE + 2 - now))
	((wait > 0)) && sleep "$wait"
	cd "$EXP" || return 1
	mark .
	expect_fail short-host.crt "certificate is expired" -- \
		vela verify -ca ca.crt -crt short-host.crt || return 1
	expect_fail nebula-short-host.crt "certificate is expired" -- \
		vela verify -ca ca.crt -crt nebula-short-host.crt || return 1
	expect_fail "certificate is expired" -- \
		nebula verify -ca ca.crt -crt short-host.crt || return 1
	expect_fail short-ca.crt "ca certificate is expired" -- \
		vela sign -ca-crt short-ca.crt -ca-key short-ca.key -name x -ip 10.3.0.9/24 || return 1
	expect_fail nebula-short-ca.crt "ca certificate is expired" -- \
		vela sign -ca-crt nebula-short-ca.crt -ca-key nebula-short-ca.key \
		-name x -ip 10.3.0.9/24 || return 1
	expect_fail short-ca.crt "expired" -- \
		vela verify -ca short-ca.crt -crt short-ca.crt || return 1
	cat ca.crt short-ca.crt >bundle.crt
	mark .
	expect_fail bundle.crt "expired" -- vela verify -ca bundle.crt -crt short-host.crt || return 1
	assert_no_new_files .
}

# constraint_refused CAFILE REASON SIGN-ARGS...: both tools refuse to sign.
constraint_refused() {
	local ca=$1 why=$2

	shift 2
	mark .
	expect_fail "$why" -- vela sign -ca-crt "$ca.crt" -ca-key "$ca.key" "$@" || return 1
	expect_fail "$why" -- nebula sign -ca-crt "$ca.crt" -ca-key "$ca.key" "$@" || return 1
	assert_no_new_files .
}

test_ca_constraints() {
	run_ok vela ca -name groups -groups a,b -out-crt g.crt -out-key g.key || return 1
	run_ok vela ca -name ips -ips 10.1.0.0/16 -out-crt i.crt -out-key i.key || return 1
	run_ok vela ca -name subnets -subnets 192.168.0.0/16 -out-crt s.crt -out-key s.key || return 1
	run_ok vela ca -name short -duration 10m -out-crt d.crt -out-key d.key || return 1

	constraint_refused g "group not present on the signing ca: c" \
		-name x -ip 10.0.0.1/24 -groups a,c || return 1
	constraint_refused i "ip assignment outside the limitations of the signing ca: 10.2.0.1/24" \
		-name x -ip 10.2.0.1/24 || return 1
	constraint_refused i "ip assignment outside the limitations of the signing ca: 10.1.0.1/8" \
		-name x -ip 10.1.0.1/8 || return 1
	constraint_refused s "subnet assignment outside the limitations of the signing ca: 10.0.0.0/8" \
		-name x -ip 10.0.0.1/24 -subnets 192.168.1.0/24,10.0.0.0/8 || return 1
	constraint_refused s "subnet assignment outside the limitations of the signing ca: 192.0.0.0/8" \
		-name x -ip 10.0.0.1/24 -subnets 192.168.1.0/8 || return 1
	constraint_refused d "certificate expires after signing certificate" \
		-name x -ip 10.0.0.1/24 -duration 11m || return 1

	# What the constraints allow.
	run_ok vela sign -ca-crt g.crt -ca-key g.key -name ok1 -ip 10.0.0.1/24 -groups b,a || return 1
	run_ok vela sign -ca-crt i.crt -ca-key i.key -name ok2 -ip 10.1.200.1/16 || return 1
	run_ok vela sign -ca-crt i.crt -ca-key i.key -name ok3 -ip 10.1.0.1/32 || return 1
	run_ok vela sign -ca-crt s.crt -ca-key s.key -name ok4 -ip 10.0.0.4/24 \
		-subnets 192.168.0.0/16,192.168.7.0/24 || return 1
	run_ok vela sign -ca-crt d.crt -ca-key d.key -name ok5 -ip 10.0.0.5/24 -duration 5m || return 1
	verify_both g.crt ok1.crt && verify_both i.crt ok2.crt &&
		verify_both i.crt ok3.crt && verify_both s.crt ok4.crt &&
		verify_both d.crt ok5.crt
}

test_blocklist() {
	local fp other

	run_ok vela ca -name ca || return 1
	run_ok vela sign -name h -ip 10.0.0.1/24 || return 1
	run_ok vela sign -name o -ip 10.0.0.2/24 || return 1
	fp=$(detail h.crt fingerprint) && other=$(detail o.crt fingerprint) || return 1
	mark .
	expect_fail h.crt "certificate has been blocked" -- \
		vela verify -ca ca.crt -crt h.crt -blocklist "$fp" || return 1
	expect_fail h.crt "certificate has been blocked" -- \
		vela verify -ca ca.crt -crt h.crt -blocklist "$other, $fp" || return 1
	run_ok vela verify -ca ca.crt -crt h.crt -blocklist "$other" || return 1
	run_ok vela verify -ca ca.crt -crt h.crt -blocklist "" || return 1
	expect_fail -blocklist not-hex -- \
		vela verify -ca ca.crt -crt h.crt -blocklist not-hex || return 1
	expect_fail -blocklist "${fp:0:62}" -- \
		vela verify -ca ca.crt -crt h.crt -blocklist "$other,${fp:0:62}" || return 1
	expect_fail -blocklist -- \
		vela verify -ca ca.crt -crt h.crt -blocklist "${fp}00" || return 1
	expect_fail -blocklist -- \
		vela verify -ca ca.crt -crt h.crt -blocklist "${fp:0:63}g" || return 1
	assert_no_new_files .
}

test_key_mismatch() {
	local hex

	run_ok vela ca -name ca || return 1
	run_ok nebula ca -name other -out-crt other.crt -out-key other.key || return 1
	run_ok vela sign -name h -ip 10.0.0.1/24 || return 1
	mark .
	expect_fail other.key "does not match" -- \
		vela sign -ca-key other.key -name x -ip 10.0.0.2/24 || return 1
	expect_fail "does not match" -- \
		nebula sign -ca-key other.key -name x -ip 10.0.0.2/24 || return 1
	expect_fail h.crt "not a CA|does not match" -- \
		vela sign -ca-crt h.crt -name x -ip 10.0.0.2/24 || return 1
	expect_fail "banner" -- vela sign -ca-crt h.crt -ca-key h.key -name x -ip 10.0.0.2/24 || return 1
	# A CA key whose seed is another CA's but whose public half is ours:
	# nebula-cert only compares the public half and would sign garbage.
	hex=$(python3 "$PY" hex other.key | cut -c1-64)$(python3 "$PY" hex ca.key | cut -c65-128)
	python3 "$PY" mkpem "NEBULA ED25519 PRIVATE KEY" "$hex" >franken.key
	mark .
	expect_fail franken.key "does not match" -- \
		vela sign -ca-key franken.key -name x -ip 10.0.0.2/24 || return 1
	# A CA key of the wrong length.
	python3 "$PY" mkpem "NEBULA ED25519 PRIVATE KEY" "${hex:0:126}" >short.key
	mark .
	expect_fail short.key "bytes" -- vela sign -ca-key short.key -name x -ip 10.0.0.2/24 || return 1
	# A non-CA certificate as the CA pool.
	expect_fail h.crt "not a CA" -- vela verify -ca h.crt -crt h.crt || return 1
	# A certificate from a CA that is not in the pool.
	expect_fail h.crt "could not find ca" -- vela verify -ca other.crt -crt h.crt || return 1
	expect_fail ca.crt "no issuer" -- vela verify -ca ca.crt -crt ca.crt || return 1
	assert_no_new_files .
}

test_existing_outputs() {
	# ca: either output existing.
	echo keep >ca.key
	mark .
	expect_fail "refusing to overwrite" ca.key -- vela ca -name x || return 1
	assert_no_new_files . || return 1
	rm ca.key && echo keep >ca.crt
	mark .
	expect_fail "refusing to overwrite" ca.crt -- vela ca -name x || return 1
	assert_no_new_files . || return 1
	rm ca.crt && echo keep >q.png
	mark .
	expect_fail "refusing to overwrite" q.png -- vela ca -name x -out-qr q.png || return 1
	assert_no_new_files . || return 1
	rm q.png

	run_ok vela ca -name ca || return 1
	# sign: the certificate, the key, the QR code.
	echo keep >h.crt
	mark .
	expect_fail "refusing to overwrite" h.crt -- vela sign -name h -ip 10.0.0.1/24 || return 1
	assert_no_new_files . || return 1
	rm h.crt && echo keep >h.key
	mark .
	expect_fail "refusing to overwrite" h.key -- vela sign -name h -ip 10.0.0.1/24 || return 1
	assert_no_new_files . || return 1
	echo keep >q.png
	mark .
	expect_fail "refusing to overwrite" q.png -- \
		vela sign -name h -ip 10.0.0.1/24 -out-key h2.key -out-qr q.png || return 1
	assert_no_new_files . || return 1
	# -in-pub writes no key, so an existing one does not matter.
	run_ok vela keygen -out-key p.key -out-pub p.pub || return 1
	mark .
	run_ok vela sign -name h -ip 10.0.0.1/24 -in-pub p.pub || return 1
	[[ $(cat h.key) == keep ]] || fail "sign -in-pub touched h.key" || return 1

	# keygen: either output existing.
	echo keep >k.key
	mark .
	expect_fail "refusing to overwrite" k.key -- vela keygen -out-key k.key -out-pub k.pub || return 1
	assert_no_new_files . || return 1
	rm k.key && echo keep >k.pub
	mark .
	expect_fail "refusing to overwrite" k.pub -- vela keygen -out-key k.key -out-pub k.pub || return 1
	assert_no_new_files . || return 1

	# print -out-qr.
	mark .
	expect_fail "refusing to overwrite" q.png -- vela print -path ca.crt -out-qr q.png || return 1
	assert_no_new_files . || return 1

	# A dangling symlink is an existing file: nothing is written through it.
	ln -s elsewhere.crt link.crt
	mark .
	expect_fail "refusing to overwrite" link.crt -- \
		vela sign -name l -ip 10.0.0.3/24 -out-crt link.crt || return 1
	[[ ! -e elsewhere.crt ]] || fail "sign wrote through a dangling symlink" || return 1
	assert_no_new_files . || return 1

	# All outputs or none: the same path twice, an unwritable second output.
	mark .
	expect_fail same.pem -- vela ca -name x -out-key same.pem -out-crt same.pem || return 1
	assert_no_new_files . || return 1
	expect_fail nodir/c.crt -- vela ca -name x -out-key c.key -out-crt nodir/c.crt || return 1
	assert_no_new_files . || return 1
	expect_fail nodir/q.png -- vela sign -name z -ip 10.0.0.4/24 -out-qr nodir/q.png || return 1
	assert_no_new_files . || return 1
	expect_fail nodir/k.pub -- vela keygen -out-key k2.key -out-pub nodir/k.pub || return 1
	assert_no_new_files . || return 1
	# More text than a QR code holds (2331 bytes): no key, no certificate,
	# and print prints nothing.
	expect_fail big.png "QR" -- vela ca -name "$(printf 'n%.0s' {1..2400})" \
		-out-key big.key -out-crt big.crt -out-qr big.png || return 1
	assert_no_new_files . || return 1
	expect_fail big.png "QR" -- vela sign -name big -ip 10.0.0.5/24 \
		-groups "$(printf 'group-%s,' {1..250})" -out-qr big.png || return 1
	assert_no_new_files . || return 1
	for _ in {1..12}; do cat ca.crt; done >many.crt
	mark .
	expect_fail big.png "QR" -- vela print -path many.crt -out-qr big.png || return 1
	assert_no_new_files .
}

# The program name out of help texts: nebula-cert prints its argv[0].
norm_help() { sed -e "s|$NEBULA_CERT|TOOL|g; s|nebula-cert|TOOL|g; s|vela-cert|TOOL|g"; }

test_usage() {
	local m flags want

	mark .
	expect_fail -u "No mode was provided" -- vela || return 1
	expect_fail "unknown mode: bogus" -- vela bogus || return 1
	expect_fail -u "-name is required" -- vela ca || return 1
	expect_fail -u "-name is required" -- vela sign -ip 10.0.0.1/24 || return 1
	expect_fail -u "-ip is required" -- vela sign -name x || return 1
	expect_fail -u "-path is required" -- vela print || return 1
	expect_fail -u "-ca is required" -- vela verify -crt x.crt || return 1
	expect_fail -u "-crt is required" -- vela verify -ca x.crt || return 1
	expect_fail -u "-out-key is required" -- vela keygen -out-pub x.pub || return 1
	expect_fail -u "-out-pub is required" -- vela keygen -out-key x.key || return 1
	expect_fail -u "cannot set both" -in-pub -out-key -- \
		vela sign -name x -ip 10.0.0.1/24 -in-pub X -out-key Y || return 1
	expect_fail "flag provided but not defined" -nope -- vela ca -name x -nope || return 1
	expect_fail -u "flag provided but not defined" -nope -- vela -nope || return 1
	assert_no_new_files . || return 1

	run_ok vela -version || return 1
	grep -q '^Version: ' "$OUTF" || fail "-version printed: $(excerpt "$OUTF")" || return 1
	vela -h >"$OUTF" 2>&1 || fail "vela -h exited $?" || return 1
	for m in ca keygen sign print verify; do
		grep -q "^    $m <flags>" "$OUTF" || fail "vela -h does not list mode $m" || return 1
	done
	# -h and -help on each mode: exit 0 and the same flags, help texts and
	# defaults as nebula-cert, verify's -blocklist aside.
	for m in ca keygen sign print verify; do
		nebula "$m" -h 2>&1 | norm_help >"$WORK/.want"
		for h in -h -help; do
			vela "$m" "$h" >"$OUTF" 2>"$ERRF" ||
				fail "vela $m $h exited $?" || return 1
			flags=$(cat "$OUTF" "$ERRF" | grep -o '^  -[a-z-]*' | sort | tr '\n' ' ')
			want=$(grep -o '^  -[a-z-]*' "$WORK/.want" | sort | tr '\n' ' ')
			[[ $m == verify ]] && want="  -blocklist $want"
			[[ $flags == "$want" ]] ||
				fail "vela $m $h lists flags '$flags', want '$want'" || return 1
			cat "$OUTF" "$ERRF" | norm_help | sed '/^  -blocklist /,+1d' >"$WORK/.got"
			cmp -s "$WORK/.got" "$WORK/.want" ||
				fail "vela $m $h differs from nebula-cert's: $(diff "$WORK/.want" "$WORK/.got" | grep '^[<>]' | head -n 4 | tr '\n\t' '  ')" ||
				return 1
		done
		vela -h "$m" >"$OUTF" 2>&1 || fail "vela -h $m exited $?" || return 1
		norm_help <"$OUTF" | sed '/^  -blocklist /,+1d' | cmp -s - "$WORK/.want" ||
			fail "vela -h $m differs from vela $m -h" || return 1
	done
	nebula -h 2>&1 | norm_help >"$WORK/.want"
	vela -h 2>&1 | norm_help | cmp -s - "$WORK/.want" ||
		fail "vela -h differs from nebula-cert -h" || return 1
	assert_no_new_files .
}

test_invalid_arguments() {
	run_ok vela ca -name ca || return 1
	mark .
	expect_fail -u "can only be ipv4" -- vela sign -name x -ip fe80::1/64 || return 1
	expect_fail -u "invalid CIDR address" -- vela sign -name x -ip garbage || return 1
	expect_fail -u "invalid CIDR address" -- vela sign -name x -ip 10.0.0.1 || return 1
	expect_fail -u "invalid CIDR address" -- vela sign -name x -ip 10.0.0.1/33 || return 1
	expect_fail -u "invalid CIDR address" -- vela sign -name x -ip 10.0.0.256/24 || return 1
	expect_fail -u "subnet" "can only be ipv4" -- \
		vela sign -name x -ip 10.0.0.1/24 -subnets 10.1.0.0/16,fd00::/8 || return 1
	expect_fail -u "subnet" "invalid CIDR address" -- \
		vela sign -name x -ip 10.0.0.1/24 -subnets 10.1.0.0 || return 1
	expect_fail -u "can only be ipv4" -- vela ca -name y -out-key y.key -out-crt y.crt -ips ::1/128 || return 1
	expect_fail -u "invalid CIDR address" -- vela ca -name y -out-key y.key -out-crt y.crt -ips nope || return 1
	expect_fail -u "subnet" "invalid CIDR address" -- \
		vela ca -name y -out-key y.key -out-crt y.crt -subnets 1.2.3.4/40 || return 1
	expect_fail -u "-duration must be greater than 0" -- \
		vela ca -name y -out-key y.key -out-crt y.crt -duration 0 || return 1
	expect_fail -u "-duration must be greater than 0" -- \
		vela ca -name y -out-key y.key -out-crt y.crt -duration -1h || return 1
	expect_fail "-duration" "5d" -- vela ca -name y -out-key y.key -out-crt y.crt -duration 5d || return 1
	expect_fail "-duration" "5d" -- vela sign -name x -ip 10.0.0.1/24 -duration 5d || return 1
	expect_fail "-duration" -- vela sign -name x -ip 10.0.0.1/24 -duration 10 || return 1
	assert_no_new_files .
}

# Certificate strings are proto3 strings, which must be UTF-8: nebula-cert
# refuses to make a certificate that is not ("string field contains invalid
# UTF-8"), and both tools refuse to read one. vela-cert must not write one.
test_non_utf8_names() {
	run_ok vela ca -name ca || return 1
	mark .
	expect_fail "UTF-8" -- nebula ca -name $'bad\xffname' -out-crt n.crt -out-key n.key || return 1
	expect_fail "UTF-8" -- vela ca -name $'bad\xffname' -out-crt b.crt -out-key b.key || return 1
	expect_fail "UTF-8" -- vela ca -name y -groups $'g\xc0\x80' -out-crt b.crt -out-key b.key || return 1
	expect_fail "UTF-8" -- vela sign -name $'h\xfe' -ip 10.0.0.1/24 -out-crt b.crt -out-key b.key || return 1
	expect_fail "UTF-8" -- vela sign -name h -groups $'\xed\xa0\x80' -ip 10.0.0.1/24 || return 1
	assert_no_new_files .
}

# nebula-cert takes any number of groups and subnets. vela-cert may have a
# limit, but then the error must say which flag is over it.
test_many_list_items() {
	local groups subnets

	run_ok vela ca -name ca || return 1
	groups=$(printf 'g%s,' {1..300})
	subnets=$(printf '10.%s.0.0/16,' {1..255} {1..45})
	run_ok nebula sign -name n -ip 10.0.0.1/24 -groups "$groups" || return 1
	run_ok vela verify -ca ca.crt -crt n.crt || return 1
	same_print n.crt || return 1
	mark .
	if ! vela sign -name v -ip 10.0.0.2/24 -groups "$groups" >/dev/null 2>"$ERRF"; then
		expect_fail -groups -- vela sign -name v -ip 10.0.0.2/24 -groups "$groups" || return 1
		assert_no_new_files . || return 1
	else
		verify_both ca.crt v.crt || return 1
	fi
	mark .
	if ! vela sign -name w -ip 10.0.0.3/24 -subnets "$subnets" >/dev/null 2>"$ERRF"; then
		expect_fail -subnets -- vela sign -name w -ip 10.0.0.3/24 -subnets "$subnets" || return 1
		assert_no_new_files .
	else
		verify_both ca.crt w.crt
	fi
}

# ---- runner -------------------------------------------------------------------

TESTS=(
	test_vela_ca_sign_nebula_reads
	test_nebula_ca_sign_vela_reads
	test_vela_ca_nebula_sign
	test_nebula_ca_vela_sign
	test_keygen_interop
	test_default_durations
	test_file_modes
	test_appendix_a_vectors
	test_qr_codes
	test_bad_input_files
	test_bad_signature
	test_expired
	test_ca_constraints
	test_blocklist
	test_key_mismatch
	test_existing_outputs
	test_usage
	test_invalid_arguments
	test_non_utf8_names
	test_many_list_items
)

if (($#)); then # run only these (names with or without test_)
	TESTS=("${@/#/test_}")
	TESTS=("${TESTS[@]/#test_test_/test_}")
fi

write_helper
if command -v zbarimg >/dev/null; then
	QR_OK=1
fi
EXP_MADE=0
if ! make_expiry_fixtures >"$WORK/.fixtures" 2>&1; then
	echo "FAIL setup: cannot make the expiry fixtures: $(excerpt "$WORK/.fixtures")"
	exit 1
fi

passed=0 failed=0 skipped=0
for t in "${TESTS[@]}"; do
	name=${t#test_}
	if ! declare -F "$t" >/dev/null; then
		echo "FAIL $name: no such test"
		failed=$((failed + 1))
		continue
	fi
	mkdir "$WORK/$name"
	: >"$REASONF"
	(cd "$WORK/$name" && "$t")
	rc=$?
	if ((rc == 0)); then
		echo "ok $name"
		passed=$((passed + 1))
	elif ((rc == 77)); then
		echo "skip $name: $(cat "$REASONF")"
		skipped=$((skipped + 1))
	else
		reason=$(paste -s -d ';' "$REASONF")
		echo "FAIL $name: ${reason:-returned $rc}"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
