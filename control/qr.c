/* SPDX-License-Identifier: MIT */
#include "qr.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <zlib.h>

#include "status.h"

/*
 * Byte-mode capacity of the largest symbol (version 40) at level M: 2334 data
 * codewords less the 4-bit mode indicator and 16-bit count. Checked before
 * libqrencode so the message can give the limit; its ERANGE does not.
 */
#define MAX_BYTES 2331

/*
 * PNG allows chunks up to 2^31 - 1 bytes, but readers cope better with
 * modest IDATs (libpng and Go write 8 KiB to 64 KiB ones), and it keeps
 * every length well inside zlib's uInt for crc32().
 */
#define IDAT_MAX 65536

/* Length, type and CRC around every chunk's data. */
#define CHUNK_OVERHEAD 12
#define IHDR_LEN 13

static const uint8_t signature[8] = { 0x89, 'P',  'N',	'G',
				      '\r', '\n', 0x1a, '\n' };

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* Writes one chunk at @p and returns its end; the CRC covers type and data. */
static uint8_t *put_chunk(uint8_t *p, const char *type, const uint8_t *data,
			  size_t len)
{
	uLong crc;

	p = put32(p, (uint32_t)len);
	memcpy(p, type, 4);
	if (len)
		memcpy(p + 4, data, len);
	crc = crc32(0L, p, (uInt)(len + 4));
	return put32(p + 4 + len, (uint32_t)crc);
}

/* Maps libqrencode's errno to ours, with the reason in @st. */
static int qr_error(int err, size_t len, struct vl_status *st)
{
	switch (err) {
	case ERANGE:
		return vl_status_set(
			st, -EMSGSIZE,
			"text is %zu bytes, more than the %d a QR code holds (version 40, level M)",
			len, MAX_BYTES);
	case ENOMEM:
		return vl_status_set(st, -ENOMEM,
				     "out of memory encoding QR code");
	default:
		return vl_status_set(st, -EINVAL, "QR encoding failed: %s",
				     strerror(err));
	}
}

static int encode(const uint8_t *text, size_t len, QRcode **out,
		  struct vl_status *st)
{
	QRinput *in;
	QRcode *code;
	int err;

	if (len > MAX_BYTES)
		return qr_error(ERANGE, len, st);
	errno = 0;
	if (len) {
		code = QRcode_encodeData((int)len, text, 0, QR_ECLEVEL_M);
	} else {
		/*
		 * libqrencode refuses zero-length data, but a symbol with no
		 * segment (terminator and padding only) is valid and reads
		 * back as empty text.
		 */
		in = QRinput_new2(0, QR_ECLEVEL_M);
		if (!in)
			return qr_error(errno, len, st);
		code = QRcode_encodeInput(in);
		err = errno;
		QRinput_free(in);
		errno = err;
	}
	if (!code)
		return qr_error(errno ? errno : EINVAL, len, st);
	*out = code;
	return 0;
}

/*
 * Side of the image in pixels, bytes per scanline (filter byte included) and
 * size of all scanlines, refusing anything that overflows size_t, PNG's
 * 31-bit dimensions or zlib's uLong.
 */
static int geometry(int width, size_t *dim, size_t *row, size_t *raw_len,
		    struct vl_status *st)
{
	size_t modules;

	if (width <= 0 || (size_t)width > SIZE_MAX - 2 * CTL_QR_QUIET)
		goto too_big;
	modules = (size_t)width + 2 * CTL_QR_QUIET;
	if (modules > INT32_MAX / CTL_QR_MODULE_PX)
		goto too_big;
	*dim = modules * CTL_QR_MODULE_PX;
	*row = *dim / 8 + (*dim % 8 != 0) + 1;
	if (*row > SIZE_MAX / *dim)
		goto too_big;
	*raw_len = *row * *dim;
	if ((uLong)*raw_len != *raw_len)
		goto too_big;
	return 0;
too_big:
	return vl_status_set(st, -EINVAL,
			     "QR code of %d modules is too large for an image",
			     width);
}

/*
 * Fills the scanlines: filter type 0 (None), then 1-bit gray pixels, most
 * significant bit first, 0 for a dark module and 1 for light and quiet zone.
 * The unused bits at the end of a row are left at 1.
 */
static void raster(const QRcode *code, uint8_t *raw, size_t row, size_t dim)
{
	size_t w = (size_t)code->width;
	size_t y, x, my, mx;
	uint8_t *line;

	for (y = 0; y < dim; y++) {
		line = raw + y * row;
		line[0] = 0;
		memset(line + 1, 0xff, row - 1);
		my = y / CTL_QR_MODULE_PX;
		if (my < CTL_QR_QUIET || my - CTL_QR_QUIET >= w)
			continue;
		my -= CTL_QR_QUIET;
		for (x = 0; x < dim; x++) {
			mx = x / CTL_QR_MODULE_PX;
			if (mx < CTL_QR_QUIET || mx - CTL_QR_QUIET >= w)
				continue;
			mx -= CTL_QR_QUIET;
			/* Bit 0 of each libqrencode module is 1 for dark. */
			if (code->data[my * w + mx] & 1)
				line[1 + x / 8] &=
					(uint8_t) ~(0x80u >> (x % 8));
		}
	}
}

static void put_ihdr(uint8_t *p, size_t dim)
{
	uint8_t ihdr[IHDR_LEN];

	put32(ihdr, (uint32_t)dim);
	put32(ihdr + 4, (uint32_t)dim);
	ihdr[8] = 1; /* bit depth */
	ihdr[9] = 0; /* colour type: grayscale */
	ihdr[10] = 0; /* compression: deflate */
	ihdr[11] = 0; /* filter method 0 */
	ihdr[12] = 0; /* no interlace */
	put_chunk(p, "IHDR", ihdr, sizeof(ihdr));
}

int ctl_qr_png(const uint8_t *text, size_t len, uint8_t **png, size_t *png_len,
	       struct vl_status *st)
{
	size_t dim = 0, row = 0, raw_len = 0, nidat, out_len, off, n;
	uint8_t *raw, *z, *out, *p;
	QRcode *code = NULL;
	uLongf zlen;
	int err, zerr;

	if (!png || !png_len)
		return vl_status_set(st, -EINVAL, "no place for the QR PNG");
	if (!text && len)
		return vl_status_set(st, -EINVAL, "no text for the QR code");
	*png = NULL;
	*png_len = 0;

	err = encode(text, len, &code, st);
	if (err)
		return err;
	err = geometry(code->width, &dim, &row, &raw_len, st);
	if (err)
		goto free_code;

	raw = malloc(raw_len);
	if (!raw) {
		err = vl_status_set(st, -ENOMEM,
				    "out of memory for a %zux%zu QR image", dim,
				    dim);
		goto free_code;
	}
	raster(code, raw, row, dim);

	zlen = compressBound((uLong)raw_len);
	z = malloc(zlen);
	if (!z) {
		err = vl_status_set(st, -ENOMEM,
				    "out of memory compressing QR image");
		goto free_raw;
	}
	zerr = compress2(z, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION);
	if (zerr != Z_OK) {
		err = vl_status_set(st, zerr == Z_MEM_ERROR ? -ENOMEM : -EINVAL,
				    "compressing QR image: zlib error %d",
				    zerr);
		goto free_z;
	}

	/* zlen is at most compressBound(), far from SIZE_MAX: no overflow. */
	nidat = zlen / IDAT_MAX + (zlen % IDAT_MAX != 0);
	out_len = sizeof(signature) + CHUNK_OVERHEAD + IHDR_LEN +
		  nidat * CHUNK_OVERHEAD + zlen + CHUNK_OVERHEAD;
	out = malloc(out_len);
	if (!out) {
		err = vl_status_set(st, -ENOMEM,
				    "out of memory for a %zu-byte QR PNG",
				    out_len);
		goto free_z;
	}

	memcpy(out, signature, sizeof(signature));
	p = out + sizeof(signature);
	put_ihdr(p, dim);
	p += CHUNK_OVERHEAD + IHDR_LEN;
	for (off = 0; off < zlen; off += n) {
		n = zlen - off < IDAT_MAX ? zlen - off : IDAT_MAX;
		p = put_chunk(p, "IDAT", z + off, n);
	}
	p = put_chunk(p, "IEND", NULL, 0);

	*png = out;
	*png_len = (size_t)(p - out);
	err = 0;
free_z:
	free(z);
free_raw:
	free(raw);
free_code:
	QRcode_free(code);
	return err;
}
