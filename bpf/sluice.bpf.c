// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice datapath. Both programs attach to the interface where clients'
 * traffic arrives:
 *   sl_ingress  (TC ingress): client -> VIP. Pick a backend for a new
 *               connection, remember it, DNAT every packet to it.
 *   sl_egress   (TC egress):  backend -> client. Restore the VIP as the
 *               source. Done on the way out of the client's interface, after
 *               netfilter and routing, so the node's own conntrack and
 *               rp_filter see a consistent client <-> backend flow.
 * Anything that is not service traffic leaves untouched (TC_ACT_OK).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "parse.h"
#include "nat.h"
#include "stats.h"
#include "select.h"
#include "conntrack.h"
#include "filter.h"
#include "http.h"
#include "l7.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int sl_count_parse(int res)
{
	if (res == SL_PARSE_FRAGMENT)
		sl_global_inc(SL_G_FRAGMENT);
	else if (res == SL_PARSE_MALFORMED)
		sl_global_inc(SL_G_MALFORMED);
	return TC_ACT_OK;
}

enum sl_new {
	SL_NEW_NAT = 0, /* NAT with the entry written to *e */
	SL_NEW_PASS,	/* not service traffic (or no route): untouched */
	SL_NEW_DROP,	/* the chosen subset has no endpoint */
	SL_NEW_LOCAL,	/* to the L7 listener: mark, do not NAT */
};

/* The reverse entry of forward entry e, for the packet p that made it. */
static __always_inline void sl_revnat_put(const struct sl_pkt *p, const struct sl_ct_entry *e,
					  __u64 flags)
{
	struct sl_ct_key rk;

	sl_ct_key_rev(&rk, p, e);
	bpf_map_update_elem(&sl_revnat, &rk,
			    &(struct sl_ct_entry){
				.addr = {p->daddr[0], p->daddr[1], p->daddr[2], p->daddr[3]},
				.port = p->dport,
				.family = p->family,
				.subset_id = e->subset_id,
			    },
			    flags);
}

/*
 * Remember the choice in e for the tuple fk: 0, or 1 when another CPU's
 * insert won the race (a SYN and its retransmission on two CPUs: both use
 * the first choice, now in *e), or -1 when conntrack is full.
 */
static __always_inline int sl_ct_remember(const struct sl_ct_key *fk, struct sl_ct_entry *e,
					  bool reuse)
{
	struct sl_ct_entry *won;

	if (reuse)
		return bpf_map_update_elem(&sl_conntrack, fk, e, BPF_ANY) ? -1 : 0;
	if (!bpf_map_update_elem(&sl_conntrack, fk, e, BPF_NOEXIST))
		return 0;
	won = bpf_map_lookup_elem(&sl_conntrack, fk);
	if (!won)
		return -1;
	*e = *won;
	return 1;
}

/*
 * First packet of a connection to a service, or one whose entry is gone:
 * look the VIP up in the active table slot, choose, and remember the choice.
 * reuse: the tuple's entry is over (a SYN after FIN/RST, an idle UDP flow)
 * and this packet's choice replaces it.
 */
static __always_inline int sl_new_conn(const struct sl_pkt *p, const struct sl_ct_key *fk,
				       struct sl_ct_entry *e, bool reuse)
{
	struct sl_svc_key sk = {};
	struct sl_service *svc;
	struct sl_state *state;
	struct sl_stats *st;
	__u32 zero = 0;
	bool l7;
	int res;

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

	/*
	 * Routes that match on HTTP need the request, which a SYN does not
	 * carry: the L7 step decides those connections, with the same routes.
	 * It finds them by their conntrack entry (sl_l7_lookup): without a
	 * listener, or without room for the entry, they are split by weight.
	 */
	l7 = (svc->flags & SL_SVC_L7) && p->proto == IPPROTO_TCP;
	if (l7 && sl_l7_listening(p->family)) {
		e->flags = SL_CT_LOCAL;
		e->subset_id = SL_SUBSET_NONE;
		e->last_seen = sl_now_ticks();
		res = sl_ct_remember(fk, e, reuse);
		if (res > 0)
			return (e->flags & SL_CT_LOCAL) ? SL_NEW_LOCAL : SL_NEW_NAT;
		if (!res) {
			sl_global_inc(SL_G_L7_LOCAL);
			return SL_NEW_LOCAL;
		}
		sl_global_inc(SL_G_CT_FULL); /* sl_select() below rewrites all of *e */
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
	e->last_seen = sl_now_ticks();
	res = sl_ct_remember(fk, e, reuse);
	if (res > 0)
		return (e->flags & SL_CT_LOCAL) ? SL_NEW_LOCAL : SL_NEW_NAT;
	if (res < 0)
		sl_global_inc(SL_G_CT_FULL); /* NATed all the same, uncached */
	sl_revnat_put(p, e, BPF_ANY);

	sl_global_inc(SL_G_NEW_CONN);
	st = sl_stats_of(e->subset_id);
	if (st)
		st->conns_opened++;
	return SL_NEW_NAT;
}

SEC("tc")
int sl_ingress(struct __sk_buff *skb)
{
	struct sl_ct_entry *ct, e = {};
	struct sl_pkt p = {};
	struct sl_ct_key fk;
	struct sl_stats *st;
	__u32 len = skb->len;
	int res;

	res = sl_parse(skb, &p);
	if (res != SL_PARSE_OK)
		return sl_count_parse(res);
	if (!sl_filter_maybe(&sl_vip_filter, p.daddr, p.dport, p.proto)) {
		sl_global_inc(SL_G_PASS);
		return TC_ACT_OK;
	}

	sl_ct_key_fwd(&fk, &p);
	ct = bpf_map_lookup_elem(&sl_conntrack, &fk);
	if (ct && (ct->flags & SL_CT_LOCAL)) {
		/*
		 * Handed to the L7 step: marked, never NATed. A bare SYN
		 * decides again: the L7 step may have reset this client port
		 * (closing nothing here), or be gone, or the service may have
		 * lost its HTTP routes. With a listener it comes out local
		 * again, a retransmission included.
		 */
		if (!sl_tcp_syn_only(&p)) {
			/* no FIN/RST bookkeeping: a local entry has no row to close */
			sl_global_inc(SL_G_L7_ESTABLISHED);
			sl_l7_mark(skb);
			return TC_ACT_OK;
		}
	} else if (ct) {
		__u32 now = sl_now_ticks();
		struct sl_ct_key rk;

		if (sl_ct_over(ct, &p, now)) {
			/* counted closed once (TCP was, at its FIN or RST) */
			if (p.proto == IPPROTO_UDP)
				sl_ct_close(ct);
			/* the old backend's replies to this client port are no longer ours */
			sl_ct_key_rev(&rk, &p, ct);
			bpf_map_delete_elem(&sl_revnat, &rk);
			sl_global_inc(p.proto == IPPROTO_UDP ? SL_G_UDP_EXPIRED : SL_G_PORT_REUSE);
			goto decide;
		}
		sl_global_inc(SL_G_ESTABLISHED);
		if (sl_tcp_closing(&p))
			sl_ct_close(ct);
		e = *ct;
		/*
		 * The two directions live in separate LRU maps: if the reverse
		 * entry went alone, replies would leave with the backend's
		 * address. Put it back; checked once a tick, not per packet.
		 */
		if (sl_ct_touch(ct, now)) {
			sl_ct_key_rev(&rk, &p, &e);
			if (!bpf_map_lookup_elem(&sl_revnat, &rk)) {
				sl_revnat_put(&p, &e, BPF_NOEXIST);
				sl_global_inc(SL_G_REVNAT_RESTORED);
			}
		}
		goto nat;
	}

decide:
	res = sl_new_conn(&p, &fk, &e, ct != NULL);
	if (res == SL_NEW_PASS)
		return TC_ACT_OK;
	if (res == SL_NEW_DROP)
		return TC_ACT_SHOT;
	if (res == SL_NEW_LOCAL) {
		sl_l7_mark(skb);
		return TC_ACT_OK;
	}
	if (sl_tcp_closing(&p)) {
		ct = bpf_map_lookup_elem(&sl_conntrack, &fk);
		if (ct)
			sl_ct_close(ct);
	}

nat:
	if (sl_nat_rewrite(skb, &p, true, e.addr, e.port)) {
		sl_global_inc(SL_G_NAT_FAIL);
		return TC_ACT_SHOT;
	}
	st = sl_stats_of(e.subset_id);
	if (st) {
		st->packets_in += sl_wire_packets(skb);
		st->bytes_in += len;
	}
	return TC_ACT_OK;
}

SEC("tc")
int sl_egress(struct __sk_buff *skb)
{
	struct sl_ct_entry *rn, *fwd;
	struct sl_pkt p = {};
	struct sl_ct_key k;
	struct sl_stats *st;
	__u32 len = skb->len;
	__be32 vip[4];
	__be16 vport;
	__u32 sid;
	int res;

	res = sl_parse(skb, &p);
	if (res != SL_PARSE_OK)
		return sl_count_parse(res);
	if (!sl_filter_maybe(&sl_be_filter, p.saddr, p.sport, p.proto))
		return TC_ACT_OK;

	sl_ct_key_fwd(&k, &p);
	rn = bpf_map_lookup_elem(&sl_revnat, &k);
	if (!rn)
		return TC_ACT_OK;
	__builtin_memcpy(vip, rn->addr, 16);
	vport = rn->port;
	sid = rn->subset_id;
	st = sl_stats_of(sid);

	if (p.proto == IPPROTO_TCP && (p.tcp_flags & (SL_TCP_SYN | SL_TCP_FIN | SL_TCP_RST))) {
		sl_ct_key_fwd_of_reply(&k, &p, rn);
		fwd = bpf_map_lookup_elem(&sl_conntrack, &k);
		/*
		 * A SYN-ACK on a closed connection, or from a backend that
		 * is not the connection's (it was picked afresh since),
		 * answers a direct connection that reuses the client port:
		 * not ours.
		 */
		if ((p.tcp_flags & SL_TCP_SYN) &&
		    (!fwd || (fwd->flags & SL_CT_CLOSED) || !sl_ct_is_backend(fwd, &p))) {
			/*
			 * The rest of that direct connection is not ours either:
			 * forget the stale reverse entry, or its data would come
			 * back from the VIP.
			 */
			sl_ct_key_fwd(&k, &p);
			bpf_map_delete_elem(&sl_revnat, &k);
			return TC_ACT_OK;
		}
		if (fwd && sl_tcp_closing(&p))
			sl_ct_close(fwd);
		if ((p.tcp_flags & SL_TCP_RST) && st)
			st->backend_resets++;
	}

	if (sl_nat_rewrite(skb, &p, false, vip, vport)) {
		sl_global_inc(SL_G_NAT_FAIL);
		return TC_ACT_SHOT;
	}
	sl_global_inc(SL_G_REPLY);
	if (st) {
		st->packets_out += sl_wire_packets(skb);
		st->bytes_out += len;
		/* plaintext HTTP/1.x status lines only: limits in http.h */
		sl_http_count(skb, &p, st, sid);
	}
	return TC_ACT_OK;
}

#define SL_AF_INET_SOCK	 2  /* AF_INET, as sk_lookup reports it */
#define SL_AF_INET6_SOCK 10 /* AF_INET6 */

/*
 * sk_lookup, in the node's namespace: a connection that sl_ingress sent to
 * local delivery (SL_CT_LOCAL) goes to the L7 listener of its family, which
 * then sees the VIP as its local address. Everything else is left to the
 * kernel's own lookup. Runs only for packets with no established socket, so
 * TIME_WAIT on VIP:port is handled as usual.
 */
SEC("sk_lookup")
int sl_l7_lookup(struct bpf_sk_lookup *ctx)
{
	struct sl_ct_key k = {};
	struct sl_ct_entry *ct;
	struct bpf_sock *sk;
	__u32 idx;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	if (ctx->family == SL_AF_INET_SOCK) {
		k.saddr[0] = ctx->remote_ip4;
		k.daddr[0] = ctx->local_ip4;
		k.family = SL_AF_INET;
	} else if (ctx->family == SL_AF_INET6_SOCK) {
		k.saddr[0] = ctx->remote_ip6[0];
		k.saddr[1] = ctx->remote_ip6[1];
		k.saddr[2] = ctx->remote_ip6[2];
		k.saddr[3] = ctx->remote_ip6[3];
		k.daddr[0] = ctx->local_ip6[0];
		k.daddr[1] = ctx->local_ip6[1];
		k.daddr[2] = ctx->local_ip6[2];
		k.daddr[3] = ctx->local_ip6[3];
		k.family = SL_AF_INET6;
	} else {
		return SK_PASS;
	}
	k.sport = ctx->remote_port;
	k.dport = bpf_htons(ctx->local_port);
	k.proto = IPPROTO_TCP;
	/* the node's own connections (most of what runs here) are no VIP's */
	if (!sl_filter_maybe(&sl_vip_filter, k.daddr, k.dport, IPPROTO_TCP))
		return SK_PASS;
	ct = bpf_map_lookup_elem(&sl_conntrack, &k);
	if (!ct || !(ct->flags & SL_CT_LOCAL))
		return SK_PASS;
	idx = sl_l7_listen_idx(k.family);
	sk = bpf_map_lookup_elem(&sl_l7_listen, &idx);
	if (!sk)
		return SK_PASS;
	bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return SK_PASS;
}
