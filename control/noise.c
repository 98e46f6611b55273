/* SPDX-License-Identifier: MIT */
#include "noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"
#include "status.h"

/*
 * How Nebula 1.6.1 uses Noise
 *
 * Nebula runs flynn/noise 1.0.0 with pattern IX, DH 25519, hash SHA256 and
 * the cipher from the `cipher` setting, so the protocol name is
 * "Noise_IX_25519_AESGCM_SHA256" (28 bytes, zero-padded to HASHLEN) or
 * "Noise_IX_25519_ChaChaPoly_SHA256" (exactly 32 bytes, used as is). There
 * is no negotiation: a cipher mismatch only shows as message 2 failing to
 * decrypt, because the two sides start from different h.
 *
 * The handshake subtype is called ix_psk0, but Nebula passes an empty PSK,
 * and flynn/noise then adds neither the psk0 modifier to the name nor the
 * psk token to the pattern: this is plain IX. The prologue is empty, yet
 * flynn/noise still hashes it, so both sides start with MixHash("").
 *
 * Message 1 has no key yet, so it is cleartext end to end (e, s and the
 * payload are only hashed). In message 2 every EncryptAndHash comes right
 * after a MixKey (se before s, es before the payload), so the nonce counter
 * n is 0 for both encryptions and the 12-byte nonce is all zeros for both
 * ciphers. We still keep n and build the nonce the way flynn/noise does,
 * which costs nothing and stays right if a pattern ever encrypts twice.
 *
 * Nebula's 16-byte header is outside all of this: not hashed, not
 * authenticated, and not seen by these functions.
 *
 * Each message is computed on a copy of the symmetric state (struct
 * symmetric) and committed only on success. For reads that is what lets
 * the initiator drop a forged message 2 and keep waiting for the real one
 * (spec §3.8), like flynn/noise's Checkpoint/Rollback.
 */

static const char proto_aes[] = "Noise_IX_25519_AESGCM_SHA256";
static const char proto_chacha[] = "Noise_IX_25519_ChaChaPoly_SHA256";

_Static_assert(sizeof(proto_aes) - 1 <= CTL_NOISE_HASH_LEN,
	       "protocol name must fit in h unhashed");
_Static_assert(sizeof(proto_chacha) - 1 == CTL_NOISE_HASH_LEN,
	       "protocol name must fit in h unhashed");
_Static_assert(CTL_NOISE_KEY_LEN == VL_AEAD_KEY_LEN, "cipher key size");
_Static_assert(CTL_NOISE_TAG_LEN == VL_AEAD_TAG_LEN, "cipher tag size");

struct symmetric {
	uint8_t h[CTL_NOISE_HASH_LEN];
	uint8_t ck[CTL_NOISE_HASH_LEN];
	uint8_t k[CTL_NOISE_KEY_LEN];
	bool has_k;
	uint64_t n;
};

static void load(struct symmetric *ss, const struct ctl_noise *n)
{
	memcpy(ss->h, n->h, sizeof(ss->h));
	memcpy(ss->ck, n->ck, sizeof(ss->ck));
	memcpy(ss->k, n->k, sizeof(ss->k));
	ss->has_k = n->has_k;
	ss->n = n->n;
}

static void store(struct ctl_noise *n, const struct symmetric *ss)
{
	memcpy(n->h, ss->h, sizeof(n->h));
	memcpy(n->ck, ss->ck, sizeof(n->ck));
	memcpy(n->k, ss->k, sizeof(n->k));
	n->has_k = ss->has_k;
	n->n = ss->n;
}

/* h = HASH(h || data) into @out, which may be h itself. */
static void next_hash(const uint8_t h[CTL_NOISE_HASH_LEN], const uint8_t *data,
		      size_t len, uint8_t out[CTL_NOISE_HASH_LEN])
{
	crypto_hash_sha256_state s;

	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, h, CTL_NOISE_HASH_LEN);
	if (len)
		crypto_hash_sha256_update(&s, data, len);
	crypto_hash_sha256_final(&s, out);
}

static void mix_hash(struct symmetric *ss, const uint8_t *data, size_t len)
{
	next_hash(ss->h, data, len, ss->h);
}

/* HMAC-SHA-256(key, a || b); @b may be NULL when @b_len is 0. */
static void hmac(uint8_t out[CTL_NOISE_HASH_LEN],
		 const uint8_t key[CTL_NOISE_HASH_LEN], const uint8_t *a,
		 size_t a_len, const uint8_t *b, size_t b_len)
{
	crypto_auth_hmacsha256_state s;

	crypto_auth_hmacsha256_init(&s, key, CTL_NOISE_HASH_LEN);
	if (a_len)
		crypto_auth_hmacsha256_update(&s, a, a_len);
	if (b_len)
		crypto_auth_hmacsha256_update(&s, b, b_len);
	crypto_auth_hmacsha256_final(&s, out);
	sodium_memzero(&s, sizeof(s));
}

/*
 * Noise's HKDF with two outputs: t = HMAC(ck, ikm), o1 = HMAC(t, 0x01),
 * o2 = HMAC(t, o1 || 0x02). The outputs may alias @ck.
 */
static void hkdf(const uint8_t ck[CTL_NOISE_HASH_LEN], const uint8_t *ikm,
		 size_t ikm_len, uint8_t o1[CTL_NOISE_HASH_LEN],
		 uint8_t o2[CTL_NOISE_HASH_LEN])
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t t[CTL_NOISE_HASH_LEN], a[CTL_NOISE_HASH_LEN];
	uint8_t b[CTL_NOISE_HASH_LEN];

	hmac(t, ck, ikm, ikm_len, NULL, 0);
	hmac(a, t, &one, 1, NULL, 0);
	hmac(b, t, a, sizeof(a), &two, 1);
	memcpy(o1, a, sizeof(a));
	memcpy(o2, b, sizeof(b));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
}

static void mix_key(struct symmetric *ss, const uint8_t ikm[CTL_NOISE_KEY_LEN])
{
	hkdf(ss->ck, ikm, CTL_NOISE_KEY_LEN, ss->ck, ss->k);
	ss->has_k = true;
	ss->n = 0;
}

/*
 * MixKey(DH(priv, pub)). libsodium's X25519 fails on an all-zero result
 * (pub of small order), where Go's returns an error and flynn/noise aborts
 * the handshake; so do we.
 */
static int mix_dh(struct symmetric *ss, const uint8_t priv[CTL_NOISE_KEY_LEN],
		  const uint8_t pub[CTL_NOISE_KEY_LEN], const char *token,
		  struct vl_status *st)
{
	uint8_t dh[CTL_NOISE_KEY_LEN];

	if (crypto_scalarmult(dh, priv, pub)) {
		sodium_memzero(dh, sizeof(dh));
		return vl_status_set(st, -EINVAL,
				     "noise: %s: peer key of small order",
				     token);
	}
	mix_key(ss, dh);
	sodium_memzero(dh, sizeof(dh));
	return 0;
}

/* out = p (no key yet) or AEAD(p) with its tag; then MixHash(out). */
static void encrypt_and_hash(struct symmetric *ss, enum vl_cipher c,
			     const uint8_t *p, size_t len, uint8_t *out)
{
	struct vl_aead_key key;
	uint8_t nonce[VL_AEAD_NONCE_LEN];

	if (!ss->has_k) {
		if (len)
			memmove(out, p, len);
		mix_hash(ss, out, len);
		return;
	}
	if (!p)
		p = out; /* empty plaintext: in place, never a NULL source */
	vl_aead_key_set(&key, c, ss->k);
	vl_aead_nonce(c, ss->n, nonce);
	vl_aead_seal(&key, nonce, ss->h, sizeof(ss->h), p, len, out);
	vl_aead_key_wipe(&key);
	ss->n++;
	mix_hash(ss, out, len + CTL_NOISE_TAG_LEN);
}

/*
 * @in holds @len bytes of ciphertext plus the tag (or @len cleartext bytes
 * without a key); out[0..len) receives the plaintext. h moves on over the
 * ciphertext only if the tag verifies. The next h is computed first so
 * that @out may equal @in.
 */
static int decrypt_and_hash(struct symmetric *ss, enum vl_cipher c,
			    const uint8_t *in, size_t len, uint8_t *out,
			    const char *what, struct vl_status *st)
{
	uint8_t next[CTL_NOISE_HASH_LEN];
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	struct vl_aead_key key;
	bool ok;

	if (!ss->has_k) {
		mix_hash(ss, in, len);
		if (len)
			memmove(out, in, len);
		return 0;
	}
	next_hash(ss->h, in, len + CTL_NOISE_TAG_LEN, next);
	vl_aead_key_set(&key, c, ss->k);
	vl_aead_nonce(c, ss->n, nonce);
	ok = vl_aead_open(&key, nonce, ss->h, sizeof(ss->h), in, len, out);
	vl_aead_key_wipe(&key);
	if (!ok)
		return vl_status_set(
			st, -EBADMSG,
			"noise: %s does not decrypt (forged, or other cipher)",
			what);
	ss->n++;
	memcpy(ss->h, next, sizeof(next));
	return 0;
}

static int refuse(const struct ctl_noise *n, const char *what,
		  struct vl_status *st)
{
	return vl_status_set(st, -EPROTO, "noise: %s refused: %s in state %d",
			     what, n->initiator ? "initiator" : "responder",
			     (int)n->state);
}

/* A fresh ephemeral key pair, unless a test fixed e_priv. */
static int new_ephemeral(struct ctl_noise *n, struct vl_status *st)
{
	if (!n->fixed_e)
		randombytes_buf(n->e_priv, sizeof(n->e_priv));
	if (crypto_scalarmult_base(n->e_pub, n->e_priv))
		return vl_status_set(st, -EINVAL,
				     "noise: bad ephemeral private key");
	return 0;
}

void ctl_noise_init(struct ctl_noise *n, enum vl_cipher c, bool initiator,
		    const uint8_t s_priv[CTL_NOISE_KEY_LEN])
{
	const char *name = c == VL_CIPHER_CHACHAPOLY ? proto_chacha : proto_aes;
	struct symmetric ss = { 0 };

	sodium_memzero(n, sizeof(*n));
	n->cipher = c;
	n->initiator = initiator;

	/* InitializeSymmetric: both names fit in HASHLEN, so no HASH(name). */
	memcpy(ss.h, name, strlen(name));
	memcpy(ss.ck, ss.h, sizeof(ss.ck));
	mix_hash(&ss, NULL, 0); /* the empty prologue */
	store(n, &ss);
	sodium_memzero(&ss, sizeof(ss));

	memcpy(n->s_priv, s_priv, sizeof(n->s_priv));
	if (crypto_scalarmult_base(n->s_pub, n->s_priv)) {
		ctl_noise_wipe(n);
		return;
	}
	n->state = CTL_NOISE_FRESH;
}

void ctl_noise_set_ephemeral(struct ctl_noise *n,
			     const uint8_t e_priv[CTL_NOISE_KEY_LEN])
{
	/* Only before this side's first message; later it would be unused. */
	if (n->state != CTL_NOISE_FRESH)
		return;
	memcpy(n->e_priv, e_priv, sizeof(n->e_priv));
	n->fixed_e = true;
}

int ctl_noise_write_msg1(struct ctl_noise *n, const uint8_t *payload,
			 size_t len, uint8_t *out, size_t cap, size_t *out_len,
			 struct vl_status *st)
{
	struct symmetric ss;
	int err;

	if (!n->initiator || n->state != CTL_NOISE_FRESH)
		return refuse(n, "write message 1", st);
	if (len && !payload)
		return vl_status_set(st, -EINVAL,
				     "noise: message 1 payload missing");
	if (cap < CTL_NOISE_MSG1_MIN || len > cap - CTL_NOISE_MSG1_MIN)
		return vl_status_set(
			st, -ENOBUFS,
			"noise: message 1 needs %zu bytes, buffer has %zu",
			len + CTL_NOISE_MSG1_MIN, cap);
	err = new_ephemeral(n, st);
	if (err)
		return err;

	load(&ss, n);
	/* -> e */
	memcpy(out, n->e_pub, CTL_NOISE_KEY_LEN);
	mix_hash(&ss, out, CTL_NOISE_KEY_LEN);
	/* -> s: no key yet, so this only hashes it */
	encrypt_and_hash(&ss, n->cipher, n->s_pub, CTL_NOISE_KEY_LEN,
			 out + CTL_NOISE_KEY_LEN);
	encrypt_and_hash(&ss, n->cipher, payload, len,
			 out + CTL_NOISE_MSG1_MIN);
	store(n, &ss);
	sodium_memzero(&ss, sizeof(ss));

	n->state = CTL_NOISE_SENT_MSG1;
	*out_len = CTL_NOISE_MSG1_MIN + len;
	return 0;
}

int ctl_noise_read_msg1(struct ctl_noise *n, const uint8_t *msg, size_t len,
			const uint8_t **payload, size_t *payload_len,
			struct vl_status *st)
{
	uint8_t re[CTL_NOISE_KEY_LEN], rs[CTL_NOISE_KEY_LEN];
	struct symmetric ss;

	if (n->initiator || n->state != CTL_NOISE_FRESH)
		return refuse(n, "read message 1", st);
	if (len < CTL_NOISE_MSG1_MIN)
		return vl_status_set(
			st, -EINVAL,
			"noise: message 1 is %zu bytes, at least %d expected",
			len, CTL_NOISE_MSG1_MIN);

	load(&ss, n);
	/* <- e */
	memcpy(re, msg, sizeof(re));
	mix_hash(&ss, re, sizeof(re));
	/* <- s, and the payload: cleartext, so these cannot fail */
	decrypt_and_hash(&ss, n->cipher, msg + CTL_NOISE_KEY_LEN,
			 CTL_NOISE_KEY_LEN, rs, "message 1 static key", st);
	mix_hash(&ss, msg + CTL_NOISE_MSG1_MIN, len - CTL_NOISE_MSG1_MIN);

	store(n, &ss);
	sodium_memzero(&ss, sizeof(ss));
	memcpy(n->re, re, sizeof(re));
	memcpy(n->rs, rs, sizeof(rs));
	n->state = CTL_NOISE_READ_MSG1;
	*payload = msg + CTL_NOISE_MSG1_MIN;
	*payload_len = len - CTL_NOISE_MSG1_MIN;
	return 0;
}

int ctl_noise_write_msg2(struct ctl_noise *n, const uint8_t *payload,
			 size_t len, uint8_t *out, size_t cap, size_t *out_len,
			 struct vl_status *st)
{
	struct symmetric ss;
	uint8_t *p = out;
	int err;

	if (n->initiator || n->state != CTL_NOISE_READ_MSG1)
		return refuse(n, "write message 2", st);
	if (len && !payload)
		return vl_status_set(st, -EINVAL,
				     "noise: message 2 payload missing");
	if (cap < CTL_NOISE_MSG2_MIN || len > cap - CTL_NOISE_MSG2_MIN)
		return vl_status_set(
			st, -ENOBUFS,
			"noise: message 2 needs %zu bytes, buffer has %zu",
			len + CTL_NOISE_MSG2_MIN, cap);
	err = new_ephemeral(n, st);
	if (err)
		goto dead;

	load(&ss, n);
	/* <- e */
	memcpy(p, n->e_pub, CTL_NOISE_KEY_LEN);
	mix_hash(&ss, p, CTL_NOISE_KEY_LEN);
	p += CTL_NOISE_KEY_LEN;
	/* ee, se (DH between the initiator's s and our e) */
	err = mix_dh(&ss, n->e_priv, n->re, "ee", st);
	if (!err)
		err = mix_dh(&ss, n->e_priv, n->rs, "se", st);
	if (err)
		goto wipe;
	/* s, under the key from se: n = 0 */
	encrypt_and_hash(&ss, n->cipher, n->s_pub, CTL_NOISE_KEY_LEN, p);
	p += CTL_NOISE_KEY_LEN + CTL_NOISE_TAG_LEN;
	/* es (the initiator's e and our s), then the payload: n = 0 again */
	err = mix_dh(&ss, n->s_priv, n->re, "es", st);
	if (err)
		goto wipe;
	encrypt_and_hash(&ss, n->cipher, payload, len, p);

	store(n, &ss);
	sodium_memzero(&ss, sizeof(ss));
	n->state = CTL_NOISE_COMPLETE;
	*out_len = CTL_NOISE_MSG2_MIN + len;
	return 0;

wipe:
	sodium_memzero(&ss, sizeof(ss));
	/* cap >= CTL_NOISE_MSG2_MIN was checked; no half message escapes. */
	sodium_memzero(out, CTL_NOISE_MSG2_MIN);
dead:
	/* A half-written message 2 must never be retried or split. */
	ctl_noise_wipe(n);
	return err;
}

int ctl_noise_read_msg2(struct ctl_noise *n, const uint8_t *msg, size_t len,
			uint8_t *payload, size_t cap, size_t *payload_len,
			struct vl_status *st)
{
	uint8_t re[CTL_NOISE_KEY_LEN], rs[CTL_NOISE_KEY_LEN];
	const uint8_t *p = msg;
	struct symmetric ss;
	uint8_t empty[1];
	size_t plen;
	int err;

	if (!n->initiator || n->state != CTL_NOISE_SENT_MSG1)
		return refuse(n, "read message 2", st);
	if (len < CTL_NOISE_MSG2_MIN)
		return vl_status_set(
			st, -EINVAL,
			"noise: message 2 is %zu bytes, at least %d expected",
			len, CTL_NOISE_MSG2_MIN);
	plen = len - CTL_NOISE_MSG2_MIN;
	if (cap < plen)
		return vl_status_set(
			st, -ENOBUFS,
			"noise: message 2 payload is %zu bytes, buffer has %zu",
			plen, cap);
	if (!payload)
		payload = empty; /* plen is 0: nothing is written */

	load(&ss, n);
	/* <- e */
	memcpy(re, p, sizeof(re));
	mix_hash(&ss, re, sizeof(re));
	p += CTL_NOISE_KEY_LEN;
	/* ee, se (our s and the responder's e) */
	err = mix_dh(&ss, n->e_priv, re, "ee", st);
	if (!err)
		err = mix_dh(&ss, n->s_priv, re, "se", st);
	/* s */
	if (!err)
		err = decrypt_and_hash(&ss, n->cipher, p, CTL_NOISE_KEY_LEN, rs,
				       "message 2 static key", st);
	p += CTL_NOISE_KEY_LEN + CTL_NOISE_TAG_LEN;
	/* es (our e and the responder's s), then the payload */
	if (!err)
		err = mix_dh(&ss, n->e_priv, rs, "es", st);
	if (!err)
		err = decrypt_and_hash(&ss, n->cipher, p, plen, payload,
				       "message 2 payload", st);
	if (err) {
		/* Nothing committed: the caller keeps waiting (§3.8). */
		sodium_memzero(&ss, sizeof(ss));
		sodium_memzero(rs, sizeof(rs));
		return err;
	}

	store(n, &ss);
	sodium_memzero(&ss, sizeof(ss));
	memcpy(n->re, re, sizeof(re));
	memcpy(n->rs, rs, sizeof(rs));
	n->state = CTL_NOISE_COMPLETE;
	*payload_len = plen;
	return 0;
}

int ctl_noise_split(struct ctl_noise *n, uint8_t send_key[CTL_NOISE_KEY_LEN],
		    uint8_t recv_key[CTL_NOISE_KEY_LEN])
{
	uint8_t k1[CTL_NOISE_KEY_LEN], k2[CTL_NOISE_KEY_LEN];

	if (n->state != CTL_NOISE_COMPLETE)
		return -EPROTO;
	hkdf(n->ck, NULL, 0, k1, k2);
	memcpy(send_key, n->initiator ? k1 : k2, CTL_NOISE_KEY_LEN);
	memcpy(recv_key, n->initiator ? k2 : k1, CTL_NOISE_KEY_LEN);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));

	/*
	 * Nothing here is needed again; h and the public keys stay for the
	 * caller. The private keys go too: forward secrecy rests on e.
	 */
	sodium_memzero(n->ck, sizeof(n->ck));
	sodium_memzero(n->k, sizeof(n->k));
	n->has_k = false;
	sodium_memzero(n->e_priv, sizeof(n->e_priv));
	sodium_memzero(n->s_priv, sizeof(n->s_priv));
	n->state = CTL_NOISE_SPLIT;
	return 0;
}

const uint8_t *ctl_noise_remote_static(const struct ctl_noise *n)
{
	switch (n->state) {
	case CTL_NOISE_READ_MSG1:
	case CTL_NOISE_COMPLETE:
	case CTL_NOISE_SPLIT:
		return n->rs;
	case CTL_NOISE_DEAD:
	case CTL_NOISE_FRESH:
	case CTL_NOISE_SENT_MSG1:
		break;
	}
	return NULL;
}

void ctl_noise_wipe(struct ctl_noise *n)
{
	sodium_memzero(n, sizeof(*n));
}
