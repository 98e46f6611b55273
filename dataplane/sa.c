/* SPDX-License-Identifier: MIT */
#include "sa.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fw.h"
#include "status.h"

int dp_sa_new(const struct ctlmsg_tunnel_add *m, struct dp_sa **out,
	      struct vl_status *st)
{
	struct sockaddr_in6 *remote = NULL;
	struct dp_sa *sa;

	*out = NULL;
	if (m->cipher != VL_CIPHER_AES && m->cipher != VL_CIPHER_CHACHAPOLY)
		return vl_status_set(st, -EINVAL, "tunnel %08x: unknown cipher %u",
				     m->local_index, m->cipher);
	if (m->n_peer_nets > CTLMSG_NETS_MAX)
		return vl_status_set(st, -EINVAL,
				     "tunnel %08x: %u peer networks, at most %d",
				     m->local_index, m->n_peer_nets,
				     CTLMSG_NETS_MAX);
	if (!m->local_index)
		return vl_status_set(st, -EINVAL, "tunnel index 0 is reserved");
	if (m->send_counter > m->lease_end)
		return vl_status_set(st, -EINVAL,
				     "tunnel %08x: send counter past its lease",
				     m->local_index);

	sa = aligned_alloc(64, (sizeof(*sa) + 63) / 64 * 64);
	if (!sa)
		return vl_status_set(st, -ENOMEM, "out of memory");
	memset(sa, 0, sizeof(*sa));
	if (m->remote.sin6_family == AF_INET6) {
		remote = malloc(sizeof(*remote));
		if (!remote) {
			free(sa);
			return vl_status_set(st, -ENOMEM, "out of memory");
		}
		*remote = m->remote;
	}
	sa->local_index = m->local_index;
	sa->remote_index = m->remote_index;
	sa->vpn_ip = m->vpn_ip;
	sa->cipher = (enum vl_cipher)m->cipher;
	sa->n_peer_nets = m->n_peer_nets;
	memcpy(sa->peer_nets, m->peer_nets,
	       m->n_peer_nets * sizeof(sa->peer_nets[0]));
	vl_aead_key_set(&sa->send_key, sa->cipher, m->send_key);
	vl_aead_key_set(&sa->recv_key, sa->cipher, m->recv_key);
	atomic_init(&sa->send_counter, m->send_counter);
	atomic_init(&sa->lease_end, m->lease_end);
	atomic_init(&sa->lease_asked, false);
	pthread_spin_init(&sa->replay_lock, PTHREAD_PROCESS_PRIVATE);
	dp_replay_init(&sa->replay);
	/*
	 * A re-installed tunnel must not accept what it already received:
	 * everything up to the last counter reported counts as seen. (A
	 * packet reordered across the restart is lost; none is replayed.)
	 */
	if (m->recv_max > sa->replay.max) {
		sa->replay.max = m->recv_max;
		memset(sa->replay.blocks, 0xff, sizeof(sa->replay.blocks));
	}
	atomic_init(&sa->remote, remote);
	*out = sa;
	return 0;
}

void dp_sa_free(struct dp_sa *sa)
{
	if (!sa)
		return;
	free(atomic_load_explicit(&sa->remote, memory_order_relaxed));
	dp_fw_peer_free(atomic_load_explicit(&sa->fw, memory_order_relaxed));
	vl_aead_key_wipe(&sa->send_key);
	vl_aead_key_wipe(&sa->recv_key);
	pthread_spin_destroy(&sa->replay_lock);
	sodium_memzero(sa, sizeof(*sa));
	free(sa);
}

struct dp_sa_table *dp_sa_table_build(struct dp_sa *const *sas, unsigned int n)
{
	unsigned int size = 8;
	struct dp_sa_table *t;

	/* At most half full, so probes stay short and always end. */
	while (size < 2 * n)
		size *= 2;
	t = calloc(1, sizeof(*t) + n * sizeof(t->sas[0]));
	if (!t)
		return NULL;
	t->by_index = calloc(size, sizeof(*t->by_index));
	t->by_vpn = calloc(size, sizeof(*t->by_vpn));
	if (!t->by_index || !t->by_vpn) {
		dp_sa_table_free(t);
		return NULL;
	}
	t->mask = size - 1;
	t->n = n;
	for (unsigned int k = 0; k < n; k++) {
		struct dp_sa *sa = sas[k];
		uint32_t i;

		t->sas[k] = sa;
		for (i = dp_sa_hash(sa->local_index) & t->mask;
		     t->by_index[i] && t->by_index[i]->local_index != sa->local_index;
		     i = (i + 1) & t->mask)
			;
		t->by_index[i] = sa;
		for (i = dp_sa_hash(sa->vpn_ip) & t->mask;
		     t->by_vpn[i] && t->by_vpn[i]->vpn_ip != sa->vpn_ip;
		     i = (i + 1) & t->mask)
			;
		t->by_vpn[i] = sa; /* a later SA for the same peer wins */
	}
	return t;
}

void dp_sa_table_free(struct dp_sa_table *t)
{
	if (!t)
		return;
	free(t->by_index);
	free(t->by_vpn);
	free(t);
}

bool dp_sa_lease_wanted(struct dp_sa *sa)
{
	uint64_t used = atomic_load_explicit(&sa->send_counter,
					     memory_order_relaxed);
	uint64_t end = atomic_load_explicit(&sa->lease_end,
					    memory_order_relaxed);

	if (used + CTLMSG_LEASE_STEP / 2 < end)
		return false;
	/* Ask once; the grant resets the flag. */
	return !atomic_exchange_explicit(&sa->lease_asked, true,
					 memory_order_relaxed);
}

bool dp_sa_replay_update(struct dp_sa *sa, uint64_t counter)
{
	bool ok;

	pthread_spin_lock(&sa->replay_lock);
	ok = dp_replay_update(&sa->replay, counter);
	pthread_spin_unlock(&sa->replay_lock);
	return ok;
}

bool dp_sa_peer_owns(const struct dp_sa *sa, uint32_t ip)
{
	for (uint32_t i = 0; i < sa->n_peer_nets; i++)
		if ((ip & sa->peer_nets[i].mask) ==
		    (sa->peer_nets[i].ip & sa->peer_nets[i].mask))
			return true;
	return false;
}
