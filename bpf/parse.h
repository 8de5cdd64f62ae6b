/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing: Ethernet, IPv4/IPv6, TCP/UDP, into one flat tuple. */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

#define SL_IP_MF     0x2000
#define SL_IP_OFFSET 0x1fff

/* TCP flag bits as in byte 13 of the header. */
#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10

enum sl_parse {
	SL_PARSE_OK = 0,
	SL_PARSE_OTHER,	    /* not IP over Ethernet, or not TCP/UDP */
	SL_PARSE_FRAGMENT,  /* an IP fragment: no (or not all) L4 ports */
	SL_PARSE_MALFORMED, /* headers truncated or inconsistent */
};

/*
 * A parsed packet. It begins with its own tuple as a conntrack key (key,
 * SL_CT_KEY_MEMBERS: the pad stays 0 from the caller's zeroed struct), so
 * that a lookup by the packet's tuple needs no copy of it.
 */
struct sl_pkt {
	union {
		struct sl_ct_key key;
		struct {
			SL_CT_KEY_MEMBERS;
		};
	};
	__u8 tcp_flags;
	__u8 spare;
	__u16 ip_check;	   /* IPv4 header checksum as in the packet */
	__u32 l4_off;	   /* from the start of the frame */
	__u32 csum_off;	   /* L4 checksum field, from the start of the frame */
	__u32 payload_off; /* TCP: l4_off + doff * 4 */
	__u32 payload_len; /* TCP: bytes after the header per the IP length; else 0 */
};
_Static_assert(offsetof(struct sl_pkt, tcp_flags) == sizeof(struct sl_ct_key),
	       "sl_pkt's key and its members overlay exactly");

/*
 * Make sure the first len bytes are in the linear area. Headers normally
 * are; bpf_skb_pull_data() covers the odd skb whose headers are not. Returns
 * false when the packet is simply shorter than len.
 */
static __always_inline bool sl_pull(struct __sk_buff *skb, __u32 len)
{
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return true;
	if (skb->len < len)
		return false;
	return bpf_skb_pull_data(skb, len) == 0 &&
	       (void *)(long)skb->data + len <= (void *)(long)skb->data_end;
}

static __always_inline int sl_parse_l4(struct __sk_buff *skb, struct sl_pkt *p, __u32 l4_payload)
{
	void *data, *data_end;

	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th;

		if (l4_payload < sizeof(*th) || !sl_pull(skb, p->l4_off + sizeof(*th)))
			return SL_PARSE_MALFORMED;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		/* l4_off <= 14 + 60 keeps the verifier's range small */
		if (p->l4_off > ETH_HLEN + 60)
			return SL_PARSE_MALFORMED;
		th = data + p->l4_off;
		if ((void *)(th + 1) > data_end)
			return SL_PARSE_MALFORMED;
		if (th->doff < 5 || th->doff * 4 > l4_payload)
			return SL_PARSE_MALFORMED;
		/* a GSO skb's IP length covers all its segments: payload_len too */
		p->payload_off = p->l4_off + th->doff * 4;
		p->payload_len = l4_payload - th->doff * 4;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->csum_off = p->l4_off + offsetof(struct tcphdr, check);
		return SL_PARSE_OK;
	}
	if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh;

		if (l4_payload < sizeof(*uh) || !sl_pull(skb, p->l4_off + sizeof(*uh)))
			return SL_PARSE_MALFORMED;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (p->l4_off > ETH_HLEN + 60)
			return SL_PARSE_MALFORMED;
		uh = data + p->l4_off;
		if ((void *)(uh + 1) > data_end)
			return SL_PARSE_MALFORMED;
		if (bpf_ntohs(uh->len) < sizeof(*uh))
			return SL_PARSE_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->csum_off = p->l4_off + offsetof(struct udphdr, check);
		return SL_PARSE_OK;
	}
	return SL_PARSE_OTHER;
}

/*
 * l4_payload is what the IP header says follows it; a GSO skb's headers
 * describe the whole super-packet, so the IP length checks stay valid.
 */
static __always_inline int sl_parse(struct __sk_buff *skb, struct sl_pkt *p)
{
	void *data, *data_end;
	__u32 l4_payload;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph;
		__u32 ihl, tot;

		if (!sl_pull(skb, ETH_HLEN + sizeof(*iph)))
			return SL_PARSE_MALFORMED;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		iph = data + ETH_HLEN;
		if ((void *)(iph + 1) > data_end)
			return SL_PARSE_MALFORMED;
		if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
			return SL_PARSE_OTHER;
		ihl = iph->ihl * 4;
		tot = bpf_ntohs(iph->tot_len);
		/* BIG TCP: a GSO packet above 64 KiB says 0 (see iph_totlen()) */
		if (!tot && skb->gso_segs > 1)
			tot = skb->len - ETH_HLEN;
		if (iph->version != 4 || ihl < sizeof(*iph) || tot < ihl ||
		    tot > skb->len - ETH_HLEN)
			return SL_PARSE_MALFORMED;
		if (iph->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
			return SL_PARSE_FRAGMENT;
		p->family = SL_AF_INET;
		p->proto = iph->protocol;
		p->saddr[0] = iph->saddr;
		p->daddr[0] = iph->daddr;
		p->ip_check = iph->check;
		p->saddr[1] = p->saddr[2] = p->saddr[3] = 0;
		p->daddr[1] = p->daddr[2] = p->daddr[3] = 0;
		p->l4_off = ETH_HLEN + ihl;
		l4_payload = tot - ihl;
		return sl_parse_l4(skb, p, l4_payload);
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h;

		if (!sl_pull(skb, ETH_HLEN + sizeof(*ip6h)))
			return SL_PARSE_MALFORMED;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		ip6h = data + ETH_HLEN;
		if ((void *)(ip6h + 1) > data_end)
			return SL_PARSE_MALFORMED;
		if (ip6h->version != 6)
			return SL_PARSE_MALFORMED;
		/* Extension headers are not walked: only TCP/UDP right after. */
		if (ip6h->nexthdr == 44 /* IPPROTO_FRAGMENT */)
			return SL_PARSE_FRAGMENT;
		if (ip6h->nexthdr != IPPROTO_TCP && ip6h->nexthdr != IPPROTO_UDP)
			return SL_PARSE_OTHER;
		l4_payload = bpf_ntohs(ip6h->payload_len);
		if (l4_payload > skb->len - ETH_HLEN - sizeof(*ip6h))
			return SL_PARSE_MALFORMED;
		/* payload_len 0 is a jumbogram (BIG TCP): trust the skb length */
		if (!l4_payload)
			l4_payload = skb->len - ETH_HLEN - sizeof(*ip6h);
		p->family = SL_AF_INET6;
		p->proto = ip6h->nexthdr;
		__builtin_memcpy(p->saddr, &ip6h->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6h->daddr, 16);
		p->l4_off = ETH_HLEN + sizeof(*ip6h);
		return sl_parse_l4(skb, p, l4_payload);
	}
	return SL_PARSE_OTHER;
}

/* Wire packets in this skb: a GSO super-packet counts as its segments. */
static __always_inline __u32 sl_wire_packets(struct __sk_buff *skb)
{
	return skb->gso_segs > 1 ? skb->gso_segs : 1;
}

#endif /* SLUICE_BPF_PARSE_H */
