/* SPDX-License-Identifier: MIT */
/*
 * The connection manager (spec §5.2), as 1.6.1 has it: a tunnel we send on
 * is checked connection_alive_interval later; if the peer sent nothing
 * since, it gets a test request, and if it still sends nothing for
 * pending_deletion_interval the tunnel is removed locally and silently
 * (the next packet starts a new handshake). A tunnel we only receive on,
 * or that is idle both ways, is never checked. With
 * pki.disconnect_invalid the peer's certificate is verified again at every
 * check, against the CA pool and blocklist in force (SIGHUP reloads
 * them), and an invalid one closes the tunnel with a closeTunnel to the
 * peer, before anything else is looked at (1.6.1's
 * handleInvalidCertificate).
 *
 * The dataplane counts packets per tunnel; we ask for them once a second
 * (ACTIVITY: 32 bytes a tunnel, one request at a time) and compare them
 * with the previous answer.
 */
#include "node.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "status.h"
#include "wire.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

static void send_test(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct ctlmsg_inject_sa m;

	memset(&m, 0, offsetof(struct ctlmsg_inject_sa, data));
	m.local_index = t->add.local_index;
	m.type = WIRE_TEST;
	m.subtype = WIRE_SUB_TEST_REQUEST;
	ctl_node_send(n, &m, CTLMSG_INJECT_SA,
		      (uint32_t)offsetof(struct ctlmsg_inject_sa, data));
}

/* pki.disconnect_invalid: the certificate must still verify (§5.2). */
static bool still_valid(struct ctl_node *n, const struct ctl_tunnel *t)
{
	struct vl_status st = { "" };
	struct timespec now;

	if (!n->cfg.disconnect_invalid || !t->cert)
		return true;
	clock_gettime(CLOCK_REALTIME, &now);
	if (!ctl_cert_verify(t->cert, &now, &n->pki.pool, &st))
		return true;
	vl_log(VL_LOG_INFO, "Remote certificate is no longer valid, tearing down the tunnel",
	       "certName", t->name, "error", st.msg, NULL);
	return false;
}

void ctl_cm_on_activity(struct ctl_node *n, struct ctl_tunnel *t,
			const struct ctlmsg_activity *d)
{
	bool sent = d->tx_packets > t->cm_tx;
	char ip[16];

	t->cm_rx = d->rx_packets;
	t->cm_tx = d->tx_packets;
	t->cm_rx_bytes = d->rx_bytes;
	t->cm_tx_bytes = d->tx_bytes;
	/* What a re-install after a dataplane restart must start above. */
	if (d->recv_max > t->add.recv_max)
		t->add.recv_max = d->recv_max;

	if (!t->cm_check_ns) {
		if (sent) {
			t->cm_check_ns = n->now_ns +
					 (uint64_t)n->cfg.connection_alive_interval *
						 NSEC_PER_SEC;
			t->cm_rx_at_arm = d->rx_packets;
			t->cm_tested = false;
		}
		return;
	}
	if (n->now_ns < t->cm_check_ns)
		return;

	/*
	 * The certificate first, at either check, whatever the traffic:
	 * 1.6.1's handleInvalidCertificate opens both HandleMonitorTick and
	 * HandleDeletionTick. This is what closes tunnels a reloaded CA pool
	 * or blocklist no longer accepts; the reload itself leaves them be.
	 */
	if (!still_valid(n, t)) {
		ctl_tunnel_remove(n, t, true);
		return;
	}
	if (d->rx_packets > t->cm_rx_at_arm) {
		/* Heard from the peer: watch again from the next send on. */
		t->cm_check_ns = 0;
		return;
	}
	ctl_ip_str(t->add.vpn_ip, ip);
	if (!t->cm_tested) {
		vl_log(VL_LOG_DEBUG, "Tunnel status", "vpnIp", ip, "tunnelCheck",
		       "no inbound traffic, sending a test request", NULL);
		send_test(n, t);
		t->cm_tested = true;
		t->cm_check_ns = n->now_ns +
				 (uint64_t)n->cfg.pending_deletion_interval *
					 NSEC_PER_SEC;
		return;
	}
	vl_log(VL_LOG_INFO, "Tunnel status", "vpnIp", ip, "certName", t->name,
	       "tunnelCheck", "dead", "method", "active", NULL);
	ctl_tunnel_remove(n, t, false);
}

void ctl_cm_timers(struct ctl_node *n)
{
	struct ctlmsg_hdr req;

	if (!n->n_tunnels || n->now_ns < n->cm_next_dump_ns)
		return;
	n->cm_next_dump_ns = n->now_ns + NSEC_PER_SEC;
	/* One at a time; an answer that never ended stops blocking after 10 s. */
	if (n->activity_seq &&
	    n->now_ns - n->activity_sent_ns < 10 * NSEC_PER_SEC)
		return;
	if (ctl_node_send(n, &req, CTLMSG_ACTIVITY, sizeof(req)) == 0) {
		n->activity_seq = req.seq;
		n->activity_sent_ns = n->now_ns;
	}
}
