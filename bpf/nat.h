/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewrites with incremental checksum updates. The kernel's
 * csum helpers know CHECKSUM_PARTIAL: with BPF_F_PSEUDO_HDR they fix only
 * the pseudo-header part that the device will not recompute.
 */
#ifndef SLUICE_BPF_NAT_H
#define SLUICE_BPF_NAT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <linux/pkt_cls.h>

#include "parse.h"
#include "sluice_ct.h"

#define SL_IP4_CSUM_OFF	 (ETH_HLEN + offsetof(struct iphdr, check))
#define SL_IP6_SADDR_OFF (ETH_HLEN + offsetof(struct ipv6hdr, saddr))
#define SL_IP6_DADDR_OFF (ETH_HLEN + offsetof(struct ipv6hdr, daddr))

/*
 * UDP over IPv4 may carry no checksum (0): leave it so. A UDP checksum that
 * computes to 0 goes out as 0xffff, over IPv6 too (RFC 8200 8.1: there a 0
 * is invalid and the receiver drops the datagram).
 */
static __always_inline __u64 sl_l4_flags(const struct sl_pkt *p)
{
	return p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* The addresses and ports a packet leaves with. */
struct sl_nat {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
};

/* Fold a 64-bit one's complement sum into a 32-bit one (a __wsum). */
static __always_inline __u32 sl_csum_fold64(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return (__u32)s;
}

/* The one's complement difference of n 32-bit words from -> to. */
static __always_inline __u64 sl_csum_words(const __be32 *from, const __be32 *to, int n)
{
	__u64 s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (__u32)~from[i] + (__u64)to[i];
	return s;
}

/* The same for one 16-bit port, as a word of its own. */
static __always_inline __u64 sl_csum_port(__be16 from, __be16 to)
{
	return (__u16)~from + (__u64)to;
}

/* skb->ip_summed, read through the kernel's own skb (CO-RE: only this field). */
struct sk_buff___sl {
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

#define SL_CHECKSUM_COMPLETE 2
#define SL_CHECKSUM_PARTIAL  3

static __always_inline __u32 sl_ip_summed(struct __sk_buff *skb)
{
	struct sk_buff___sl *kskb = bpf_cast_to_kern_ctx(skb);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed);
}

/* A one's complement sum folded to 16 bits. */
static __always_inline __u16 sl_fold16(__u64 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)((s & 0xffff) + (s >> 16));
}

/*
 * Write len bytes of src at offset off (within the first 14 + 60 + 20
 * bytes, which sl_parse made linear) straight into the packet. The
 * program's direct packet writes make the verifier un-clone a cloned skb
 * before the program runs, so the header is ours to write.
 */
static __always_inline int sl_write(struct __sk_buff *skb, __u32 off, const void *src, __u32 len)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;

	if (off > ETH_HLEN + 60 + 20)
		return -1;
	if (len == 32) {
		if (data + off + 32 > data_end)
			return -1;
		__builtin_memcpy(data + off, src, 32);
	} else if (len == 14) {
		if (data + off + 14 > data_end)
			return -1;
		__builtin_memcpy(data + off, src, 14);
	} else if (len == 10) {
		if (data + off + 10 > data_end)
			return -1;
		__builtin_memcpy(data + off, src, 10);
	} else if (len == 4) {
		if (data + off + 4 > data_end)
			return -1;
		__builtin_memcpy(data + off, src, 4);
	} else {
		return -1; /* no caller writes another length */
	}
	return 0;
}

/*
 * Update the L4 checksum for an address change adiff (pseudo-header) and a
 * port change pdiff. Which way depends on the skb (skb->ip_summed):
 *   CHECKSUM_COMPLETE  the kernel's helpers, which also keep skb->csum
 *                      right (two calls);
 *   CHECKSUM_PARTIAL   the field holds the pseudo-header sum only, for the
 *                      device to finish: the address change alone, by the
 *                      helper (one call; a port change is not its business);
 *   otherwise          the whole field, folded here (RFC 1624), no call.
 * UDP over IPv4 may carry no checksum (0): it stays 0. A UDP checksum that
 * computes to 0 goes out as 0xffff (over IPv6 a 0 is invalid).
 */
static __always_inline int sl_l4_csum(struct __sk_buff *skb, const struct sl_pkt *p, __u32 adiff,
				      bool addrs, __u64 pdiff, bool ports)
{
	__u32 summed = sl_ip_summed(skb);
	__u64 l4f = sl_l4_flags(p);
	void *data, *data_end;
	__u16 *cp, check;
	int err = 0;

	if (summed == SL_CHECKSUM_COMPLETE) {
		if (addrs)
			err = bpf_l4_csum_replace(skb, p->csum_off, 0, adiff, l4f | BPF_F_PSEUDO_HDR);
		if (ports)
			err = err ?: bpf_l4_csum_replace(skb, p->csum_off, 0, sl_csum_fold64(pdiff), l4f);
		return err;
	}
	if (summed == SL_CHECKSUM_PARTIAL)
		return addrs ? bpf_l4_csum_replace(skb, p->csum_off, 0, adiff, l4f | BPF_F_PSEUDO_HDR)
			     : 0;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (p->csum_off > ETH_HLEN + 60 + 20)
		return -1;
	cp = data + p->csum_off;
	if ((void *)(cp + 1) > data_end)
		return -1;
	check = *cp;
	/* as the helper's BPF_F_MARK_MANGLED_0 does */
	if (p->proto == IPPROTO_UDP && !check)
		return 0;
	check = ~sl_fold16((__u64)(__u16)~check + (addrs ? adiff : 0) + (ports ? pdiff : 0));
	if (p->proto == IPPROTO_UDP && !check)
		check = 0xffff;
	*cp = check;
	return 0;
}

/*
 * The IPv4 rewrite: check, saddr, daddr, and (without IP options) the ports
 * right after them, in one store; the header checksum folded here (it is
 * never offloaded), the L4 one per sl_l4_csum. Inline: the hot paths call
 * it, and a call costs a return, which this CPU's return-thunk mitigation
 * makes dear (docs/bench.md).
 */
static __always_inline int sl_nat_rewrite4(struct __sk_buff *skb, const struct sl_pkt *p,
					   const struct sl_nat *n, __u64 pdiff, bool ports)
{
	struct {
		__u16 check;
		__be32 saddr;
		__be32 daddr;
		__be16 sport;
		__be16 dport;
	} __attribute__((packed)) h = {
	    .check = p->ip_check,
	    .saddr = n->saddr[0],
	    .daddr = n->daddr[0],
	    .sport = n->sport,
	    .dport = n->dport,
	};
	__u32 adiff = 0;
	bool addrs;
	int err;

	addrs = p->saddr[0] != n->saddr[0] || p->daddr[0] != n->daddr[0];
	if (!addrs && !ports)
		return 0;
	if (addrs) {
		adiff = sl_csum_fold64(sl_csum_words(&p->saddr[0], &n->saddr[0], 1) +
				       sl_csum_words(&p->daddr[0], &n->daddr[0], 1));
		/* the header checksum covers the same two words: the same difference */
		h.check = ~sl_fold16((__u64)(__u16)~h.check + adiff);
	}
	err = sl_l4_csum(skb, p, adiff, addrs, pdiff, ports);
	if (err)
		return err;
	if (p->l4_off == ETH_HLEN + sizeof(struct iphdr))
		return sl_write(skb, SL_IP4_CSUM_OFF, &h, sizeof(h));
	if (addrs)
		err = sl_write(skb, SL_IP4_CSUM_OFF, &h, 10);
	if (ports)
		err = err ?: sl_write(skb, p->l4_off, &h.sport, 4);
	return err;
}

/*
 * The IPv6 rewrite, with the port change (pdiff, ports) as sl_nat_rewrite
 * computed it. Global: its own stack frame, and the verifier checks it once.
 */
__noinline int sl_nat_rewrite6(struct __sk_buff *skb, const struct sl_pkt *p, const struct sl_nat *n,
			       __u64 pdiff, bool ports)
{
	__u32 adiff = 0;
	bool addrs;
	int err;

	if (!skb || !p || !n)
		return -1;
	addrs = !sl_addr_same(p->saddr, n->saddr) || !sl_addr_same(p->daddr, n->daddr);
	if (addrs)
		adiff = sl_csum_fold64(sl_csum_words(p->saddr, n->saddr, 4) +
				       sl_csum_words(p->daddr, n->daddr, 4));
	err = sl_l4_csum(skb, p, adiff, addrs, pdiff, ports);
	if (err)
		return err;
	if (addrs) {
		__be32 to[8];

		__builtin_memcpy(to, n->saddr, 16);
		__builtin_memcpy(&to[4], n->daddr, 16);
		/*
		 * On a CHECKSUM_COMPLETE skb the pseudo-header update also takes
		 * the address change out of skb->csum, as if an IPv4 header
		 * checksum had absorbed it; IPv6 has none, so the address store
		 * puts it back (RECOMPUTE_CSUM only acts on CHECKSUM_COMPLETE).
		 * Kernels from 6.16 offer BPF_F_IPV6 for this; this works on all.
		 * Any other skb has no skb->csum to keep: a direct write.
		 */
		if (sl_ip_summed(skb) == SL_CHECKSUM_COMPLETE)
			err = bpf_skb_store_bytes(skb, SL_IP6_SADDR_OFF, to, 32,
						  BPF_F_RECOMPUTE_CSUM);
		else
			err = sl_write(skb, SL_IP6_SADDR_OFF, to, 32);
		if (err)
			return err;
	}
	if (ports) {
		__be16 pp[2] = {n->sport, n->dport};

		err = sl_write(skb, p->l4_off, pp, 4);
	}
	return err;
}

/*
 * Rewrite the packet's tuple into n: addresses, ports and the checksums that
 * cover them (sl_l4_csum), then the headers, written directly.
 */
static __always_inline int sl_nat_rewrite(struct __sk_buff *skb, const struct sl_pkt *p,
					  const struct sl_nat *n)
{
	bool ports = p->sport != n->sport || p->dport != n->dport;
	__u64 pdiff = 0;

	if (ports)
		pdiff = sl_csum_port(p->sport, n->sport) + sl_csum_port(p->dport, n->dport);
	if (p->family != SL_AF_INET)
		return sl_nat_rewrite6(skb, p, n, pdiff, ports);
	return sl_nat_rewrite4(skb, p, n, pdiff, ports);
}

/* The packet's own tuple, to edit into a rewrite. */
static __always_inline void sl_nat_of(struct sl_nat *n, const struct sl_pkt *p)
{
	__builtin_memcpy(n->saddr, p->saddr, 16);
	__builtin_memcpy(n->daddr, p->daddr, 16);
	n->sport = p->sport;
	n->dport = p->dport;
}

/*
 * Send the packet back out of the interface it came in on (a hairpin: the
 * pod is both ends), past routing and netfilter, as Cilium does for a pod
 * that reaches itself through a service: swap the Ethernet addresses.
 */
static __always_inline int sl_bounce(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* SLUICE_BPF_NAT_H */
