/* SPDX-License-Identifier: MIT */
/*
 * Burst AEAD: AES-256-GCM through IPsec-MB's job API, one burst per call;
 * ChaCha20-Poly1305 through libsodium, one message at a time.
 *
 * GCM and the IPsec-MB 1.3 burst API
 *
 * 1.3 has two burst APIs (ReleaseNotes.txt, v1.3). The synchronous one,
 * IMB_SUBMIT_CIPHER_BURST / IMB_SUBMIT_HASH_BURST, takes one algorithm per
 * call and supports only AES-CBC, AES-CTR and HMAC-SHA: no GCM. The
 * asynchronous one used here, IMB_GET_NEXT_BURST / IMB_SUBMIT_BURST /
 * IMB_FLUSH_BURST, "supports all cipher and hash modes": its submit
 * (lib/include/mb_mgr_burst_async.h) checks each job with the same
 * is_job_invalid() as IMB_SUBMIT_JOB and hands it to the same
 * submit_new_job(), so a GCM job (IMB_CIPHER_GCM + IMB_AUTH_AES_GMAC) runs
 * exactly as it would through the single-job API, and each job carries its
 * own key, so a burst may mix SAs. In 1.3 a GCM job is processed
 * synchronously inside submit, one message after the other
 * (SUBMIT_JOB_AES_GCM_ENC/DEC in mb_mgr_job_api.h): the burst saves the
 * per-packet dispatch; it does not run messages in parallel lanes. Submit
 * therefore returns every job completed; the flush loop below is there
 * because the API allows otherwise. The job path keeps its struct
 * gcm_context_data on IPsec-MB's own stack, so unlike aead.c we cannot
 * wipe it after each message.
 *
 * Failing closed
 *
 * IMB_SUBMIT_BURST checks every job before it submits any; a burst with a
 * bad job is rejected whole and nothing of it runs. We use it rather than
 * the _NOCHECK variant on purpose: with SAFE_PARAM (Debian's build) the GCM
 * assembly returns at once on a bad argument, writing nothing, and
 * SUBMIT_JOB_AES_GCM_* then still marks the job COMPLETED. Unchecked, a
 * seal could come back "completed" with the plaintext still in place. The
 * checks cost a few compares per job against a GCM pass over the packet.
 *
 * The only arguments IPsec-MB could reject are NULL pointers with a length;
 * everything else in a job is set here. Each op is checked for those first
 * and fails alone, so one bad op cannot sink the other 63. A seal with valid
 * arguments therefore cannot fail (@ok is always true). Should a job still
 * not come back COMPLETED, its op fails closed: open zeroes the payload,
 * seal zeroes the payload and the tag area, so nothing unsealed goes out
 * with a tag; debug builds assert, as this means IPsec-MB changed.
 *
 * Threads
 *
 * One struct vl_aead_burst per thread. Unlike the direct API (aead.c), the
 * job API keeps its state in the manager: a job ring with head and tail
 * offsets that GET_NEXT_BURST, SUBMIT_BURST and FLUSH_BURST move without
 * any locking, and IPsec-MB says a manager is not thread safe. Two threads
 * on one manager would be handed the same job slots, and every call
 * rewrites the IV and tag scratch kept in the object. An object may move to another thread only
 * through something that orders memory (a mutex, thread creation). Keys are
 * only read and may be shared by any number of threads and bursts.
 *
 * Keys are expanded by aead.c's manager and used by this one. The layout of
 * struct gcm_key_data depends on the code path (SSE/AVX2 and AVX512/VAES
 * precompute different GHASH tables), so both managers must pick the same
 * one: both come from init_mb_mgr_auto() with no flags on the same CPU.
 * Never give this manager different flags.
 */
#include "aead_burst.h"
#include "aead_imb.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <sodium.h>

static_assert(VL_AEAD_BURST_MAX <= IMB_MAX_BURST_SIZE,
	      "one burst must fit one IMB_GET_NEXT_BURST");
static_assert(VL_AEAD_BURST_MAX <= 64, "struct run tracks jobs in a uint64_t");

/*
 * Scratch for the AES part of one burst, indexed by slot: slot i is the
 * i-th AES op of the call and the i-th job GET_NEXT_BURST handed out. The
 * IV and the computed tag must stay put until that job is back.
 */
struct vl_aead_burst {
	IMB_MGR *mgr;
	struct vl_aead_op *aes[VL_AEAD_BURST_MAX];
	IMB_JOB *slot[VL_AEAD_BURST_MAX]; /* the job given to slot i */
	IMB_JOB *jobs[VL_AEAD_BURST_MAX]; /* in/out list of the burst calls */
	uint8_t iv[VL_AEAD_BURST_MAX][VL_AEAD_NONCE_LEN];
	uint8_t tag[VL_AEAD_BURST_MAX][VL_AEAD_TAG_LEN]; /* open: computed */
};

/* The AES jobs of one call. */
struct run {
	unsigned int n; /* slots in use */
	unsigned int got; /* jobs handed out, <= n */
	uint64_t back; /* bit i: slot i's job came back */
	unsigned int n_back;
	unsigned int n_ok;
	bool seal;
};

int vl_aead_burst_new(struct vl_aead_burst **out)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	struct vl_aead_burst *b;
	int ret;

	*out = NULL;
	/* libsodium's setup for ChaCha; AES keys need it before they exist. */
	ret = vl_aead_init();
	if (ret)
		return ret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;

	/* flags 0, as aead.c: the same code path, so the same key layout */
	b->mgr = alloc_mb_mgr(0);
	if (!b->mgr) {
		ret = -ENOMEM;
		goto free_burst;
	}

	/*
	 * Read the manager's own error word: imb_get_errno() falls back to
	 * the process-wide one, which other threads' crypto keeps writing.
	 */
	init_mb_mgr_auto(b->mgr, &arch);
	if (b->mgr->imb_errno || arch == IMB_ARCH_NONE) {
		ret = b->mgr->imb_errno ? vl_imb_err_to_errno(b->mgr->imb_errno) :
					  -ENOTSUP;
		goto free_mgr;
	}

	*out = b;
	return 0;

free_mgr:
	free_mb_mgr(b->mgr);
free_burst:
	free(b);
	return ret;
}

void vl_aead_burst_free(struct vl_aead_burst *b)
{
	if (!b)
		return;
	/* Every call leaves the queue empty: no job can still write. */
	free_mb_mgr(b->mgr);
	sodium_memzero(b, sizeof(*b));
	free(b);
}

/* Only what IPsec-MB or libsodium would reject or fault on. */
static bool op_valid(const struct vl_aead_op *op)
{
	if (!op->key || !op->data || (op->ad_len && !op->ad))
		return false;
	return op->key->cipher == VL_CIPHER_AES ||
	       op->key->cipher == VL_CIPHER_CHACHAPOLY;
}

/*
 * Leaves nothing usable behind: open, no plaintext; seal, no plaintext
 * and no tag next to it.
 */
static void fail(struct vl_aead_op *op, bool seal)
{
	op->ok = false;
	if (op->data)
		sodium_memzero(op->data,
			       (size_t)op->len + (seal ? VL_AEAD_TAG_LEN : 0));
}

static bool chacha_one(struct vl_aead_op *op, bool seal)
{
	uint8_t nonce[VL_AEAD_NONCE_LEN];
	uint8_t *tag = op->data + op->len;

	vl_aead_nonce(VL_CIPHER_CHACHAPOLY, op->counter, nonce);
	if (seal) {
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			op->data, tag, NULL, op->data, op->len, op->ad,
			op->ad_len, NULL, nonce, op->key->opaque);
		return true;
	}
	/* Verifies before it decrypts, in constant time. */
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		       op->data, NULL, op->data, op->len, tag, op->ad,
		       op->ad_len, nonce, op->key->opaque) == 0;
}

/*
 * Every field the GCM path or is_job_invalid() reads: slots are reused,
 * and a job keeps whatever the previous user left in it.
 */
static void fill_job(struct vl_aead_burst *b, IMB_JOB *job, unsigned int i,
		     bool seal)
{
	struct vl_aead_op *op = b->aes[i];
	uint8_t *tag = op->data + op->len;
	int t;

	vl_aead_nonce(VL_CIPHER_AES, op->counter, b->iv[i]);
	b->slot[i] = job;

	job->cipher_mode = IMB_CIPHER_GCM;
	job->hash_alg = IMB_AUTH_AES_GMAC;
	job->key_len_in_bytes = IMB_KEY_256_BYTES;
	/* aead.c keeps the expanded struct gcm_key_data in opaque. */
	job->enc_keys = op->key->opaque;
	job->dec_keys = op->key->opaque;
	job->src = op->data;
	job->dst = op->data;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = op->len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = op->len; /* unused by GCM */
	job->iv = b->iv[i];
	job->iv_len_in_bytes = VL_AEAD_NONCE_LEN;
	job->u.GCM.aad = op->ad;
	job->u.GCM.aad_len_in_bytes = op->ad_len;
	job->u.GCM.ctx = NULL; /* SGL only */
	job->auth_tag_output_len_in_bytes = VL_AEAD_TAG_LEN;
	job->user_data = (void *)(uintptr_t)i;

	if (seal) {
		job->cipher_direction = IMB_DIR_ENCRYPT;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		job->auth_tag_output = tag;
		return;
	}
	job->cipher_direction = IMB_DIR_DECRYPT;
	job->chain_order = IMB_ORDER_HASH_CIPHER;
	/*
	 * The library writes the tag it computes here. Start from a value
	 * that cannot match, so a job that never wrote it fails (as aead.c).
	 */
	for (t = 0; t < VL_AEAD_TAG_LEN; t++)
		b->tag[i][t] = (uint8_t)~tag[t];
	job->auth_tag_output = b->tag[i];
}

/* Takes the @m jobs in b->jobs[] that came back. */
static void collect(struct vl_aead_burst *b, struct run *r, unsigned int m)
{
	unsigned int k;

	for (k = 0; k < m; k++) {
		IMB_JOB *job = b->jobs[k];
		uintptr_t i = (uintptr_t)job->user_data;
		struct vl_aead_op *op;
		bool ok;

		/* Not one of ours (cannot happen while the queue drains). */
		if (i >= r->got || b->slot[i] != job ||
		    (r->back & (UINT64_C(1) << i))) {
			assert(!"IPsec-MB returned a job it was not given");
			continue;
		}
		r->back |= UINT64_C(1) << i;
		r->n_back++;

		op = b->aes[i];
		ok = job->status == IMB_STATUS_COMPLETED;
		assert(ok && "GCM job not completed");
		if (ok && !r->seal)
			ok = sodium_memcmp(b->tag[i], op->data + op->len,
					   VL_AEAD_TAG_LEN) == 0;
		if (ok) {
			op->ok = true;
			r->n_ok++;
		} else {
			fail(op, r->seal);
		}
	}
}

static void gcm_run(struct vl_aead_burst *b, struct run *r)
{
	IMB_MGR *mgr = b->mgr;
	unsigned int i, m, pass;

	/* The queue is empty between calls, so this hands out all n. */
	r->got = IMB_GET_NEXT_BURST(mgr, r->n, b->jobs);
	for (i = 0; i < r->got; i++)
		fill_job(b, b->jobs[i], i, r->seal);

	/* 0 and nothing submitted if a job was invalid: all fail below. */
	m = r->got ? IMB_SUBMIT_BURST(mgr, r->got, b->jobs) : 0;
	collect(b, r, m);

	/*
	 * Flush until every job is back or the queue is empty, so no job
	 * can write into a caller's buffer after we return. Each pass
	 * completes at least one job of a queue of at most IMB_MAX_JOBS.
	 */
	for (pass = 0; r->n_back < r->got && pass < IMB_MAX_JOBS; pass++) {
		m = IMB_FLUSH_BURST(mgr, VL_AEAD_BURST_MAX, b->jobs);
		if (!m)
			break;
		collect(b, r, m);
	}

	if (r->n_back != r->n) {
		assert(!"IPsec-MB did not complete every GCM job");
		for (i = 0; i < r->n; i++)
			if (!(r->back & (UINT64_C(1) << i)))
				fail(b->aes[i], r->seal);
	}
	/* A computed tag is a forgery for what the sender did not send. */
	if (!r->seal)
		sodium_memzero(b->tag, (size_t)r->n * VL_AEAD_TAG_LEN);
}

/*
 * ChaCha ops are done on the way; AES ops are collected into slots and
 * go to IPsec-MB together.
 */
static unsigned int run_burst(struct vl_aead_burst *b, struct vl_aead_op *ops,
			      unsigned int n, bool seal)
{
	struct run r = { .seal = seal };
	unsigned int i, n_ok = 0;

	for (i = 0; i < n; i++) {
		struct vl_aead_op *op = &ops[i];

		if (!op_valid(op)) {
			fail(op, seal);
			continue;
		}
		if (op->key->cipher == VL_CIPHER_AES) {
			b->aes[r.n++] = op;
			continue;
		}
		op->ok = chacha_one(op, seal);
		if (op->ok)
			n_ok++;
		else
			fail(op, seal);
	}
	if (r.n)
		gcm_run(b, &r);
	return n_ok + r.n_ok;
}

/*
 * n above VL_AEAD_BURST_MAX breaks the contract; it is asserted, and done
 * in pieces in release builds rather than overrunning the slots.
 */
static unsigned int run_split(struct vl_aead_burst *b, struct vl_aead_op *ops,
			      unsigned int n, bool seal)
{
	unsigned int n_ok = 0;

	assert(n <= VL_AEAD_BURST_MAX);
	while (n) {
		unsigned int k = n < VL_AEAD_BURST_MAX ? n : VL_AEAD_BURST_MAX;

		n_ok += run_burst(b, ops, k, seal);
		ops += k;
		n -= k;
	}
	return n_ok;
}

void vl_aead_seal_burst(struct vl_aead_burst *b, struct vl_aead_op *ops,
			unsigned int n)
{
	(void)run_split(b, ops, n, true);
}

unsigned int vl_aead_open_burst(struct vl_aead_burst *b, struct vl_aead_op *ops,
				unsigned int n)
{
	return run_split(b, ops, n, false);
}
