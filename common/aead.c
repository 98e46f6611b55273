/* SPDX-License-Identifier: MIT */
/*
 * Per-message AEAD: AES-256-GCM through Intel IPsec-MB's single-buffer
 * ("direct") GCM API, ChaCha20-Poly1305 IETF through libsodium.
 *
 * IPsec-MB and threads
 *
 * IPsec-MB 1.3 says (ReleaseNotes.txt, "Thread Safety") that an IMB_MGR and
 * the functions called on it are not thread safe: no two threads may call
 * into the same manager at the same time. That is about the job API, whose
 * queues live inside the manager. The direct GCM API used here is different:
 * IMB_AES256_GCM_PRE/ENC/DEC only read a function pointer out of the
 * manager, and the function they reach takes no manager at all. All state
 * of one operation lives in the caller's struct gcm_context_data (on our
 * stack) and the expanded key, which ENC and DEC only read. So one manager,
 * initialised once, serves every thread for this per-message path.
 *
 * The one shared write is IPsec-MB's error word: Debian's build has
 * SAFE_PARAM, and every direct GCM call then stores to the library-global,
 * not thread-local, imb_errno (0 on entry, an error code on a bad argument).
 * Concurrent calls race on that int inside the library; with the arguments
 * passed here it is always 0, the crypto is unaffected, and nothing here
 * reads imb_errno after vl_aead_init(). Do not use imb_get_errno() to judge
 * a direct-API call made while other threads run crypto.
 *
 * The burst path of the dataplane uses the job API and therefore needs one
 * IMB_MGR per worker; it must not borrow the manager kept here.
 */
#include "aead.h"
#include "aead_imb.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <sodium.h>

/*
 * IPsec-MB's header marks struct gcm_key_data aligned(64) only when LINUX
 * is defined, as it is when the library itself is built; meson passes
 * -DLINUX with the dependency so this file sees the library's layout. The
 * checks below hold for either view all the same.
 */
#define GCM_KEY_SIZE_PADDED ((sizeof(struct gcm_key_data) + 63) / 64 * 64)

static_assert(GCM_KEY_SIZE_PADDED <= sizeof(((struct vl_aead_key *)0)->opaque),
	      "vl_aead_key.opaque too small for struct gcm_key_data");
static_assert(offsetof(struct vl_aead_key, opaque) % 64 == 0 &&
		      alignof(struct vl_aead_key) % 64 == 0,
	      "vl_aead_key.opaque must be 64-byte aligned");
static_assert(64 % alignof(struct gcm_key_data) == 0,
	      "struct gcm_key_data needs more than 64-byte alignment");
static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == VL_AEAD_KEY_LEN &&
		      crypto_aead_chacha20poly1305_ietf_NPUBBYTES ==
			      VL_AEAD_NONCE_LEN &&
		      crypto_aead_chacha20poly1305_ietf_ABYTES ==
			      VL_AEAD_TAG_LEN,
	      "libsodium ChaCha20-Poly1305 IETF sizes");

/*
 * The only process-wide mutable state: the IPsec-MB manager, built once by
 * vl_aead_init() and read-only afterwards (see the top of the file). Its
 * CPU detection and self-test cost too much to repeat per key, and a
 * manager per caller would buy nothing on this path. @mgr is written only
 * inside pthread_once(); a thread that holds a key got it after
 * vl_aead_init() returned, through whatever handed it the key.
 */
static struct {
	pthread_once_t once;
	IMB_MGR *mgr;
	int err;
} imb = { .once = PTHREAD_ONCE_INIT };

/* IPsec-MB reports either an errno value or one of its own codes. */
int vl_imb_err_to_errno(int e)
{
	if (e > 0 && e < IMB_ERR_MIN)
		return -e;
	if (e == IMB_ERR_MISSING_CPUFLAGS_INIT_MGR)
		return -ENOTSUP;
	return -EIO;
}

static void setup(void)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	IMB_MGR *mgr;
	int e;

	/* libsodium picks its fastest ChaCha20/Poly1305 code here. */
	if (sodium_init() < 0) {
		imb.err = -EIO;
		return;
	}

	mgr = alloc_mb_mgr(0);
	if (!mgr) {
		e = imb_get_errno(NULL);
		imb.err = e ? vl_imb_err_to_errno(e) : -ENOMEM;
		return;
	}

	/* Picks SSE/AVX/AVX2/AVX512 and runs the library's self-test. */
	init_mb_mgr_auto(mgr, &arch);
	e = imb_get_errno(mgr);
	if (e || arch == IMB_ARCH_NONE) {
		imb.err = e ? vl_imb_err_to_errno(e) : -ENODEV;
		free_mb_mgr(mgr);
		return;
	}

	imb.mgr = mgr;
}

int vl_aead_init(void)
{
	int ret = pthread_once(&imb.once, setup);

	if (ret)
		return -ret;
	return imb.err;
}

const char *vl_cipher_name(enum vl_cipher c)
{
	switch (c) {
	case VL_CIPHER_AES:
		return "aes";
	case VL_CIPHER_CHACHAPOLY:
		return "chachapoly";
	}
	return "unknown";
}

/* opaque is 64-aligned (asserted above); void * keeps -Wcast-align quiet. */
static struct gcm_key_data *gcm_key(struct vl_aead_key *k)
{
	return (void *)k->opaque;
}

static const struct gcm_key_data *gcm_key_ro(const struct vl_aead_key *k)
{
	return (const void *)k->opaque;
}

void vl_aead_key_set(struct vl_aead_key *k, enum vl_cipher c,
		     const uint8_t key[VL_AEAD_KEY_LEN])
{
	/* No trace of a previous key, whatever its cipher was. */
	sodium_memzero(k, sizeof(*k));
	k->cipher = c;

	switch (c) {
	case VL_CIPHER_AES:
		assert(imb.mgr && "vl_aead_init() must succeed first");
		IMB_AES256_GCM_PRE(imb.mgr, key, gcm_key(k));
		break;
	case VL_CIPHER_CHACHAPOLY:
		/* libsodium expands the key per call; keep the raw key. */
		memcpy(k->opaque, key, VL_AEAD_KEY_LEN);
		break;
	}
}

void vl_aead_key_wipe(struct vl_aead_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

void vl_aead_nonce(enum vl_cipher c, uint64_t counter,
		   uint8_t nonce[VL_AEAD_NONCE_LEN])
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++) {
		/* flynn/noise: binary.BigEndian for AESGCM, Little for ChaCha */
		int shift = c == VL_CIPHER_AES ? 56 - 8 * i : 8 * i;

		nonce[4 + i] = (uint8_t)(counter >> shift);
	}
}

static void gcm_seal(const struct vl_aead_key *k, const uint8_t *nonce,
		     const uint8_t *ad, size_t ad_len, const uint8_t *in,
		     size_t len, uint8_t *out)
{
	struct gcm_context_data ctx;

	IMB_AES256_GCM_ENC(imb.mgr, gcm_key_ro(k), &ctx, out, in, len, nonce,
			   ad, ad_len, out + len, VL_AEAD_TAG_LEN);
	/* Holds the IV and counter block; cheap to wipe at this rate. */
	sodium_memzero(&ctx, sizeof(ctx));
}

static bool gcm_open(const struct vl_aead_key *k, const uint8_t *nonce,
		     const uint8_t *ad, size_t ad_len, const uint8_t *in,
		     size_t len, uint8_t *out)
{
	struct gcm_context_data ctx;
	const uint8_t *tag = in + len;
	uint8_t calc[VL_AEAD_TAG_LEN];
	bool ok;
	int i;

	/*
	 * IPsec-MB returns without writing anything when SAFE_PARAM rejects
	 * an argument. Start from a value that cannot match, so such a
	 * return fails closed instead of comparing stale stack bytes.
	 */
	for (i = 0; i < VL_AEAD_TAG_LEN; i++)
		calc[i] = (uint8_t)~tag[i];

	/* in == out is fine: the tag sits after the bytes being replaced. */
	IMB_AES256_GCM_DEC(imb.mgr, gcm_key_ro(k), &ctx, out, in, len, nonce,
			   ad, ad_len, calc, VL_AEAD_TAG_LEN);
	ok = sodium_memcmp(calc, tag, VL_AEAD_TAG_LEN) == 0;
	sodium_memzero(&ctx, sizeof(ctx));
	sodium_memzero(calc, sizeof(calc));
	return ok;
}

static void chacha_seal(const struct vl_aead_key *k, const uint8_t *nonce,
			const uint8_t *ad, size_t ad_len, const uint8_t *in,
			size_t len, uint8_t *out)
{
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, NULL,
							   in, len, ad, ad_len,
							   NULL, nonce,
							   k->opaque);
}

static bool chacha_open(const struct vl_aead_key *k, const uint8_t *nonce,
			const uint8_t *ad, size_t ad_len, const uint8_t *in,
			size_t len, uint8_t *out)
{
	/* libsodium verifies before it decrypts and compares in constant time. */
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		       out, NULL, in, len, in + len, ad, ad_len, nonce,
		       k->opaque) == 0;
}

void vl_aead_seal(const struct vl_aead_key *k,
		  const uint8_t nonce[VL_AEAD_NONCE_LEN], const uint8_t *ad,
		  size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	switch (k->cipher) {
	case VL_CIPHER_AES:
		gcm_seal(k, nonce, ad, ad_len, in, len, out);
		break;
	case VL_CIPHER_CHACHAPOLY:
		chacha_seal(k, nonce, ad, ad_len, in, len, out);
		break;
	}
}

bool vl_aead_open(const struct vl_aead_key *k,
		  const uint8_t nonce[VL_AEAD_NONCE_LEN], const uint8_t *ad,
		  size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	bool ok = false;

	switch (k->cipher) {
	case VL_CIPHER_AES:
		ok = gcm_open(k, nonce, ad, ad_len, in, len, out);
		break;
	case VL_CIPHER_CHACHAPOLY:
		ok = chacha_open(k, nonce, ad, ad_len, in, len, out);
		break;
	}
	/* GCM has already written unverified plaintext; leave none behind. */
	if (!ok && len)
		sodium_memzero(out, len);
	return ok;
}
