/* SPDX-License-Identifier: MIT */
#ifndef CTL_NOISE_H
#define CTL_NOISE_H

/*
 * The Noise IX handshake exactly as Nebula 1.6.1 runs it (spec §3.1-§3.3,
 * flynn/noise 1.0.0 semantics): X25519, SHA-256, and AES-256-GCM or
 * ChaCha20-Poly1305 as chosen by the node's `cipher` setting.
 *
 *   -> e, s                   message 1, initiator -> responder, cleartext
 *   <- e, ee, se, s, es       message 2, responder -> initiator
 *
 * The functions here see only the bytes after the 16-byte Nebula header:
 * the header is not part of the Noise transcript. Payloads are the
 * NebulaHandshake protobufs of handshake_msg.h.
 *
 * One struct ctl_noise is one side of one handshake. Calls must come in
 * protocol order; anything else is refused with -EPROTO and changes
 * nothing:
 *
 *   initiator: ctl_noise_init, ctl_noise_write_msg1, ctl_noise_read_msg2,
 *              ctl_noise_split
 *   responder: ctl_noise_init, ctl_noise_read_msg1, ctl_noise_write_msg2,
 *              ctl_noise_split
 *
 * A failed read changes nothing either, so the initiator can keep waiting
 * for a genuine message 2 after a forged one (§3.8). A write refused for
 * its arguments (short buffer) changes nothing; a write that fails on a
 * small-order remote key wipes the handshake, and every later call is
 * refused.
 *
 * Not thread-safe: one handshake belongs to one thread (the control
 * process's handshake loop). The struct holds secrets: ctl_noise_wipe()
 * it when done, whatever the outcome. sodium_init() and vl_aead_init()
 * must have succeeded before the first call.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"

struct vl_status;

enum ctl_noise_limits {
	CTL_NOISE_KEY_LEN = 32, /* X25519 keys, chaining key, cipher key */
	CTL_NOISE_HASH_LEN = 32, /* SHA-256 */
	CTL_NOISE_TAG_LEN = 16,
	/* e.pub || s.pub, then the cleartext payload. */
	CTL_NOISE_MSG1_MIN = 2 * CTL_NOISE_KEY_LEN,
	/* e.pub || enc(s.pub) || enc(payload): an empty payload is a tag. */
	CTL_NOISE_MSG2_MIN = CTL_NOISE_KEY_LEN +
			     (CTL_NOISE_KEY_LEN + CTL_NOISE_TAG_LEN) +
			     CTL_NOISE_TAG_LEN,
};

/* Where a handshake stands; 0 (also what ctl_noise_wipe leaves) is unusable. */
enum ctl_noise_state {
	CTL_NOISE_DEAD = 0, /* wiped, never initialised, or failed */
	CTL_NOISE_FRESH, /* initialised, no message yet */
	CTL_NOISE_SENT_MSG1, /* initiator: waiting for message 2 */
	CTL_NOISE_READ_MSG1, /* responder: message 2 to write */
	CTL_NOISE_COMPLETE, /* both messages done: split is next */
	CTL_NOISE_SPLIT, /* keys handed out; ck, k and private keys wiped */
};

/*
 * Fields are public for tests and for h (channel binding); only noise.c
 * writes them.
 */
struct ctl_noise {
	enum vl_cipher cipher;
	bool initiator;
	enum ctl_noise_state state;

	/* Symmetric state. n counts encryptions under k since the last MixKey. */
	uint8_t h[CTL_NOISE_HASH_LEN];
	uint8_t ck[CTL_NOISE_HASH_LEN];
	uint8_t k[CTL_NOISE_KEY_LEN];
	bool has_k;
	uint64_t n;

	uint8_t s_priv[CTL_NOISE_KEY_LEN], s_pub[CTL_NOISE_KEY_LEN];
	uint8_t e_priv[CTL_NOISE_KEY_LEN], e_pub[CTL_NOISE_KEY_LEN];
	bool fixed_e; /* e_priv set by ctl_noise_set_ephemeral */
	uint8_t rs[CTL_NOISE_KEY_LEN], re[CTL_NOISE_KEY_LEN];
};

/* noise.c: one handshake, one thread. */

/*
 * Starts a handshake: InitializeSymmetric(protocol name of @c), then MixHash
 * of the empty prologue. @s_priv is this node's X25519 static private key
 * (the one whose public half its certificate carries).
 */
void ctl_noise_init(struct ctl_noise *n, enum vl_cipher c, bool initiator,
		    const uint8_t s_priv[CTL_NOISE_KEY_LEN]);

/*
 * Known-answer tests only: the next message this side writes uses @e_priv
 * as its ephemeral private key instead of fresh random bytes. Call right
 * after ctl_noise_init; once a message is read or written it is ignored.
 */
void ctl_noise_set_ephemeral(struct ctl_noise *n,
			     const uint8_t e_priv[CTL_NOISE_KEY_LEN]);

/*
 * Initiator, message 1: out = e.pub || s.pub || payload, all cleartext.
 * Needs @cap >= CTL_NOISE_MSG1_MIN + @len (-ENOBUFS otherwise).
 */
int ctl_noise_write_msg1(struct ctl_noise *n, const uint8_t *payload,
			 size_t len, uint8_t *out, size_t cap, size_t *out_len,
			 struct vl_status *st);

/*
 * Responder, message 1 (@msg: the bytes after the header). Sets re and rs;
 * *@payload points into @msg, which is cleartext and not authenticated:
 * only the certificate check of §3.5 against rs gives it meaning.
 * -EINVAL if shorter than CTL_NOISE_MSG1_MIN.
 */
int ctl_noise_read_msg1(struct ctl_noise *n, const uint8_t *msg, size_t len,
			const uint8_t **payload, size_t *payload_len,
			struct vl_status *st);

/*
 * Responder, message 2: out = e.pub || enc(s.pub) || enc(payload). Needs
 * @cap >= CTL_NOISE_MSG2_MIN + @len; @payload and @out must not overlap.
 * -EINVAL if a DH result is all zero (the initiator sent a small-order
 * key); the handshake is then dead.
 */
int ctl_noise_write_msg2(struct ctl_noise *n, const uint8_t *payload,
			 size_t len, uint8_t *out, size_t cap, size_t *out_len,
			 struct vl_status *st);

/*
 * Initiator, message 2 (@msg: the bytes after the header). The decrypted
 * payload goes to @payload, which needs @len - CTL_NOISE_MSG2_MIN bytes.
 * -EBADMSG when a tag does not verify, -EINVAL when @msg is too short or a
 * DH result is all zero, -ENOBUFS when @cap is too small. On every error
 * the handshake is unchanged and still waits for message 2 (§3.8).
 */
int ctl_noise_read_msg2(struct ctl_noise *n, const uint8_t *msg, size_t len,
			uint8_t *payload, size_t cap, size_t *payload_len,
			struct vl_status *st);

/*
 * After both messages: Split() gives k1 (initiator -> responder) and k2
 * (responder -> initiator); returns this side's send and receive keys
 * (initiator: k1, k2; responder: k2, k1), then wipes ck, k and both
 * private keys. Once only; h and the public keys stay readable. -EPROTO if
 * the handshake is not complete.
 */
int ctl_noise_split(struct ctl_noise *n, uint8_t send_key[CTL_NOISE_KEY_LEN],
		    uint8_t recv_key[CTL_NOISE_KEY_LEN]);

/*
 * The peer's static public key as proven by Noise: on the responder after
 * message 1, on the initiator after message 2; NULL before that.
 */
const uint8_t *ctl_noise_remote_static(const struct ctl_noise *n);

/* Zeroes the whole struct (state DEAD); safe on a wiped struct. */
void ctl_noise_wipe(struct ctl_noise *n);

#endif /* CTL_NOISE_H */
