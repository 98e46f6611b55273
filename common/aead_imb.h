/* SPDX-License-Identifier: MIT */
#ifndef VL_AEAD_IMB_H
#define VL_AEAD_IMB_H

/* What aead.c and aead_burst.c share about IPsec-MB; not a public API. */

/* IPsec-MB reports either an errno value or one of its own codes: -errno. */
int vl_imb_err_to_errno(int e);

#endif /* VL_AEAD_IMB_H */
