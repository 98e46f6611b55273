/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qrencode.h>
#include <zlib.h>

#include "qr.h"
#include "status.h"

/* nebula-cert's geometry, restated so the test does not trust the header. */
#define PX 5
#define QUIET 4

/* A certificate as nebula-cert ca writes it, the usual -out-qr payload. */
static const char pem[] =
	"-----BEGIN NEBULA CERTIFICATE-----\n"
	"CkAKDnZlbGEgdGVzdCBjYSAxKJHX0LAGMJG+1b8GOiDHuZ2dB7jXUzvE1bSqLmyL\n"
	"+Uyd0sYu0g0B0xgNxM1qqEABEkDnv1S9AVmYqKcMhN0dHxR0YVOOTNhSPYjJzP1x\n"
	"o3WmGxkxJ8LbQiP1XtQqyDJc2yJdE9JZyUVAVEmCtlzOQ0lBJF7s0A8LwYQ+JK5W\n"
	"mFfB7Sd+0ikLDQ==\n"
	"-----END NEBULA CERTIFICATE-----\n";

static const uint8_t png_sig[8] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
};

/* A decoded PNG: one byte per pixel, 0 black and 255 white. */
struct img {
	uint32_t w, h;
	uint8_t *px;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint8_t paeth(uint8_t a, uint8_t b, uint8_t c)
{
	int p = a + b - c;
	int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/* Reverses any of the five PNG filters in place, bpp 1 (gray, depth <= 8). */
static void unfilter(uint8_t *raw, size_t row, uint32_t h)
{
	uint8_t *line, *prev = NULL;
	size_t i;
	uint8_t a, b, c;
	uint32_t y;

	for (y = 0; y < h; y++) {
		line = raw + y * (row + 1);
		assert_in_range(line[0], 0, 4);
		for (i = 1; i <= row; i++) {
			a = i > 1 ? line[i - 1] : 0;
			b = prev ? prev[i] : 0;
			c = prev && i > 1 ? prev[i - 1] : 0;
			switch (line[0]) {
			case 1:
				line[i] += a;
				break;
			case 2:
				line[i] += b;
				break;
			case 3:
				line[i] += (uint8_t)((a + b) / 2);
				break;
			case 4:
				line[i] += paeth(a, b, c);
				break;
			}
		}
		prev = line;
	}
}

/*
 * Parses @png as a reader would: signature, IHDR first, every CRC, IDATs
 * concatenated and inflated to exactly the expected size, IEND last.
 */
static void parse_png(const uint8_t *png, size_t len, struct img *im)
{
	uint8_t *idat = NULL, *raw;
	size_t idat_len = 0, off, row, raw_len, x;
	uint32_t clen, y;
	const uint8_t *type, *data, *line;
	uint8_t depth = 0, ctype = 0;
	bool ihdr = false, iend = false;
	uLongf got;

	assert_true(len >= sizeof(png_sig));
	assert_memory_equal(png, png_sig, sizeof(png_sig));
	for (off = sizeof(png_sig); off < len; off += 12 + clen) {
		assert_false(iend);
		assert_true(len - off >= 12);
		clen = get32(png + off);
		assert_true(clen <= len - off - 12);
		type = png + off + 4;
		data = type + 4;
		assert_int_equal(crc32(0L, type, clen + 4), get32(data + clen));
		if (off == sizeof(png_sig))
			assert_memory_equal(type, "IHDR", 4);
		if (!memcmp(type, "IHDR", 4)) {
			assert_false(ihdr);
			assert_int_equal(clen, 13);
			ihdr = true;
			im->w = get32(data);
			im->h = get32(data + 4);
			depth = data[8];
			ctype = data[9];
			assert_int_equal(data[10], 0);
			assert_int_equal(data[11], 0);
			assert_int_equal(data[12], 0);
		} else if (!memcmp(type, "IDAT", 4)) {
			idat = realloc(idat, idat_len + clen);
			assert_non_null(idat);
			memcpy(idat + idat_len, data, clen);
			idat_len += clen;
		} else if (!memcmp(type, "IEND", 4)) {
			assert_int_equal(clen, 0);
			iend = true;
		}
	}
	assert_true(iend);
	assert_true(idat_len > 0);
	assert_int_equal(ctype, 0);
	assert_true(depth == 1 || depth == 8);
	assert_true(im->w > 0 && im->w < 100000);
	assert_true(im->h > 0 && im->h < 100000);

	row = ((size_t)im->w * depth + 7) / 8;
	raw_len = (row + 1) * im->h;
	raw = malloc(raw_len);
	assert_non_null(raw);
	got = raw_len;
	assert_int_equal(uncompress(raw, &got, idat, idat_len), Z_OK);
	assert_int_equal(got, raw_len);
	free(idat);
	unfilter(raw, row, im->h);

	im->px = malloc((size_t)im->w * im->h);
	assert_non_null(im->px);
	for (y = 0; y < im->h; y++) {
		line = raw + (size_t)y * (row + 1) + 1;
		for (x = 0; x < im->w; x++) {
			if (depth == 8)
				im->px[y * im->w + x] = line[x];
			else
				im->px[y * im->w + x] =
					line[x / 8] & (0x80 >> (x % 8)) ? 255 :
									  0;
		}
	}
	free(raw);
}

/* Every pixel is black where @code has a dark module, white elsewhere. */
static void check_matrix(const struct img *im, const QRcode *code)
{
	uint32_t side = (uint32_t)(code->width + 2 * QUIET) * PX;
	uint32_t x, y;
	int mx, my;
	uint8_t want;

	assert_int_equal(im->w, side);
	assert_int_equal(im->h, side);
	for (y = 0; y < im->h; y++) {
		for (x = 0; x < im->w; x++) {
			mx = (int)(x / PX) - QUIET;
			my = (int)(y / PX) - QUIET;
			want = 255;
			if (mx >= 0 && mx < code->width && my >= 0 &&
			    my < code->width &&
			    code->data[my * code->width + mx] & 1)
				want = 0;
			if (im->px[y * im->w + x] != want)
				fail_msg(
					"pixel (%u,%u) is %u, module (%d,%d) wants %u",
					x, y, im->px[y * im->w + x], mx, my,
					want);
		}
	}
}

/* Encodes @text with ctl_qr_png and compares it to libqrencode's matrix. */
static void check_text(const uint8_t *text, size_t len, int want_version)
{
	struct vl_status st = { { 0 } };
	struct img im = { 0 };
	uint8_t *png = NULL;
	size_t png_len = 0;
	QRcode *code;

	assert_int_equal(ctl_qr_png(text, len, &png, &png_len, &st), 0);
	assert_non_null(png);
	parse_png(png, png_len, &im);

	code = QRcode_encodeData((int)len, text, 0, QR_ECLEVEL_M);
	assert_non_null(code);
	if (want_version)
		assert_int_equal(code->version, want_version);
	check_matrix(&im, code);

	QRcode_free(code);
	free(im.px);
	free(png);
}

static void test_qr_geometry_matches_nebula_cert(void **state)
{
	(void)state;
	assert_int_equal(CTL_QR_MODULE_PX, PX);
	assert_int_equal(CTL_QR_QUIET, QUIET);
}

static void test_qr_pem_matches_matrix(void **state)
{
	(void)state;
	assert_in_range(sizeof(pem) - 1, 250, 350);
	check_text((const uint8_t *)pem, sizeof(pem) - 1, 0);
}

/* Binary-safe: a NUL in the middle must not end the data. */
static void test_qr_binary_text(void **state)
{
	static const uint8_t text[] = { 'a', 0, 'b', 0xff, 0x80, '\n', 0 };

	(void)state;
	check_text(text, sizeof(text), 1);
}

static void test_qr_one_byte(void **state)
{
	(void)state;
	check_text((const uint8_t *)"A", 1, 1);
}

/* libqrencode refuses empty data; the module gives a version 1 symbol. */
static void test_qr_empty_text(void **state)
{
	struct vl_status st = { { 0 } };
	struct img im = { 0 };
	uint8_t *png = NULL;
	size_t png_len = 0;
	QRinput *in;
	QRcode *code;

	(void)state;
	assert_int_equal(ctl_qr_png(NULL, 0, &png, &png_len, &st), 0);
	parse_png(png, png_len, &im);
	assert_int_equal(im.w, (21 + 2 * QUIET) * PX);

	in = QRinput_new2(0, QR_ECLEVEL_M);
	assert_non_null(in);
	code = QRcode_encodeInput(in);
	assert_non_null(code);
	assert_int_equal(code->version, 1);
	check_matrix(&im, code);

	QRcode_free(code);
	QRinput_free(in);
	free(im.px);
	free(png);
}

/* 2331 bytes is the most version 40 holds at level M; it must still work. */
static void test_qr_largest_text(void **state)
{
	uint8_t *text = malloc(2331);

	(void)state;
	assert_non_null(text);
	memset(text, 'x', 2331);
	check_text(text, 2331, 40);
	free(text);
}

static void check_too_long(size_t len)
{
	struct vl_status st = { { 0 } };
	uint8_t *text = calloc(1, len);
	uint8_t *png = (uint8_t *)&st;
	size_t png_len = 7;
	char num[32];

	assert_non_null(text);
	memset(text, '-', len);
	assert_int_equal(ctl_qr_png(text, len, &png, &png_len, &st), -EMSGSIZE);
	assert_null(png);
	assert_int_equal(png_len, 0);
	snprintf(num, sizeof(num), "%zu", len);
	assert_non_null(strstr(st.msg, num));
	assert_non_null(strstr(st.msg, "2331"));
	free(text);
}

static void test_qr_too_long(void **state)
{
	(void)state;
	check_too_long(4000);
	check_too_long(2332);
}

static void test_qr_invalid_args(void **state)
{
	struct vl_status st = { { 0 } };
	uint8_t *png = NULL;
	size_t png_len = 0;

	(void)state;
	assert_int_equal(ctl_qr_png((const uint8_t *)"a", 1, NULL, &png_len,
				    &st),
			 -EINVAL);
	assert_true(st.msg[0] != '\0');
	st.msg[0] = '\0';
	assert_int_equal(ctl_qr_png(NULL, 5, &png, &png_len, &st), -EINVAL);
	assert_true(st.msg[0] != '\0');
	assert_null(png);
	/* No status struct is fine too. */
	assert_int_equal(ctl_qr_png(NULL, 5, &png, &png_len, NULL), -EINVAL);
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];
	const char *end;
	size_t n;

	while (path && *path) {
		end = strchr(path, ':');
		n = end ? (size_t)(end - path) : strlen(path);
		if (n &&
		    snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) <
			    (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		path = end ? end + 1 : NULL;
	}
	return false;
}

/* Has zbarimg read the PNG of @text back; it ends the output with a newline. */
static void check_zbarimg(const uint8_t *text, size_t len)
{
	struct vl_status st = { { 0 } };
	char file[] = "/tmp/test_qr_XXXXXX.png";
	char cmd[128], out[4096];
	uint8_t *png = NULL;
	size_t png_len = 0, got = 0, n;
	FILE *f;
	int fd, status;

	assert_int_equal(ctl_qr_png(text, len, &png, &png_len, &st), 0);
	fd = mkstemps(file, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, png, png_len), (ssize_t)png_len);
	assert_int_equal(close(fd), 0);

	snprintf(cmd, sizeof(cmd), "zbarimg --raw -q %s 2>/dev/null", file);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = fread(out + got, 1, sizeof(out) - got, f)) > 0)
		got += n;
	status = pclose(f);
	unlink(file);
	free(png);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (got == len + 1 && out[len] == '\n')
		got--;
	assert_int_equal(got, len);
	assert_memory_equal(out, text, len);
}

static void test_qr_zbarimg_reads_back(void **state)
{
	static const char bundle[] =
		"-----BEGIN NEBULA CERTIFICATE-----\n"
		"CmgKBGhvc3QSCoKAkFCA/v//DyiR19CwBjCRvtW/BjogOB3eLsJJtDeyD+9Io8qp\n"
		"SkaD4wQxyWsZX/AGWpu4+5pKIMj+rT6MPcmHbxMhU9XG1nWH1Ovpbz0xQ9Wm3/PJ\n"
		"hrIhEkDjk/Ja9VYJ9Fdy0QbzYR+VMK1zR96Uiet9vqPuc56pNdhwKwb6AZnl2PIR\n"
		"0sD3tE4bZ9RkdP9hPXR8D1+m4AMF\n"
		"-----END NEBULA CERTIFICATE-----\n";
	char both[sizeof(pem) + sizeof(bundle)];

	(void)state;
	if (!in_path("zbarimg"))
		skip();
	check_zbarimg((const uint8_t *)pem, sizeof(pem) - 1);
	check_zbarimg((const uint8_t *)"A", 1);
	snprintf(both, sizeof(both), "%s%s", pem, bundle);
	check_zbarimg((const uint8_t *)both, strlen(both));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qr_geometry_matches_nebula_cert),
		cmocka_unit_test(test_qr_pem_matches_matrix),
		cmocka_unit_test(test_qr_binary_text),
		cmocka_unit_test(test_qr_one_byte),
		cmocka_unit_test(test_qr_empty_text),
		cmocka_unit_test(test_qr_largest_text),
		cmocka_unit_test(test_qr_too_long),
		cmocka_unit_test(test_qr_invalid_args),
		cmocka_unit_test(test_qr_zbarimg_reads_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
