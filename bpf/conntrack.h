/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking: a forward entry (client -> VIP, says which backend)
 * and a reverse entry (backend -> client, says which VIP to restore). Both
 * live in LRU maps; nothing deletes them on close, because late packets of
 * a closing connection (last ACKs, retransmitted FINs) must still be NATed.
 * A SYN that finds a closed entry is a new connection reusing the port and
 * gets a fresh pick.
 */
#ifndef SLUICE_BPF_CONNTRACK_H
#define SLUICE_BPF_CONNTRACK_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

static __always_inline void sl_ct_key_fwd(struct sl_ct_key *k, const struct sl_pkt *p)
{
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = k->pad[1] = 0;
}

/* The reply tuple of a forward packet once it is DNATed to e. */
static __always_inline void sl_ct_key_rev(struct sl_ct_key *k, const struct sl_pkt *p,
					  const struct sl_ct_entry *e)
{
	__builtin_memcpy(k->saddr, e->addr, 16);
	__builtin_memcpy(k->daddr, p->saddr, 16);
	k->sport = e->port;
	k->dport = p->sport;
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = k->pad[1] = 0;
}

/* The forward tuple that a reply packet answers, given its reverse entry. */
static __always_inline void sl_ct_key_fwd_of_reply(struct sl_ct_key *k, const struct sl_pkt *p,
						   const struct sl_ct_entry *rn)
{
	__builtin_memcpy(k->saddr, p->daddr, 16);
	__builtin_memcpy(k->daddr, rn->addr, 16);
	k->sport = p->dport;
	k->dport = rn->port;
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = k->pad[1] = 0;
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
	return fwd->port == p->sport && fwd->addr[0] == p->saddr[0] &&
	       fwd->addr[1] == p->saddr[1] && fwd->addr[2] == p->saddr[2] &&
	       fwd->addr[3] == p->saddr[3];
}

static __always_inline __u32 sl_now_ticks(void)
{
	return bpf_ktime_get_coarse_ns() >> 30;
}

static __always_inline bool sl_tcp_closing(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_TCP && (p->tcp_flags & (SL_TCP_FIN | SL_TCP_RST));
}

static __always_inline bool sl_tcp_syn_only(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_TCP && (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK)) == SL_TCP_SYN;
}

/*
 * Is the connection this entry describes over, so that packet p starts a
 * new one? A bare SYN after FIN/RST (the client reused its port), or a UDP
 * datagram after the flow was idle.
 */
static __always_inline bool sl_ct_over(const struct sl_ct_entry *ct, const struct sl_pkt *p,
				       __u32 now)
{
	if (p->proto == IPPROTO_UDP)
		return now - ct->last_seen > SL_CT_UDP_IDLE_TICKS;
	return (ct->flags & SL_CT_CLOSED) && sl_tcp_syn_only(p);
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
