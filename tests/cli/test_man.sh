#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The man pages in docs/man: they render without a groff warning, have the
# sections a page needs, and say everything the binaries and the config
# parser know, so that a new flag, mode, command or config key fails here
# until it is documented.
#
#   MANDIR=docs/man CONFIG_C=control/config.c DPCTL=... VELA_CERT=... \
#   VELA=... VELA_CONTROL=... VELA_DATAPLANE=... tests/cli/test_man.sh
#
# What is checked against what:
#   every page         groff -man -ww renders it with nothing on stderr;
#                      .TH name and section match the file name; NAME,
#                      SYNOPSIS (not in section 5), DESCRIPTION, SEE ALSO;
#                      every reference to one of our pages, page(N), exists
#   dpctl.8            every command and flag `dpctl -h` lists begins a line
#                      of COMMANDS, or of OPTIONS
#   vela-cert.8        every global flag of `vela-cert -h` begins a line of
#                      OPTIONS; every mode has a subsection of COMMANDS in
#                      which every flag of `vela-cert MODE -h` begins a line
#   vela.8             every flag of vela, vela-control and vela-dataplane
#                      -h begins a line of OPTIONS
#   vela-config.5      every key control/config.c reads (the dotted string
#                      literals, the keys given to its getters, the sections
#                      of check_sections, the fields of rules and routes)
#                      appears in the text
#
# The text is rendered with a very long line and without hyphenation, so a
# word is never split. Exits 77 (skipped) without groff (Debian package
# groff-base).
set -euo pipefail

: "${MANDIR:?docs/man of the source tree}" "${CONFIG_C:?control/config.c}"
: "${DPCTL:?the dpctl binary}" "${VELA_CERT:?the vela-cert binary}"
: "${VELA:?the vela binary}" "${VELA_CONTROL:?the vela-control binary}"
: "${VELA_DATAPLANE:?the vela-dataplane binary}"
command -v groff >/dev/null || { echo "skip: no groff (Debian package groff-base)"; exit 77; }
export LC_ALL=C

PAGES=(vela.8 vela-cert.8 dpctl.8 vela-config.5)
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# The page as plain text: no overstriking, one paragraph a line as far as
# 300 columns go, no hyphenation (an-old.tmac's HY register).
render() {
	groff -man -Tutf8 -rLL=300n -rHY=0 -P-cbou "$MANDIR/$1" 2>/dev/null
}

# The lines of section $2 (a heading in column 0) of rendered text $1.
section() {
	awk -v h="$2" '
		/^[A-Z][A-Z0-9 ,]*$/ { on = ($0 == h); next }
		on' <<<"$1"
}

# The lines of subsection $2 of rendered text $1: after a heading indented
# less than the body (7 columns), up to the next such line.
subsection() {
	awk -v h="$2" '
		{ match($0, /^ */) }
		RLENGTH < 7 && length($0) > RLENGTH {
			on = (substr($0, RLENGTH + 1) == h); next
		}
		on' <<<"$1"
}

# Whether flag $2 (with its dash; letters, digits and dashes) begins a line
# of $1, alone or as in "-h, -help" or "-out-key file".
begins_line() {
	grep -Eq -- "^ +(-[^ ,]+, )*$2([ ,=]|\$)" <<<"$1"
}

# Flag names (without the dash) in Go's PrintDefaults format: "  -name ...".
go_flags() {
	grep -Eo '^  -[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^  -//' | sort -u
}

# ---- 1, 2: every page renders cleanly and has its sections ----------------

declare -A TEXT
for page in "${PAGES[@]}"; do
	file=$MANDIR/$page
	if [[ ! -f $file ]]; then
		fail "$page: missing"
		continue
	fi
	warnings=$(groff -man -Tutf8 -ww -z "$file" 2>&1 >/dev/null) || true
	if [[ -n $warnings ]]; then
		fail "$page: groff warnings:"
		while IFS= read -r w; do echo "    $w"; done <<<"$warnings" >&2
	fi

	name=${page%.*}
	sect=${page##*.}
	read -r _ th_name th_sect _ < <(grep -m1 '^\.TH ' "$file") || true
	th_name=${th_name//\"/}
	th_sect=${th_sect//\"/}
	if [[ ${th_name,,} != "${name,,}" || $th_sect != "$sect" ]]; then
		fail "$page: .TH says ${th_name:-nothing} ${th_sect:-}, want ${name^^} $sect"
	fi

	TEXT[$page]=$(render "$page")
	want=(NAME DESCRIPTION "SEE ALSO")
	[[ $sect == 5 ]] || want+=(SYNOPSIS)
	for h in "${want[@]}"; do
		grep -qx -- "$h" <<<"${TEXT[$page]}" || fail "$page: no $h section"
	done
	if ! section "${TEXT[$page]}" NAME | grep -Eq "^ +${name}[ ,]"; then
		fail "$page: NAME does not begin with $name"
	fi
	# References to our own pages must name a page that exists.
	while read -r ref; do
		[[ -f $MANDIR/${ref%(*}.${ref//[^0-9]/} ]] || fail "$page: refers to $ref, which does not exist"
	done < <(grep -Eo '(^|[^A-Za-z0-9_.-])(vela|vela-[a-z]+|dpctl)\([0-9]\)' <<<"${TEXT[$page]}" |
		 sed 's/^[^a-z]//' | sort -u)
done

# ---- 3: the binaries' commands, modes and flags are documented ----------------

# dpctl: the commands are the usage lines' first word after the bracketed
# flags; the flags are PrintDefaults' and the brackets'.
usage=$("$DPCTL" -h 2>&1) || fail "dpctl -h: exit status $?"
cmds=$(grep -E '^ +dpctl ' <<<"$usage" | sed -E 's/^ +dpctl +//; s/\[[^]]*\] *//g' |
       awk '{ print $1 }' | sort -u)
flags=$( { go_flags <<<"$usage"; grep -Eo '\[-[A-Za-z0-9][A-Za-z0-9-]*' <<<"$usage" | sed 's/^\[-//'; } | sort -u)
[[ $(wc -w <<<"$cmds") -ge 5 ]] || fail "dpctl -h: could not find the commands in: $usage"
[[ $(wc -w <<<"$flags") -ge 5 ]] || fail "dpctl -h: could not find the flags in: $usage"
if [[ -n ${TEXT[dpctl.8]:-} ]]; then
	commands=$(section "${TEXT[dpctl.8]}" COMMANDS)
	options=$(section "${TEXT[dpctl.8]}" OPTIONS)
	for c in $cmds; do
		grep -Eq "^ +$c( |\$)" <<<"$commands" || fail "dpctl.8: command $c is not in COMMANDS"
	done
	for f in $flags; do
		begins_line "$options" "-$f" || fail "dpctl.8: flag -$f is not in OPTIONS"
	done
fi

# vela-cert: "    MODE <flags>: ..." under Modes, "    -a, -b: ..." under
# Global flags; then each mode's own -h.
usage=$("$VELA_CERT" -h 2>&1) || fail "vela-cert -h: exit status $?"
modes=$(sed -nE 's/^ +([a-z][a-z0-9-]*) <flags>:.*/\1/p' <<<"$usage" | sort -u)
globals=$(awk '/^ *Global flags:/ { on = 1; next } /^ *Modes:/ { on = 0 } on' <<<"$usage" |
	  sed -nE 's/^ +(-[^:]+):.*/\1/p' | tr ',' '\n' | sed 's/^ *-//' | sort -u)
[[ $(wc -w <<<"$modes") -ge 4 ]] || fail "vela-cert -h: could not find the modes in: $usage"
[[ $(wc -w <<<"$globals") -ge 2 ]] || fail "vela-cert -h: could not find the global flags in: $usage"
if [[ -n ${TEXT[vela-cert.8]:-} ]]; then
	commands=$(section "${TEXT[vela-cert.8]}" COMMANDS)
	options=$(section "${TEXT[vela-cert.8]}" OPTIONS)
	for f in $globals; do
		begins_line "$options" "-$f" || fail "vela-cert.8: global flag -$f is not in OPTIONS"
	done
	for m in $modes; do
		mode_usage=$("$VELA_CERT" "$m" -h 2>&1) || fail "vela-cert $m -h: exit status $?"
		mode_flags=$(go_flags <<<"$mode_usage")
		[[ -n $mode_flags ]] || fail "vela-cert $m -h: could not find the flags in: $mode_usage"
		sub=$(subsection "$commands" "$m")
		if [[ -z $sub ]]; then
			fail "vela-cert.8: mode $m has no subsection in COMMANDS"
			continue
		fi
		for f in $mode_flags; do
			begins_line "$sub" "-$f" || fail "vela-cert.8: flag -$f of $m is not in its subsection"
		done
	done
fi

# vela, vela-control and vela-dataplane: PrintDefaults after -h.
if [[ -n ${TEXT[vela.8]:-} ]]; then
	options=$(section "${TEXT[vela.8]}" OPTIONS)
	for bin in "$VELA" "$VELA_CONTROL" "$VELA_DATAPLANE"; do
		usage=$("$bin" -h 2>&1) || fail "$(basename "$bin") -h: exit status $?"
		bin_flags=$(go_flags <<<"$usage")
		[[ -n $bin_flags ]] || fail "$(basename "$bin") -h: could not find the flags in: $usage"
		for f in $bin_flags; do
			begins_line "$options" "-$f" || fail "vela.8: flag -$f of $(basename "$bin") is not in OPTIONS"
		done
	done
fi

# ---- 4: every config key config.c reads is in vela-config(5) -------------------

keys=$( {
	# "section.key" literals (not the #include names).
	grep -Eo '"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+"' "$CONFIG_C" | tr -d '"' | grep -Ev '\.(h|c)$'
	# Keys given to the getters, top-level ones included.
	grep -Eo '\b(get_[a-z_]+|find|parse_routes|parse_rules|ctl_yaml_get)\((p|p->root), "[a-z0-9_.]+"' "$CONFIG_C" |
		sed -E 's/.*"([^"]+)"$/\1/'
	# The sections check_sections knows.
	awk '/^static int check_sections/ { on = 1 } on && /};/ { exit } on' "$CONFIG_C" |
		grep -Eo '"[a-z0-9_.]+"' | tr -d '"'
	# The fields of a firewall rule or a route.
	grep -Eo '(ctl_yaml_map_get\([a-z]+|rule_string\(p, [a-z]+, [a-z]+), "[a-z0-9_]+"' "$CONFIG_C" |
		sed -E 's/.*"([^"]+)"$/\1/'
} | sort -u)
[[ $(wc -w <<<"$keys") -ge 50 ]] || fail "$CONFIG_C: found only $(wc -w <<<"$keys") config keys"
if [[ -n ${TEXT[vela-config.5]:-} ]]; then
	missing=()
	for k in $keys; do
		re=${k//./\\.}
		grep -Eq "(^|[^A-Za-z0-9_.])$re(\$|[^A-Za-z0-9_])" <<<"${TEXT[vela-config.5]}" ||
			missing+=("$k")
	done
	if ((${#missing[@]})); then
		fail "vela-config.5: config keys of $(basename "$CONFIG_C") not documented: ${missing[*]}"
	fi
fi

if ((failures)); then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "man pages: ${PAGES[*]} render cleanly and document $(wc -w <<<"$cmds") dpctl commands, $(wc -w <<<"$modes") vela-cert modes and $(wc -w <<<"$keys") config keys"
