/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking (sluice_abi.h, docs/conntrack.md): forward entries say
 * which backend, reverse entries which VIP to restore. A connection starts
 * unconfirmed (sl_ct_new / sl_revnat_new, LRU: a SYN flood churns only
 * these) and is confirmed into sl_conntrack / sl_revnat (HASH, never
 * evicted) by the client's first ACK, or for UDP by the backend's first
 * reply. Nothing here deletes a closed entry: late packets of a closing
 * connection (last ACKs, retransmitted FINs) must still be translated;
 * `sluice run` reclaims it after --ct-closed-timeout, and a SYN that finds
 * it earlier (the client reused its port) picks afresh.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include "cfg.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "sluice_ct.h"

/* The reply tuple of forward tuple fk once translated per e. */
static __always_inline void sl_ct_key_rev(struct sl_ct_key *rk, const struct sl_ct_key *fk,
					  const struct sl_ct_entry *e)
{
	__be32 hp[4];

	sl_addr_from_cfg(hp, sl_hairpin_addr(fk->family));
	sl_ct_rev_key(rk, fk, e, hp);
}

/* A forward entry: confirmed first (the common case), then unconfirmed. */
static __always_inline struct sl_ct_entry *sl_ct_find(const struct sl_ct_key *k, bool *confirmed)
{
	struct sl_ct_entry *e = bpf_map_lookup_elem(&sl_conntrack, k);

	*confirmed = e != NULL;
	return e ?: bpf_map_lookup_elem(&sl_ct_new, k);
}

/* A reverse entry, likewise. */
static __always_inline struct sl_ct_entry *sl_rn_find(const struct sl_ct_key *k, bool *confirmed)
{
	struct sl_ct_entry *e = bpf_map_lookup_elem(&sl_revnat, k);

	*confirmed = e != NULL;
	return e ?: bpf_map_lookup_elem(&sl_revnat_new, k);
}

/*
 * Move a connection into the confirmed tables: the forward entry f of fk,
 * and the reverse entry r of rk if there is one (else the caller rebuilds
 * it). A full sl_conntrack leaves it unconfirmed: it works on, but may be
 * evicted by newer connections (the caller counts that, once). True if it
 * was confirmed.
 */
static __always_inline bool sl_ct_confirm(const struct sl_ct_key *fk, const struct sl_ct_entry *f,
					  const struct sl_ct_key *rk, const struct sl_ct_entry *r)
{
	struct sl_ct_entry c = *f;

	c.flags &= ~SL_CT_NO_ROOM;
	if (bpf_map_update_elem(&sl_conntrack, fk, &c, BPF_NOEXIST))
		return false;
	if (r) {
		if (bpf_map_update_elem(&sl_revnat, rk, r, BPF_ANY)) {
			bpf_map_delete_elem(&sl_conntrack, fk);
			return false;
		}
		bpf_map_delete_elem(&sl_revnat_new, rk);
	}
	bpf_map_delete_elem(&sl_ct_new, fk);
	sl_global_inc(SL_G_CT_CONFIRMED);
	return true;
}

/* Forget the reverse entry at rk if it is still fk's (not another connection's since). */
static __always_inline void sl_rn_forget(const struct sl_ct_key *rk, const struct sl_ct_key *fk)
{
	struct sl_ct_entry *rn;
	bool confirmed;

	rn = sl_rn_find(rk, &confirmed);
	if (rn && sl_ct_rev_owned(rn, fk))
		bpf_map_delete_elem(confirmed ? (void *)&sl_revnat : (void *)&sl_revnat_new, rk);
}

/* Mark a connection closed once, whoever sends the first FIN or RST. */
static __always_inline void sl_ct_close(struct sl_ct_entry *fwd)
{
	struct sl_stats *st;

	if (__sync_fetch_and_or(&fwd->flags, SL_CT_CLOSED) & SL_CT_CLOSED)
		return;
	st = sl_stats_of(fwd->subset_id);
	if (st)
		st->conns_closed++; /* a per-CPU row: this CPU's alone */
}

/* Does reply packet p come from fwd's backend? */
static __always_inline bool sl_ct_is_backend(const struct sl_ct_entry *fwd, const struct sl_pkt *p)
{
	return fwd->port == p->sport && sl_addr_same(fwd->addr, p->saddr);
}

/* Longer than a jiffy at any HZ (100 and up). */
#define SL_JIFFY_MAX_NS 10000000ULL
#define SL_TICK_NS	(1ULL << 30)

/*
 * The coarse monotonic clock in 2^30 ns ticks. The coarse clock only moves
 * when jiffies do, and the verifier inlines bpf_jiffies64() into one load:
 * the clock helper runs once per jiffy and CPU (at most HZ times a second),
 * not once per packet. The timer tick bumps jiffies a moment before it
 * moves the clock, so a read in between sees the new jiffy with the old
 * time; that is the same tick unless a tick boundary is less than a jiffy
 * away, and near one the value is not cached.
 */
static __always_inline __u32 sl_now_ticks(void)
{
	__u64 j = bpf_jiffies64(), ns;
	struct sl_clock *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&sl_clock, &zero);
	if (!c)
		return bpf_ktime_get_coarse_ns() >> 30;
	if (c->jiffies != j) {
		ns = bpf_ktime_get_coarse_ns();
		c->ticks = ns >> 30;
		c->jiffies = (ns & (SL_TICK_NS - 1)) > SL_TICK_NS - SL_JIFFY_MAX_NS ? 0 : j;
	}
	return c->ticks;
}

static __always_inline bool sl_tcp_closing(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_TCP && (p->tcp_flags & (SL_TCP_FIN | SL_TCP_RST));
}

/*
 * A SYN that opens a connection: no ACK, and no RST or FIN either (invalid
 * with a SYN: Linux discards such a segment, scanners send them).
 */
static __always_inline bool sl_tcp_syn_only(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST | SL_TCP_FIN)) == SL_TCP_SYN;
}

/* The client's ACK that completes a handshake (or any later one). */
static __always_inline bool sl_tcp_ack_only(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST)) == SL_TCP_ACK;
}

/*
 * Is the connection this entry describes over, so that packet p starts a
 * new one? A bare SYN after FIN/RST (the client reused its port), or a UDP
 * datagram after the flow was idle. Also a SYN again for an unconfirmed
 * connection to the L7 step: the step may have gone (or stopped taking
 * connections) since the first, and the retransmission decides anew, by
 * weight if nobody listens now.
 */
static __always_inline bool sl_ct_over(const struct sl_ct_entry *ct, const struct sl_pkt *p,
				       __u32 now, bool confirmed)
{
	if (p->proto == IPPROTO_UDP)
		return now - ct->last_seen > SL_CT_UDP_IDLE_TICKS;
	if (!sl_tcp_syn_only(p))
		return false;
	return (ct->flags & SL_CT_CLOSED) || (!confirmed && (ct->flags & SL_CT_LOCAL));
}

/*
 * Note that the connection is alive. Written at most once a tick (~1 s), to
 * keep the entry's cache line shared between CPUs; returns true when it
 * was, so that once-a-tick checks can ride along.
 */
static __always_inline bool sl_ct_touch(struct sl_ct_entry *ct, __u32 now)
{
	if (ct->last_seen == now)
		return false;
	ct->last_seen = now;
	return true;
}

#endif /* SLUICE_BPF_CONNTRACK_H */
