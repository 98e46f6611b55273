/* SPDX-License-Identifier: MIT */
#include "cert_print.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cert.h"

static void print_hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

/* Go's time.Time.String(): "2006-01-02 15:04:05 -0700 MST" for whole seconds. */
static void print_time_text(FILE *out, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[96];

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm)) {
		fprintf(out, "%" PRId64, sec);
		return;
	}
	fputs(buf, out);
}

/* RFC 3339 as Go's time.Time.MarshalJSON writes it: "Z" for a zero offset. */
static void print_time_json(FILE *out, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64];
	long off;

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) {
		fprintf(out, "\"%" PRId64 "\"", sec);
		return;
	}
	off = tm.tm_gmtoff;
	if (off == 0)
		fprintf(out, "\"%sZ\"", buf);
	else
		fprintf(out, "\"%s%c%02ld:%02ld\"", buf, off < 0 ? '-' : '+',
			labs(off) / 3600, labs(off) % 3600 / 60);
}

/*
 * A JSON string as Go's encoding/json writes it: <, > and & escaped for
 * HTML, U+2028/U+2029 escaped for JavaScript, other control bytes as \u00XX.
 * Decoded certificates hold valid UTF-8 only, so nothing else needs care.
 */
static void print_json_string(FILE *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	fputc('"', out);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '<':
		case '>':
		case '&':
			fprintf(out, "\\u%04x", *p);
			break;
		default:
			if (*p < 0x20) {
				fprintf(out, "\\u%04x", *p);
			} else if (p[0] == 0xe2 && p[1] == 0x80 &&
				   (p[2] == 0xa8 || p[2] == 0xa9)) {
				fprintf(out, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
				p += 2;
			} else {
				fputc(*p, out);
			}
		}
	}
	fputc('"', out);
}

static void print_nets_text(FILE *out, const char *what,
			    const struct ctl_ipnet *nets, size_t n)
{
	char buf[CTL_IPNET_STR];

	if (!n) {
		fprintf(out, "\t\t%s: []\n", what);
		return;
	}
	fprintf(out, "\t\t%s: [\n", what);
	for (size_t i = 0; i < n; i++) {
		ctl_ipnet_format(&nets[i], buf, sizeof(buf));
		fprintf(out, "\t\t\t%s\n", buf);
	}
	fputs("\t\t]\n", out);
}

int ctl_cert_print_text(FILE *out, const struct ctl_cert *c)
{
	uint8_t fp[CTL_CERT_FP_LEN];

	if (ctl_cert_fingerprint(c, fp))
		return -ENOMEM;
	fputs("NebulaCertificate {\n\tDetails {\n", out);
	fprintf(out, "\t\tName: %s\n", c->name);
	print_nets_text(out, "Ips", c->ips, c->n_ips);
	print_nets_text(out, "Subnets", c->subnets, c->n_subnets);
	if (c->n_groups) {
		fputs("\t\tGroups: [\n", out);
		for (size_t i = 0; i < c->n_groups; i++)
			fprintf(out, "\t\t\t\"%s\"\n", c->groups[i]);
		fputs("\t\t]\n", out);
	} else {
		fputs("\t\tGroups: []\n", out);
	}
	fputs("\t\tNot before: ", out);
	print_time_text(out, c->not_before);
	fputs("\n\t\tNot After: ", out);
	print_time_text(out, c->not_after);
	fprintf(out, "\n\t\tIs CA: %s\n", c->is_ca ? "true" : "false");
	fputs("\t\tIssuer: ", out);
	print_hex(out, c->issuer, c->issuer_len);
	fputs("\n\t\tPublic key: ", out);
	print_hex(out, c->pubkey, c->pubkey_len);
	fputs("\n\t}\n\tFingerprint: ", out);
	print_hex(out, fp, sizeof(fp));
	fputs("\n\tSignature: ", out);
	print_hex(out, c->sig, c->sig_len);
	fputs("\n}", out);
	return 0;
}

static void print_nets_json(FILE *out, const struct ctl_ipnet *nets, size_t n)
{
	char buf[CTL_IPNET_STR];

	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		ctl_ipnet_format(&nets[i], buf, sizeof(buf));
		fprintf(out, "%s\"%s\"", i ? "," : "", buf);
	}
	fputc(']', out);
}

int ctl_cert_print_json(FILE *out, const struct ctl_cert *c)
{
	uint8_t fp[CTL_CERT_FP_LEN];

	if (ctl_cert_fingerprint(c, fp))
		return -ENOMEM;
	/* Go sorts map keys: the order below is alphabetical on purpose. */
	fputs("{\"details\":{\"groups\":[", out);
	for (size_t i = 0; i < c->n_groups; i++) {
		if (i)
			fputc(',', out);
		print_json_string(out, c->groups[i]);
	}
	fputs("],\"ips\":", out);
	print_nets_json(out, c->ips, c->n_ips);
	fprintf(out, ",\"isCa\":%s,\"issuer\":\"", c->is_ca ? "true" : "false");
	print_hex(out, c->issuer, c->issuer_len);
	fputs("\",\"name\":", out);
	print_json_string(out, c->name);
	fputs(",\"notAfter\":", out);
	print_time_json(out, c->not_after);
	fputs(",\"notBefore\":", out);
	print_time_json(out, c->not_before);
	fputs(",\"publicKey\":\"", out);
	print_hex(out, c->pubkey, c->pubkey_len);
	fputs("\",\"subnets\":", out);
	print_nets_json(out, c->subnets, c->n_subnets);
	fputs("},\"fingerprint\":\"", out);
	print_hex(out, fp, sizeof(fp));
	fputs("\",\"signature\":\"", out);
	print_hex(out, c->sig, c->sig_len);
	fputs("\"}", out);
	return 0;
}
