/* SPDX-License-Identifier: MIT */
#ifndef CTL_QR_H
#define CTL_QR_H

/*
 * The -out-qr image of vela-cert, as nebula-cert 1.6.1 draws it with
 * skip2/go-qrcode: qrcode.Encode(pemText, qrcode.Medium, -5), i.e. level M,
 * byte mode, 5x5 pixels per module, a 4-module white quiet zone, black
 * modules on white.
 */

#include <stddef.h>
#include <stdint.h>

struct vl_status;

#define CTL_QR_MODULE_PX 5 /* pixels per module, as nebula-cert's -5 */
#define CTL_QR_QUIET 4 /* quiet-zone modules on each side */

/*
 * Encodes text[0..len) (byte mode, level M, smallest version that fits) as a
 * PNG image. Returns 0 with a malloc'd PNG in *png / *png_len, or -EMSGSIZE
 * when the text is too long for any QR version (say how long and the limit in
 * @st), -ENOMEM, -EINVAL (reason in @st).
 */
int ctl_qr_png(const uint8_t *text, size_t len, uint8_t **png, size_t *png_len,
	       struct vl_status *st);

#endif /* CTL_QR_H */
