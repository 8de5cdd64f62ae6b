/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A rollout aborted with --abort-reset (SL_CT_ABORT_RESET): the client's
 * packet is turned in place into a TCP RST to the client and sent back out
 * the interface it came in on (as sl_bounce does for hairpin). seq is the
 * client's ack_seq, which is its rcv_nxt exactly, so Linux accepts it
 * without a challenge ACK (RFC 5961). The backend's side ends when it next
 * sends: the client's stack answers that with a RST, which goes through.
 */
#ifndef SLUICE_BPF_RESET_H
#define SLUICE_BPF_RESET_H

#include "nat.h"
#include "parse.h"
#include "stats.h"

/* The frame from eth on; pad aligns the IP and TCP headers to 4 bytes. */
struct sl_rst4 {
	__u16 pad;
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
};
_Static_assert(sizeof(struct sl_rst4) == 2 + 14 + 20 + 20, "sl_rst4 size");

struct sl_rst6 {
	__u16 pad;
	struct ethhdr eth;
	struct ipv6hdr ip;
	struct tcphdr tcp;
};
_Static_assert(sizeof(struct sl_rst6) == 2 + 14 + 40 + 20, "sl_rst6 size");

#define SL_RST_LEN(r) (sizeof(r) - sizeof((r).pad))

/* Back where the frame came from: the client's router is us. */
static __always_inline void sl_rst_swap_macs(struct ethhdr *eth)
{
	__u8 mac[ETH_ALEN];

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
}

/* Fill the TCP header of the RST answering p, whose header is th. */
static __always_inline void sl_rst_tcp(struct tcphdr *t, const struct tcphdr *th,
				       const struct sl_pkt *p)
{
	__u32 seq_len =
	    p->payload_len + !!(p->tcp_flags & SL_TCP_SYN) + !!(p->tcp_flags & SL_TCP_FIN);

	__builtin_memset(t, 0, sizeof(*t));
	t->source = p->dport;
	t->dest = p->sport;
	t->seq = (p->tcp_flags & SL_TCP_ACK) ? th->ack_seq : 0;
	t->ack_seq = bpf_htonl(bpf_ntohl(th->seq) + seq_len);
	t->doff = sizeof(*t) / 4;
	t->rst = 1;
	t->ack = 1;
}

/*
 * The TCP checksum, written so that it is right whether the skb carries
 * CHECKSUM_PARTIAL (a client with offload on: the field holds the pseudo
 * header's sum and the rest is summed on the way out) or not (the full
 * checksum). Starts from 0xffff, a zero either way: the header's own sum
 * goes in only when the state is not partial (no BPF_F_PSEUDO_HDR), the
 * pseudo header's in both.
 */
static __always_inline int sl_rst_csum(struct __sk_buff *skb, __u32 csum_off, const void *tcp,
				       const __be32 *ps, __u32 ps_len)
{
	__s64 h = bpf_csum_diff(NULL, 0, (__be32 *)tcp, sizeof(struct tcphdr), 0);
	__s64 ph = bpf_csum_diff(NULL, 0, (__be32 *)ps, ps_len, 0);

	if (h < 0 || ph < 0)
		return -1;
	return bpf_l4_csum_replace(skb, csum_off, 0, (__u32)h, 0)
		   ?: bpf_l4_csum_replace(skb, csum_off, 0, (__u32)ph, BPF_F_PSEUDO_HDR);
}

/*
 * Answer client packet p with a RST (global: own frame). Only a frame with
 * bare IP headers (no IPv4 options, no IPv6 extension headers) is turned
 * around, so that the TCP header stays where a partial checksum expects
 * it; any other is dropped, and the client's next packet tries again.
 */
__noinline int sl_abort_reset(struct __sk_buff *skb, const struct sl_pkt *p)
{
	struct tcphdr th;
	__be32 ps[10];
	__u32 len;
	int err;

	if (!skb || !p)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, p->l4_off, &th, sizeof(th)))
		return TC_ACT_SHOT;
	if (p->family == SL_AF_INET) {
		struct sl_rst4 r;

		if (p->l4_off != sizeof(r.eth) + sizeof(r.ip) ||
		    bpf_skb_load_bytes(skb, 0, &r.eth, sizeof(r.eth) + sizeof(r.ip)))
			return TC_ACT_SHOT;
		sl_rst_swap_macs(&r.eth);
		len = SL_RST_LEN(r);
		r.ip.ihl = 5;
		r.ip.tos = 0;
		r.ip.tot_len = bpf_htons(sizeof(r.ip) + sizeof(r.tcp));
		r.ip.id = 0;
		r.ip.frag_off = bpf_htons(0x4000); /* DF */
		r.ip.ttl = 64;
		r.ip.saddr = p->daddr[0];
		r.ip.daddr = p->saddr[0];
		r.ip.check = 0;
		r.ip.check = (__u16)~sl_fold16(
		    (__u32)bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0));
		sl_rst_tcp(&r.tcp, &th, p);
		r.tcp.check = 0xffff;
		ps[0] = r.ip.saddr;
		ps[1] = r.ip.daddr;
		ps[2] = bpf_htonl((IPPROTO_TCP << 16) | sizeof(r.tcp));
		err = bpf_skb_change_tail(skb, len, 0);
		err = err ?: bpf_skb_store_bytes(skb, 0, &r.eth, len, 0);
		r.tcp.check = 0;
		err = err
			  ?: sl_rst_csum(skb, p->l4_off + offsetof(struct tcphdr, check), &r.tcp,
					 ps, 12);
	} else {
		struct sl_rst6 r;

		if (p->l4_off != sizeof(r.eth) + sizeof(r.ip) ||
		    bpf_skb_load_bytes(skb, 0, &r.eth, sizeof(r.eth) + sizeof(r.ip)))
			return TC_ACT_SHOT;
		sl_rst_swap_macs(&r.eth);
		len = SL_RST_LEN(r);
		r.ip.priority = 0;
		r.ip.flow_lbl[0] = r.ip.flow_lbl[1] = r.ip.flow_lbl[2] = 0;
		r.ip.payload_len = bpf_htons(sizeof(r.tcp));
		r.ip.nexthdr = IPPROTO_TCP;
		r.ip.hop_limit = 64;
		__builtin_memcpy(&r.ip.saddr, p->daddr, 16);
		__builtin_memcpy(&r.ip.daddr, p->saddr, 16);
		sl_rst_tcp(&r.tcp, &th, p);
		r.tcp.check = 0xffff;
		__builtin_memcpy(ps, p->daddr, 16);
		__builtin_memcpy(ps + 4, p->saddr, 16);
		ps[8] = bpf_htonl(sizeof(r.tcp));
		ps[9] = bpf_htonl(IPPROTO_TCP);
		err = bpf_skb_change_tail(skb, len, 0);
		err = err ?: bpf_skb_store_bytes(skb, 0, &r.eth, len, 0);
		r.tcp.check = 0;
		err = err
			  ?: sl_rst_csum(skb, p->l4_off + offsetof(struct tcphdr, check), &r.tcp,
					 ps, 40);
	}
	if (err)
		return TC_ACT_SHOT;
	sl_global_inc(SL_G_ABORT_RESET);
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* SLUICE_BPF_RESET_H */
