/* SPDX-License-Identifier: MIT */
#include "pem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "status.h"

/*
 * Reading follows Go's encoding/pem, the reader nebula uses, with one
 * deliberate difference: Go silently skips a block that starts with a BEGIN
 * line but is broken (no END line, bad base64) and returns the next good
 * one. We report the broken block instead, since skipping it would, for
 * example, drop a CA from a bundle without a word.
 */

static const char begin_mark[] = "-----BEGIN ";
static const char end_mark[] = "-----END ";
static const char dashes[] = "-----";

#define MARK_LEN(m) (sizeof(m) - 1)

struct span {
	const uint8_t *p;
	size_t len;
};

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

int ctl_pem_is_blank(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_space(in[i]))
			return 0;
	return 1;
}

/*
 * Splits off the first line of @s: the line without its "\n" and with
 * trailing spaces, tabs and "\r" removed (as Go's getLine does); @s becomes
 * what follows the newline.
 */
static struct span get_line(struct span *s)
{
	const uint8_t *nl = memchr(s->p, '\n', s->len);
	struct span line = { s->p, nl ? (size_t)(nl - s->p) : s->len };

	if (nl) {
		s->len -= line.len + 1;
		s->p = nl + 1;
	} else {
		s->p += s->len;
		s->len = 0;
	}
	while (line.len && (line.p[line.len - 1] == ' ' ||
			    line.p[line.len - 1] == '\t' ||
			    line.p[line.len - 1] == '\r'))
		line.len--;
	return line;
}

/* Offset of the first BEGIN mark that starts a line, or -1. */
static ptrdiff_t find_begin(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i + MARK_LEN(begin_mark) <= len; i++) {
		if ((i == 0 || in[i - 1] == '\n') &&
		    memcmp(in + i, begin_mark, MARK_LEN(begin_mark)) == 0)
			return (ptrdiff_t)i;
	}
	return -1;
}

/* Offset in @s of the first END mark that starts a line, or -1. */
static ptrdiff_t find_end(struct span s)
{
	for (size_t i = 0; i + MARK_LEN(end_mark) <= s.len; i++) {
		if ((i == 0 || s.p[i - 1] == '\n') &&
		    memcmp(s.p + i, end_mark, MARK_LEN(end_mark)) == 0)
			return (ptrdiff_t)i;
	}
	return -1;
}

static int decode_body(struct span body, struct ctl_pem_block *blk,
		       struct vl_status *st)
{
	/* Base64 holds 3 bytes per 4 characters; whitespace only adds. */
	size_t cap = body.len / 4 * 3 + 3;
	const char *end = NULL;

	blk->data = malloc(cap ? cap : 1);
	if (!blk->data)
		return vl_status_set(st, -ENOMEM, "out of memory");
	if (sodium_base642bin(blk->data, cap, (const char *)body.p, body.len,
			      " \t\r\n", &blk->len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != (const char *)body.p + body.len) {
		free(blk->data);
		blk->data = NULL;
		blk->len = 0;
		return vl_status_set(st, -EINVAL,
				     "PEM block \"%s\": body is not valid base64",
				     blk->banner);
	}
	return 0;
}

int ctl_pem_decode(const uint8_t *in, size_t len, struct ctl_pem_block *blk,
		   size_t *consumed, struct vl_status *st)
{
	struct span rest, type, trailer, line;
	ptrdiff_t at, end;
	int err;

	memset(blk, 0, sizeof(*blk));
	*consumed = len;

	at = find_begin(in, len);
	if (at < 0)
		return vl_status_set(st, -ENOENT, "no PEM block found");
	rest = (struct span){ in + at + MARK_LEN(begin_mark),
			      len - (size_t)at - MARK_LEN(begin_mark) };

	type = get_line(&rest);
	if (type.len < MARK_LEN(dashes) ||
	    memcmp(type.p + type.len - MARK_LEN(dashes), dashes,
		   MARK_LEN(dashes)) != 0)
		return vl_status_set(st, -EINVAL,
				     "PEM BEGIN line does not end with \"-----\"");
	type.len -= MARK_LEN(dashes);
	if (type.len >= sizeof(blk->banner) || memchr(type.p, '\0', type.len))
		return vl_status_set(st, -EINVAL, "PEM banner is not valid");
	memcpy(blk->banner, type.p, type.len);
	blk->banner[type.len] = '\0';

	/* "Key: value" header lines; base64 never contains a colon. */
	for (;;) {
		struct span next = rest;

		if (!rest.len)
			return vl_status_set(st, -EINVAL,
					     "PEM block \"%s\" is truncated: no END line",
					     blk->banner);
		line = get_line(&next);
		if (!memchr(line.p, ':', line.len))
			break;
		rest = next;
	}

	end = find_end(rest);
	if (end < 0)
		return vl_status_set(st, -EINVAL,
				     "PEM block \"%s\" is truncated: no END line",
				     blk->banner);
	trailer = (struct span){ rest.p + end + MARK_LEN(end_mark),
				 rest.len - (size_t)end - MARK_LEN(end_mark) };
	if (trailer.len < type.len + MARK_LEN(dashes) ||
	    memcmp(trailer.p, type.p, type.len) != 0 ||
	    memcmp(trailer.p + type.len, dashes, MARK_LEN(dashes)) != 0)
		return vl_status_set(st, -EINVAL,
				     "PEM block \"%s\": END line does not match its BEGIN line",
				     blk->banner);
	trailer.p += type.len + MARK_LEN(dashes);
	trailer.len -= type.len + MARK_LEN(dashes);
	line = get_line(&trailer);
	if (line.len)
		return vl_status_set(st, -EINVAL,
				     "PEM block \"%s\": text after the END line",
				     blk->banner);

	err = decode_body((struct span){ rest.p, (size_t)end }, blk, st);
	if (err)
		return err;
	*consumed = (size_t)(trailer.p - in);
	return 0;
}

int ctl_pem_decode_expect(const uint8_t *in, size_t len, const char *banner,
			  size_t want_len, struct ctl_pem_block *blk,
			  size_t *consumed, struct vl_status *st)
{
	int err = ctl_pem_decode(in, len, blk, consumed, st);

	if (err)
		return err;
	if (strcmp(blk->banner, banner) != 0) {
		err = vl_status_set(st, -EINVAL,
				    "PEM banner is \"%s\", expected \"%s\"",
				    blk->banner, banner);
		goto free_blk;
	}
	if (want_len && blk->len != want_len) {
		err = vl_status_set(st, -EINVAL,
				    "%s is %zu bytes, expected %zu", banner,
				    blk->len, want_len);
		goto free_blk;
	}
	return 0;

free_blk:
	ctl_pem_block_free(blk);
	return err;
}

void ctl_pem_block_free(struct ctl_pem_block *blk)
{
	if (blk->data) {
		/* Key files pass through here: leave no copy behind. */
		sodium_memzero(blk->data, blk->len);
		free(blk->data);
	}
	blk->data = NULL;
	blk->len = 0;
}

char *ctl_pem_encode(const char *banner, const uint8_t *data, size_t len,
		     size_t *out_len)
{
	size_t b64_len = sodium_base64_ENCODED_LEN(len,
						   sodium_base64_VARIANT_ORIGINAL);
	size_t banner_len = strlen(banner);
	size_t cap, n = 0;
	char *b64, *out;

	b64 = malloc(b64_len);
	if (!b64)
		return NULL;
	sodium_bin2base64(b64, b64_len, data, len,
			  sodium_base64_VARIANT_ORIGINAL);
	b64_len = strlen(b64);

	/* Two marker lines, the body and one newline per 64 columns. */
	cap = 2 * (MARK_LEN(begin_mark) + banner_len + MARK_LEN(dashes) + 2) +
	      b64_len + b64_len / 64 + 2;
	out = malloc(cap);
	if (!out)
		goto free_b64;

	n += (size_t)sprintf(out + n, "%s%s%s\n", begin_mark, banner, dashes);
	for (size_t i = 0; i < b64_len; i += 64) {
		size_t w = b64_len - i < 64 ? b64_len - i : 64;

		memcpy(out + n, b64 + i, w);
		n += w;
		out[n++] = '\n';
	}
	n += (size_t)sprintf(out + n, "%s%s%s\n", end_mark, banner, dashes);
	if (out_len)
		*out_len = n;
free_b64:
	free(b64);
	return out;
}
