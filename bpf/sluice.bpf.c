// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice datapath. Both programs attach to the interface where clients'
 * traffic arrives:
 *   sl_ingress  (TC ingress): client -> VIP. Pick a backend for a new
 *               connection (a TCP SYN, or a UDP datagram), remember it,
 *               DNAT every packet to it. A pod that reaches itself through
 *               a VIP (hairpin) is also source-NATed and sent straight back.
 *   sl_egress   (TC egress):  backend -> client. Restore the VIP as the
 *               source. Done on the way out of the client's interface, after
 *               netfilter and routing, so the node's own conntrack and
 *               rp_filter see a consistent client <-> backend flow.
 * Anything that is not service traffic leaves untouched, with
 * TC_ACT_UNSPEC, so that the next filter on the hook still runs.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "cfg.h"
#include "maps.h"
#include "parse.h"
#include "nat.h"
#include "stats.h"
#include "select.h"
#include "conntrack.h"
#include "srcguard.h"
#include "filter.h"
#include "http.h"
#include "l7.h"
#include "fastpath.h"
#include "rt.h"
#include "reset.h"
#include "segtime.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int sl_count_parse(int res)
{
	if (res == SL_PARSE_FRAGMENT)
		sl_global_inc(SL_G_FRAGMENT);
	else if (res == SL_PARSE_MALFORMED)
		sl_global_inc(SL_G_MALFORMED);
	return TC_ACT_UNSPEC;
}

enum sl_new {
	SL_NEW_NAT = 0, /* translate per the entry written to *e */
	SL_NEW_PASS,	/* not service traffic (or no route): untouched */
	SL_NEW_DROP,	/* no endpoint, or no free tuple at the backend */
};

/* Client ports tried when the client's own port is taken at the backend. */
#define SL_REMAP_TRIES 8

/* Another port for connection fk, try i: spread over 1024-65535. */
static __always_inline __be16 sl_remap_port(const struct sl_ct_key *fk, __u32 seed, __u32 i)
{
	__u32 h = sl_hash_conn(seed ^ ((i + 1) * 0x9e3779b9), fk->saddr, fk->daddr, fk->sport,
			       fk->dport, fk->proto);

	return bpf_htons(1024 + h % 64512);
}

/*
 * Write the reverse entry (at rk, in sl_revnat if confirmed, else in
 * sl_revnat_new) of the connection that client packet p opened, translated
 * per forward entry e.
 */
static __always_inline int sl_rn_put(int confirmed, const struct sl_ct_key *rk,
				     const struct sl_pkt *p, const struct sl_ct_entry *e, __u64 flags)
{
	struct sl_ct_entry rv = {};

	__builtin_memcpy(rv.addr, p->daddr, 16);
	rv.port = p->dport;
	rv.nat_port = p->sport;
	rv.family = p->family;
	rv.subset_id = e->subset_id;
	rv.flags = e->flags &
		   (SL_CT_LOCAL | SL_CT_HAIRPIN | SL_CT_RT_WAIT | SL_CT_FAST | SL_CT_NO_HTTP);
	if (confirmed)
		return bpf_map_update_elem(&sl_revnat, rk, &rv, flags);
	return bpf_map_update_elem(&sl_revnat_new, rk, &rv, flags);
}

/*
 * May connection fk take reply tuple rk? Yes if nobody holds it, if it is
 * fk's own (a SYN retransmitted, a port reused), or if its holder is closed.
 */
static __always_inline bool sl_rev_free(const struct sl_ct_key *rk, const struct sl_ct_key *fk)
{
	struct sl_ct_entry *rn, *other;
	struct sl_ct_key ok;
	bool confirmed;

	rn = sl_rn_find(rk, &confirmed);
	if (!rn || sl_ct_rev_owned(rn, fk))
		return true;
	sl_ct_fwd_key_of(&ok, rk, rn);
	other = sl_ct_find(&ok, &confirmed);
	return !other || (other->flags & SL_CT_CLOSED);
}

/*
 * Give connection fk, translated per e, a reply tuple at its backend that no
 * live connection holds, so that two connections never meet there: the
 * client's own port when it is free, else a remapped one in e->nat_port (a
 * client that uses one port towards two VIPs that share a backend, as Linux
 * does for different destinations). Writes that tuple to *rk.
 */
static __always_inline int sl_claim(const struct sl_ct_key *fk, struct sl_ct_entry *e, __u32 seed,
				    struct sl_ct_key *rk)
{
	__u32 i;

	for (i = 0; i < SL_REMAP_TRIES; i++) {
		sl_ct_key_rev(rk, fk, e);
		if (sl_rev_free(rk, fk)) {
			if (i)
				sl_global_inc(SL_G_PORT_REMAP);
			return 0;
		}
		e->nat_port = sl_remap_port(fk, seed, i);
	}
	sl_global_inc(SL_G_CLASH_DROP);
	return -1;
}

/*
 * First packet of a connection to a service (a bare SYN, or a UDP datagram),
 * or one whose entry is over: look the VIP up in the active table slot and
 * choose, into *e. A service with any of the flags in refuse (SL_SVC_*) is
 * left alone: SL_NEW_PASS, uncounted. Global, like sl_ct_open: frames add
 * up along a chain of global calls, and a chain has 512 bytes of stack.
 */
__noinline int sl_choose(const struct sl_pkt *p, struct sl_ct_entry *e, __u32 refuse)
{
	struct sl_svc_key sk = {};
	struct sl_service *svc;
	struct sl_state *state;
	__u32 zero = 0;
	bool l7;
	int res;

	if (!p || !e)
		return SL_NEW_DROP;
	state = bpf_map_lookup_elem(&sl_state, &zero);
	if (!state)
		return SL_NEW_PASS;
	sk.slot = state->active_slot;
	__builtin_memcpy(sk.addr, p->daddr, 16);
	sk.port = p->dport;
	sk.proto = p->proto;
	sk.family = p->family;
	svc = bpf_map_lookup_elem(&sl_services, &sk);
	if (!svc) {
		sl_global_inc(SL_G_PASS);
		return SL_NEW_PASS;
	}
	if (svc->flags & refuse)
		return SL_NEW_PASS;

	/*
	 * Routes that match on HTTP need the request, which a SYN does not
	 * carry: the L7 step decides those connections, with the same routes.
	 * They go to it DNATed to our local address (cfg.h), marked for the
	 * policy route; without a listener they are split by weight.
	 */
	l7 = (svc->flags & SL_SVC_L7) && p->proto == IPPROTO_TCP;
	if (l7 && sl_l7_listening(p->family)) {
		sl_addr_from_cfg(e->addr, sl_l7_local(p->family));
		e->port = p->dport;
		e->family = p->family;
		e->subset_id = SL_SUBSET_NONE;
		e->flags = SL_CT_LOCAL;
		return SL_NEW_NAT;
	}
	if (l7)
		sl_global_inc(SL_G_L7_FALLBACK);
	/* the slot read above, not a second read: a flip in between would mix */
	res = sl_select(svc, sk.slot, state->hash_seed, p, e);
	if (res == SL_SEL_NO_ROUTE) {
		sl_global_inc(SL_G_NO_ROUTE);
		return SL_NEW_PASS;
	}
	if (res != SL_SEL_OK) {
		sl_global_inc(SL_G_NO_ENDPOINT);
		return SL_NEW_DROP;
	}
	/* its own backend: the reply would never leave the pod */
	if (sl_addr_same(e->addr, p->saddr))
		e->flags |= SL_CT_HAIRPIN;
	if (svc->flags & SL_SVC_NO_HTTP)
		e->flags |= SL_CT_NO_HTTP;
	sl_rt_arm(p, e);
	return SL_NEW_NAT;
}

/*
 * Remember connection fk, chosen into *e (e->last_seen: the packet's time),
 * unconfirmed: claim its tuple at the backend, write both entries and count
 * it. reuse: the tuple's old entry is over and this one replaces it.
 */
__noinline int sl_ct_open(struct __sk_buff *skb, const struct sl_pkt *p, const struct sl_ct_key *fk,
			  struct sl_ct_entry *e, int reuse)
{
	struct sl_ct_entry *won;
	struct sl_state *state;
	struct sl_ct_key rk;
	struct sl_stats *st;
	__u32 zero = 0;

	if (!skb || !p || !fk || !e)
		return SL_NEW_DROP;
	/* the seed only changes with a fresh load: no need to read it with the slot */
	state = bpf_map_lookup_elem(&sl_state, &zero);
	if (!state)
		return SL_NEW_DROP;
	e->nat_port = p->sport;
	e->ifindex = skb->ifindex;
	/* a hairpin bounces, the L7 step is local: neither has a next hop */
	if (sl_fast_on() && !(e->flags & (SL_CT_LOCAL | SL_CT_HAIRPIN)))
		e->flags |= SL_CT_FAST;
	if (sl_claim(fk, e, state->hash_seed, &rk))
		return SL_NEW_DROP;

	if (reuse) {
		bpf_map_update_elem(&sl_ct_new, fk, e, BPF_ANY);
	} else if (bpf_map_update_elem(&sl_ct_new, fk, e, BPF_NOEXIST)) {
		/* a SYN and its retransmission on two CPUs: both use the first choice */
		won = bpf_map_lookup_elem(&sl_ct_new, fk);
		if (!won)
			return SL_NEW_DROP;
		*e = *won;
		return SL_NEW_NAT;
	}
	sl_rn_put(0, &rk, p, e, BPF_ANY);

	if (e->flags & SL_CT_LOCAL) {
		sl_global_inc(SL_G_L7_LOCAL);
		return SL_NEW_NAT;
	}
	if (e->flags & SL_CT_HAIRPIN)
		sl_global_inc(SL_G_HAIRPIN);
	sl_global_inc(SL_G_NEW_CONN);
	st = sl_stats_of(e->subset_id);
	if (st)
		st->conns_opened++;
	return SL_NEW_NAT;
}

/* Confirm UDP flow fk on its first reply (k, rv). Global: its own frame. */
__noinline int sl_udp_confirm(const struct sl_ct_key *fk, const struct sl_ct_key *k,
			      const struct sl_ct_entry *rv)
{
	struct sl_ct_entry *fwd, f;

	if (!fk || !k || !rv)
		return 0;
	fwd = bpf_map_lookup_elem(&sl_ct_new, fk);
	if (!fwd)
		return 0;
	f = *fwd;
	if (!sl_ct_confirm(fk, &f, k, rv) &&
	    !(__sync_fetch_and_or(&fwd->flags, SL_CT_NO_ROOM) & SL_CT_NO_ROOM))
		sl_global_inc(SL_G_CT_FULL);
	return 0;
}

enum sl_reply_at {
	SL_REPLY_EGRESS = 0, /* egress of the client's interface, after the stack */
	SL_REPLY_HAIRPIN,    /* ingress of a hairpin client's own interface */
	SL_REPLY_FAST,	     /* ingress of the backend's interface: fast path */
};

/*
 * A reply: from a backend (egress of the client's interface; with the fast
 * path, ingress of the backend's), or for a hairpin connection from the pod
 * itself to our hairpin address (ingress of its interface). Restore the VIP
 * as the source, and the client's own port and (hairpin) address as the
 * destination.
 */
static __always_inline int sl_reply_at(struct __sk_buff *skb, const struct sl_pkt *p, int at)
{
	struct sl_ct_entry *rn, *fwd, rv;
	bool confirmed, fc, hairpin = at == SL_REPLY_HAIRPIN;
	const struct sl_ct_key *k = &p->key; /* the reply's own tuple */
	struct sl_ct_key fk;
	struct sl_stats *st;
	struct sl_fast *f = NULL;
	__u32 len = skb->len;
	struct sl_nat n;

	/* skb and p: checked by the caller (sl_reply), or sl_egress's own */
	rn = sl_rn_find(k, &confirmed);
	if (!rn || !(rn->flags & SL_CT_HAIRPIN) != !hairpin)
		return TC_ACT_UNSPEC;
	if (at == SL_REPLY_FAST && !(rn->flags & SL_CT_FAST))
		return TC_ACT_UNSPEC;
	rv = *rn;
	sl_nat_of(&n, p);
	__builtin_memcpy(n.saddr, rv.addr, 16);
	n.sport = rv.port;
	n.dport = rv.nat_port;
	if (hairpin)
		__builtin_memcpy(n.daddr, p->saddr, 16); /* the client is the backend */
	/* not to be redirected: untouched, so that egress translates it as usual */
	if (at == SL_REPLY_FAST && (!(f = sl_fast_slot()) || sl_fast_route(skb, p, &n, f)))
		return TC_ACT_UNSPEC;
	st = sl_stats_of(rv.subset_id);

	/* the forward key, for the rare packets that need it (not a plain ACK's) */
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (SL_TCP_SYN | SL_TCP_FIN | SL_TCP_RST))) {
		sl_ct_fwd_key_of(&fk, k, &rv);
		fwd = sl_ct_find(&fk, &fc);
		/*
		 * A SYN-ACK on a closed connection, or from a backend that
		 * is not the connection's (it was picked afresh since),
		 * answers a direct connection that reuses the client port:
		 * not ours, and neither is the rest of it. Forget the stale
		 * reverse entry, or its data would come back from the VIP.
		 */
		if ((p->tcp_flags & SL_TCP_SYN) &&
		    (!fwd || (fwd->flags & SL_CT_CLOSED) || !sl_ct_is_backend(fwd, p))) {
			bpf_map_delete_elem(confirmed ? (void *)&sl_revnat : (void *)&sl_revnat_new,
					    k);
			return TC_ACT_UNSPEC;
		}
		if (fwd && sl_tcp_closing(p))
			sl_ct_close(fwd);
		if ((p->tcp_flags & SL_TCP_RST) && st)
			st->backend_resets++;
	} else if (p->proto == IPPROTO_UDP && !confirmed) {
		/* the backend answered: a UDP flow is confirmed by its first reply */
		sl_ct_fwd_key_of(&fk, k, &rv);
		sl_udp_confirm(&fk, k, &rv);
	}
	if ((rv.flags & SL_CT_RT_WAIT) && p->payload_len)
		sl_rt_response(p, k, rn, rv.subset_id);

	if (sl_nat_rewrite(skb, p, &n)) {
		sl_global_inc(SL_G_NAT_FAIL);
		return TC_ACT_SHOT;
	}
	sl_global_inc(SL_G_REPLY);
	if (st) {
		st->packets_out += sl_wire_packets(skb);
		st->bytes_out += len;
		/* plaintext HTTP/1.x status lines only: limits in http.h */
		if (!(rv.flags & SL_CT_NO_HTTP))
			sl_http_count(skb, p, st, rv.subset_id);
	}
	if (at == SL_REPLY_FAST && f) {
		sl_global_inc(SL_G_FAST_REDIRECT);
		return sl_fast_send(skb, f);
	}
	return hairpin ? sl_bounce(skb) : TC_ACT_OK;
}

/* sl_reply_at for sl_ingress's two cases. Global: its frame stays out of sl_ingress's. */
__noinline int sl_reply(struct __sk_buff *skb, const struct sl_pkt *p, int at)
{
	if (!skb || !p)
		return TC_ACT_UNSPEC;
	return sl_reply_at(skb, p, at);
}

/*
 * Put back a connection's reverse entry if it went missing, in the stage of
 * its forward entry (global: own frame).
 */
__noinline int sl_rn_restore(const struct sl_pkt *p, const struct sl_ct_key *fk,
			    const struct sl_ct_entry *e, int confirmed)
{
	struct sl_ct_key rk;

	if (!p || !fk || !e)
		return 0;
	sl_ct_key_rev(&rk, fk, e);
	if (bpf_map_lookup_elem(&sl_revnat, &rk) || bpf_map_lookup_elem(&sl_revnat_new, &rk))
		return 0;
	/* the confirmed table is a HASH: it can be full (sl_revnat_new is an LRU) */
	if (sl_rn_put(confirmed, &rk, p, e, BPF_NOEXIST))
		sl_global_inc(SL_G_REVNAT_FULL);
	else
		sl_global_inc(SL_G_REVNAT_RESTORED);
	return 0;
}

/*
 * A connection's entry is over (sl_ct_over): forget its reverse entry and
 * its confirmed forward entry, so that a new choice takes the tuple.
 */
__noinline int sl_ct_retire(const struct sl_ct_key *fk, const struct sl_ct_entry *ct, int confirmed)
{
	struct sl_ct_key rk;

	if (!fk || !ct)
		return 0;
	/* the old backend's replies to this client port are no longer ours */
	sl_ct_key_rev(&rk, fk, ct);
	sl_rn_forget(&rk, fk);
	if (confirmed)
		bpf_map_delete_elem(&sl_conntrack, fk);
	return 0;
}

/*
 * The client's ACK (p) completes the handshake of unconfirmed connection fk
 * (entry ct in sl_ct_new, e its copy). Returns 1 when the caller is to
 * rebuild the reverse entry (sl_rn_restore), evicted meanwhile, at once: the
 * reply to the request that follows this ACK will not wait for a tick (the
 * caller's call, not this one's: a chain of global calls has 512 bytes of
 * stack). When sl_conntrack is full, that is counted once per connection,
 * and the caller tries again once a tick.
 */
__noinline int sl_tcp_confirm(const struct sl_pkt *p, const struct sl_ct_key *fk,
			      struct sl_ct_entry *ct,
			      const struct sl_ct_entry *e)
{
	struct sl_ct_entry *rn;
	struct sl_ct_key rk;

	if (!p || !fk || !ct || !e)
		return 0;
	sl_ct_key_rev(&rk, fk, e);
	rn = bpf_map_lookup_elem(&sl_revnat_new, &rk);
	if (sl_ct_confirm(fk, e, &rk, rn))
		return !rn;
	if (!(__sync_fetch_and_or(&ct->flags, SL_CT_NO_ROOM) & SL_CT_NO_ROOM))
		sl_global_inc(SL_G_CT_FULL);
	return 0;
}

/* Translate a client's packet per its entry e, count it, and send it on. */
static __always_inline int sl_forward_at(struct __sk_buff *skb, const struct sl_pkt *p,
					 const struct sl_ct_entry *e)
{
	struct sl_fast *f = NULL;
	struct sl_stats *st;
	__u32 len;
	struct sl_nat n;

	/* pointers checked by the caller (sl_forward), or its own stack */
	len = skb->len;
	sl_nat_of(&n, p);
	__builtin_memcpy(n.daddr, e->addr, 16);
	n.dport = e->port;
	n.sport = e->nat_port;
	if (e->flags & SL_CT_HAIRPIN)
		sl_addr_from_cfg(n.saddr, sl_hairpin_addr(p->family));
	if (sl_fast_on() && (e->flags & SL_CT_FAST)) {
		f = sl_fast_slot();
		if (f && sl_fast_route(skb, p, &n, f))
			f = NULL;
	}
	if (sl_nat_rewrite(skb, p, &n)) {
		sl_global_inc(SL_G_NAT_FAIL);
		return TC_ACT_SHOT;
	}
	if (e->flags & SL_CT_LOCAL) {
		sl_l7_mark(skb);
		return TC_ACT_OK;
	}
	st = sl_stats_of(e->subset_id);
	if (st) {
		st->packets_in += sl_wire_packets(skb);
		st->bytes_in += len;
	}
	if (f) {
		sl_global_inc(SL_G_FAST_REDIRECT);
		return sl_fast_send(skb, f);
	}
	return (e->flags & SL_CT_HAIRPIN) ? sl_bounce(skb) : TC_ACT_OK;
}

/* sl_forward_at for a new connection's first packet (global: its own frame) */
__noinline int sl_forward(struct __sk_buff *skb, const struct sl_pkt *p, const struct sl_ct_entry *e)
{
	if (!skb || !p || !e)
		return TC_ACT_SHOT;
	return sl_forward_at(skb, p, e);
}

/* What sl_established tells sl_ingress when it did not translate the packet. */
enum sl_est {
	SL_EST_NONE = -100, /* no entry: a new connection, or not ours */
	SL_EST_OVER,	    /* an entry that is over, retired: its tuple is free again */
};

/*
 * A client's packet to a VIP whose connection has an entry: translate it
 * per the entry, with the rewrite inline (the path of nearly every client
 * packet: a call costs a return, nat.h). An entry that is over (sl_ct_over)
 * is retired here, and *now says when, for the choice that replaces it.
 * Global: its frame and sl_ingress's add up along the call chain.
 */
__noinline int sl_established(struct __sk_buff *skb, const struct sl_pkt *p, __u32 *now_out)
{
	struct sl_ct_entry *ct, e;
	const struct sl_ct_key *fk = &p->key;
	bool confirmed, touched;
	__u32 now;
	int res;
	SL_SEG_START(t);

	if (!skb || !p || !now_out)
		return TC_ACT_UNSPEC;
	SL_SEG(SL_SEG_MARK, t);
	ct = sl_ct_find(fk, &confirmed);
	SL_SEG(SL_SEG_CT_FIND, t);
	if (!ct)
		return SL_EST_NONE;
	now = sl_now_ticks();

	/*
	 * A connection's packets come in where it started: from elsewhere,
	 * they are forged (or lost their way) and may neither use nor close
	 * nor re-pick it.
	 */
	if (ct->ifindex != skb->ifindex) {
		sl_global_inc(SL_G_WRONG_IFACE);
		return TC_ACT_SHOT;
	}
	if (sl_ct_over(ct, p, now, confirmed)) {
		/* counted closed once (TCP was, at its FIN or RST) */
		if (p->proto == IPPROTO_UDP)
			sl_ct_close(ct);
		else if (ct->flags & SL_CT_CLOSED)
			sl_global_inc(SL_G_PORT_REUSE);
		if (p->proto == IPPROTO_UDP)
			sl_global_inc(SL_G_UDP_EXPIRED);
		sl_ct_retire(fk, ct, confirmed);
		*now_out = now;
		return SL_EST_OVER;
	}
	if (sl_tcp_closing(p))
		sl_ct_close(ct);
	/* written once a tick, not per packet, confirmed or not (UDP ages) */
	touched = sl_ct_touch(ct, now);
	if (ct->flags & (SL_CT_RT_WAIT | SL_CT_ABORT_RESET)) {
		/* a RST of the client's own goes on: it ends the backend's side */
		if ((ct->flags & SL_CT_ABORT_RESET) && !(p->tcp_flags & SL_TCP_RST)) {
			sl_ct_close(ct);
			return sl_abort_reset(skb, p);
		}
		if ((ct->flags & SL_CT_RT_WAIT) && p->payload_len)
			sl_rt_request(p, fk, ct);
	}
	e = *ct;
	sl_global_inc((e.flags & SL_CT_LOCAL) ? SL_G_L7_ESTABLISHED : SL_G_ESTABLISHED);
	/*
	 * The client's ACK: it got the SYN-ACK, its address is real (with
	 * sl_conntrack full, tried again once a tick). Otherwise a reverse
	 * entry gone alone (the unconfirmed maps are LRU and evict each
	 * direction on its own) is put back, checked once a tick; at once for
	 * a SYN again, which says that the SYN-ACK went astray.
	 */
	if (!confirmed && sl_tcp_ack_only(p) && (!(e.flags & SL_CT_NO_ROOM) || touched)) {
		if (sl_tcp_confirm(p, fk, ct, &e))
			sl_rn_restore(p, fk, &e, 1);
	} else if (touched || (!confirmed && sl_tcp_syn_only(p))) {
		sl_rn_restore(p, fk, &e, confirmed);
	}
	SL_SEG(SL_SEG_EST_STATE, t);
	res = sl_forward_at(skb, p, &e);
	SL_SEG(SL_SEG_EST_FORWARD, t);
	return res;
}

/*
 * Is p, taken for a client's packet (key fk: its own tuple), a backend's
 * reply? Its (client address, port) shares a bit of sl_vip_filter with some
 * VIP now and then; at a backend's interface with the fast path off, such a
 * reply comes here, misses, and goes on to the stack as it should: it is
 * not a conntrack miss.
 */
static __always_inline bool sl_is_reply(const struct sl_pkt *p, const struct sl_ct_key *fk)
{
	bool confirmed;

	return sl_filter_maybe(&sl_be_filter, p->saddr, p->sport, p->proto) &&
	       sl_rn_find(fk, &confirmed);
}

/*
 * A client's packet to a VIP with no live entry (sl_established said so):
 * open a connection, or leave the packet alone. reuse: its entry was over
 * and retired at time now, and this connection takes the tuple (a port
 * reused, a UDP flow after its idle timeout). Global: its own frame.
 */
__noinline int sl_client_new(struct __sk_buff *skb, const struct sl_pkt *p, int reuse, __u32 now)
{
	struct sl_ct_entry e = {};
	const struct sl_ct_key *fk = &p->key;
	int res;
	SL_SEG_START(t);

	if (!skb || !p)
		return TC_ACT_UNSPEC;
	/* no mark here: sl_established marked this packet's one (segtime.h) */
	if (!reuse) {
		/*
		 * Only a SYN opens a TCP connection: a mid-stream packet of a
		 * tuple we do not know (its entry reclaimed, or never ours) is
		 * left to the node, never sent to a newly picked backend that
		 * knows nothing of it.
		 */
		if (p->proto == IPPROTO_TCP && !sl_tcp_syn_only(p)) {
			if (!sl_is_reply(p, fk))
				sl_global_inc(SL_G_CT_MISS);
			return TC_ACT_UNSPEC;
		}
		if (!sl_src_ok(skb, p)) {
			sl_global_inc(SL_G_SRC_REJECTED);
			return TC_ACT_SHOT;
		}
		now = sl_now_ticks();
	}
	/*
	 * One time per packet: a connection that replaces an expired one
	 * starts at the time that expired it (a second read could be a tick
	 * later, which test_model, holding one time per frame, tells apart).
	 */
	e.last_seen = now;
	SL_SEG(SL_SEG_NEW_CHECKS, t);
	res = sl_choose(p, &e, 0);
	SL_SEG(SL_SEG_CHOOSE, t);
	if (res == SL_NEW_NAT)
		res = sl_ct_open(skb, p, fk, &e, reuse);
	SL_SEG(SL_SEG_OPEN, t);
	if (res == SL_NEW_PASS)
		return TC_ACT_UNSPEC;
	if (res == SL_NEW_DROP)
		return TC_ACT_SHOT;
	res = sl_forward(skb, p, &e);
	SL_SEG(SL_SEG_NEW_FORWARD, t);
	return res;
}

/*
 * A client's packet to a VIP: translate it per its connection's entry, or
 * open one.
 */
static __always_inline int sl_client(struct __sk_buff *skb, const struct sl_pkt *p)
{
	__u32 now = 0;
	int res;

	res = sl_established(skb, p, &now);
	if (res == SL_EST_NONE)
		return sl_client_new(skb, p, 0, 0);
	if (res == SL_EST_OVER)
		return sl_client_new(skb, p, 1, now);
	return res;
}

SEC("tc")
int sl_ingress(struct __sk_buff *skb)
{
	struct sl_pkt p = {};
	int res;

	res = sl_parse(skb, &p);
	if (res != SL_PARSE_OK)
		return sl_count_parse(res);
	if (sl_addr_is(p.daddr, sl_hairpin_addr(p.family)))
		return sl_reply(skb, &p, SL_REPLY_HAIRPIN);
	/*
	 * A backend's reply to a fast-path connection, at the backend's
	 * interface: asked before sl_vip_filter, whatever it says. Its bits
	 * are hashes, so a reply's (client address, port) shares one with
	 * some VIP now and then (with 10,000 VIPs, 1 client port in 27): a
	 * reply taken for a client's packet misses in conntrack and goes to
	 * the node's stack, whose conntrack never saw the request and drops
	 * it as INVALID; every SYN-ACK of that client port is lost, however
	 * often the client retries. The exact lookups in sl_reply decide.
	 */
	if (sl_fast_on() && sl_filter_maybe(&sl_be_filter, p.saddr, p.sport, p.proto)) {
		res = sl_reply(skb, &p, SL_REPLY_FAST);
		if (res != TC_ACT_UNSPEC)
			return res;
	}
	if (!sl_filter_maybe(&sl_vip_filter, p.daddr, p.dport, p.proto)) {
		sl_global_inc(SL_G_PASS);
		return TC_ACT_UNSPEC;
	}
	return sl_client(skb, &p);
}

SEC("tc")
int sl_egress(struct __sk_buff *skb)
{
	struct sl_pkt p = {};
	int res;

	res = sl_parse(skb, &p);
	if (res != SL_PARSE_OK)
		return sl_count_parse(res);
	/* from a backend, or from the L7 step's sockets (cfg.h) */
	if (!sl_filter_maybe(&sl_be_filter, p.saddr, p.sport, p.proto) &&
	    !sl_addr_is(p.saddr, sl_l7_local(p.family)))
		return TC_ACT_UNSPEC;
	/* inline: the hot path of every reply, and a call costs a return (nat.h) */
	return sl_reply_at(skb, &p, SL_REPLY_EGRESS);
}

#define SL_AF_INET_SOCK	 2  /* AF_INET, as sk_lookup reports it */
#define SL_SOCK_STREAM	 1  /* SOCK_STREAM, as cgroup/connect4 reports it */
#define SL_AF_INET6_SOCK 10 /* AF_INET6 */

/*
 * sk_lookup, in the node's namespace: a connection that sl_ingress sent to
 * the L7 step arrives DNATed to our local address (cfg.h), marked, and goes
 * to the L7 listener of its family. Everything else is left to the kernel's
 * own lookup. Runs only for packets with no established socket, so
 * TIME_WAIT is handled as usual.
 */
SEC("sk_lookup")
int sl_l7_lookup(struct bpf_sk_lookup *ctx)
{
	struct bpf_sock *sk;
	__u32 idx;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	if (ctx->family == SL_AF_INET_SOCK) {
		if (ctx->local_ip4 != sl_cfg.l7_local4[0])
			return SK_PASS;
		idx = SL_L7_LISTEN_INET;
	} else if (ctx->family == SL_AF_INET6_SOCK) {
		if (ctx->local_ip6[0] != sl_cfg.l7_local6[0] ||
		    ctx->local_ip6[1] != sl_cfg.l7_local6[1] ||
		    ctx->local_ip6[2] != sl_cfg.l7_local6[2] ||
		    ctx->local_ip6[3] != sl_cfg.l7_local6[3])
			return SK_PASS;
		idx = SL_L7_LISTEN_INET6;
	} else {
		return SK_PASS;
	}
	sk = bpf_map_lookup_elem(&sl_l7_listen, &idx);
	if (!sk)
		return SK_PASS;
	bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return SK_PASS;
}

/*
 * Socket-level balancing (`run --socket-lb CGROUP`, docs/socketlb.md): a
 * TCP connect() to a VIP from a process in that cgroup goes straight to a
 * backend, chosen as sl_ingress would choose for a SYN, so none of the
 * connection's packets needs a rewrite or a conntrack entry. The subset
 * goes with the socket (sl_sock_lb), and three small programs on the same
 * cgroup count as the packet path does: packets and bytes both ways, the
 * backend's resets, HTTP status lines and the response time of the first
 * request (sl_sock_egress, sl_sock_ingress), and the close
 * (sl_sock_release). Left to the packet path: routes on the client's
 * address (not known yet at connect()), ports through the L7 step, affinity
 * by client address, IPv6 and UDP.
 */
SEC("cgroup/connect4")
int sl_sock_connect4(struct bpf_sock_addr *ctx)
{
	struct sl_ct_entry e = {};
	struct sl_pkt p = {};
	struct sl_sock_lb *s;
	struct sl_stats *st;
	int res;

	if (ctx->type != SL_SOCK_STREAM || ctx->protocol != IPPROTO_TCP)
		return 1;
	/*
	 * A connect() again on a socket balanced before (the first one
	 * failed): that attempt is over, counted closed here, not at release.
	 */
	s = bpf_sk_storage_get(&sl_sock_lb, ctx->sk, 0, 0);
	if (s) {
		st = sl_stats_of(s->subset_id);
		if (st)
			__sync_fetch_and_add(&st->conns_closed, 1);
		bpf_sk_storage_delete(&sl_sock_lb, ctx->sk);
	}
	p.family = SL_AF_INET;
	p.proto = IPPROTO_TCP;
	p.daddr[0] = ctx->user_ip4;
	p.dport = (__be16)ctx->user_port;
	if (!sl_filter_maybe(&sl_vip_filter, p.daddr, p.dport, p.proto))
		return 1;
	/* the client's port is not chosen yet: a random one splits by weight */
	p.sport = (__be16)bpf_get_prandom_u32();
	/* a connection with no endpoint or no route goes on, and the SYN meets the packet path */
	res = sl_choose(&p, &e, SL_SVC_SRC_MATCH | SL_SVC_AFFINITY_CLIENT_IP | SL_SVC_L7);
	if (res != SL_NEW_NAT)
		return 1;
	/* no storage, no counting: then the packet path takes it, as before */
	s = bpf_sk_storage_get(&sl_sock_lb, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return 1;
	s->subset_id = e.subset_id;
	s->flags = e.flags & (SL_CT_NO_HTTP | SL_CT_RT_WAIT);
	s->req_ns = 0;
	ctx->user_ip4 = e.addr[0];
	ctx->user_port = e.port;
	/* process context: a softirq on this CPU may add to the same row meanwhile */
	st = sl_stats_of(e.subset_id);
	if (st)
		__sync_fetch_and_add(&st->conns_opened, 1);
	return 1;
}

/* The balanced connection skb belongs to, or NULL. */
static __always_inline struct sl_sock_lb *sl_sock_of(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&sl_sock_lb, sk, 0, 0);
}

/*
 * Bytes as the packet path counts them: from the Ethernet header on (here
 * the skb starts at the IP header).
 */
#define SL_SOCK_L2_BYTES ETH_HLEN

/*
 * The TCP payload of skb (starting at its IPv4 header: connect4 balances
 * AF_INET sockets only) into p->payload_off/payload_len; its flags into
 * p->tcp_flags. False if the headers do not read as such.
 */
static __always_inline bool sl_sock_payload(struct __sk_buff *skb, struct sl_pkt *p)
{
	__u32 ihl, tot, doff;
	__u8 h[20];

	if (bpf_skb_load_bytes(skb, 0, h, 20))
		return false;
	ihl = (h[0] & 0xf) * 4;
	tot = ((__u32)h[2] << 8) | h[3];
	if ((h[0] >> 4) != 4 || ihl < 20 || ihl > 60 || bpf_skb_load_bytes(skb, ihl + 12, h, 2))
		return false;
	doff = (h[0] >> 4) * 4;
	if (doff < 20 || tot < ihl + doff)
		return false;
	p->tcp_flags = h[1];
	p->payload_off = ihl + doff;
	p->payload_len = tot - ihl - doff;
	return true;
}

/*
 * The client's packets to its backend: counted in. The first one with
 * payload starts the response-time clock (rt.h: the first request byte to
 * the first response byte); the headers are read only until then.
 */
SEC("cgroup_skb/egress")
int sl_sock_egress(struct __sk_buff *skb)
{
	struct sl_sock_lb *s = sl_sock_of(skb);
	struct sl_pkt p = {};
	struct sl_stats *st;

	if (!s)
		return 1;
	/* often process context (a send()): a softirq may add to this CPU's row meanwhile */
	st = sl_stats_of(s->subset_id);
	if (st) {
		__sync_fetch_and_add(&st->packets_in, sl_wire_packets(skb));
		__sync_fetch_and_add(&st->bytes_in, skb->len + SL_SOCK_L2_BYTES);
	}
	if ((s->flags & SL_CT_RT_WAIT) && sl_sock_payload(skb, &p) && p.payload_len &&
	    (__sync_fetch_and_and(&s->flags, ~SL_CT_RT_WAIT) & SL_CT_RT_WAIT))
		s->req_ns = bpf_ktime_get_ns();
	return 1;
}

/*
 * The backend's packets to the client: counted out, with its resets and
 * (not SL_CT_NO_HTTP) the status line of a plaintext HTTP/1.x response, as
 * sl_reply counts them; the first response byte stops the clock.
 */
SEC("cgroup_skb/ingress")
int sl_sock_ingress(struct __sk_buff *skb)
{
	struct sl_sock_lb *s = sl_sock_of(skb);
	struct sl_pkt p = {};
	struct sl_stats *st;
	__u64 t0, now;

	if (!s)
		return 1;
	st = sl_stats_of(s->subset_id);
	if (!st)
		return 1;
	st->packets_out += sl_wire_packets(skb);
	st->bytes_out += skb->len + SL_SOCK_L2_BYTES;
	if (!sl_sock_payload(skb, &p))
		return 1;
	if (p.tcp_flags & SL_TCP_RST)
		st->backend_resets++;
	if (!p.payload_len)
		return 1;
	/*
	 * The backend's payload before any request (a server that speaks
	 * first): nothing to time, ever, as on the packet path (rt.h).
	 */
	if ((s->flags & SL_CT_RT_WAIT) &&
	    (__sync_fetch_and_and(&s->flags, ~SL_CT_RT_WAIT) & SL_CT_RT_WAIT))
		t0 = 0;
	else
		t0 = s->req_ns;
	/* one CPU takes the first response byte's time */
	if (t0 && __sync_val_compare_and_swap(&s->req_ns, t0, 0) == t0) {
		now = bpf_ktime_get_ns();
		sl_rt_record(s->subset_id, now > t0 ? (now - t0) / 1000 : 0);
	}
	if (!(s->flags & SL_CT_NO_HTTP))
		sl_http_count(skb, &p, st, s->subset_id);
	return 1;
}

/* A balanced connection's socket goes: counted closed, as at its FIN or RST. */
SEC("cgroup/sock_release")
int sl_sock_release(struct bpf_sock *sk)
{
	struct sl_sock_lb *s;
	struct sl_stats *st;

	s = bpf_sk_storage_get(&sl_sock_lb, sk, 0, 0);
	if (!s)
		return 1;
	/* process context: as in sl_sock_connect4 */
	st = sl_stats_of(s->subset_id);
	if (st)
		__sync_fetch_and_add(&st->conns_closed, 1);
	return 1;
}
