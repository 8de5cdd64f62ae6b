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

#include "parse.h"

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

/*
 * The IPv4 header checksum after one 32-bit word changes (RFC 1624, eqn. 3).
 * The header checksum is never offloaded, so it is safe to compute here;
 * the L4 checksum is left to the helpers, which know CHECKSUM_PARTIAL.
 */
static __always_inline __u16 sl_csum_replace4(__u16 check, __be32 from, __be32 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16) ~(from >> 16) + (__u16) ~(from & 0xffff);
	sum += (to >> 16) + (to & 0xffff);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Rewrite one address (source or destination, per dst) and the matching
 * port. old_* come from the parsed packet, new_* from conntrack.
 */
static __always_inline int sl_nat_rewrite(struct __sk_buff *skb, const struct sl_pkt *p, bool dst,
					  const __be32 new_addr[4], __be16 new_port)
{
	const __be32 *old_addr = dst ? p->daddr : p->saddr;
	__be16 old_port = dst ? p->dport : p->sport;
	__u32 port_off = p->l4_off + (dst ? 2 : 0);
	__u64 l4f = sl_l4_flags(p);
	int err;

	if (p->family == SL_AF_INET) {
		/*
		 * check, saddr, daddr, and (without IP options) the ports right
		 * after them: one store writes the whole rewrite.
		 */
		struct {
			__u16 check;
			__be32 saddr;
			__be32 daddr;
			__be16 sport;
			__be16 dport;
		} __attribute__((packed)) h = {
		    .check = old_addr[0] != new_addr[0]
				 ? sl_csum_replace4(p->ip_check, old_addr[0], new_addr[0])
				 : p->ip_check,
		    .saddr = dst ? p->saddr[0] : new_addr[0],
		    .daddr = dst ? new_addr[0] : p->daddr[0],
		    .sport = dst ? p->sport : new_port,
		    .dport = dst ? new_port : p->dport,
		};

		err = 0;
		if (old_addr[0] != new_addr[0])
			err = bpf_l4_csum_replace(skb, p->csum_off, old_addr[0], new_addr[0],
						  l4f | BPF_F_PSEUDO_HDR | 4);
		if (old_port != new_port)
			err = err
				  ?: bpf_l4_csum_replace(skb, p->csum_off, old_port, new_port,
							 l4f | 2);
		if (p->l4_off == ETH_HLEN + sizeof(struct iphdr))
			return err ?: bpf_skb_store_bytes(skb, SL_IP4_CSUM_OFF, &h, sizeof(h), 0);
		err = err ?: bpf_skb_store_bytes(skb, SL_IP4_CSUM_OFF, &h, 10, 0);
		if (old_port != new_port)
			err = err ?: bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0);
		return err;
	}

	/* IPv6 */
	if (old_addr[0] != new_addr[0] || old_addr[1] != new_addr[1] ||
	    old_addr[2] != new_addr[2] || old_addr[3] != new_addr[3]) {
		__u32 addr_off = dst ? SL_IP6_DADDR_OFF : SL_IP6_SADDR_OFF;
		__be32 from[4], to[4];
		__s64 diff;

		__builtin_memcpy(from, old_addr, 16);
		__builtin_memcpy(to, new_addr, 16);
		diff = bpf_csum_diff(from, 16, to, 16, 0);
		if (diff < 0)
			return (int)diff;
		/*
		 * On a CHECKSUM_COMPLETE skb the pseudo-header update also takes
		 * the address change out of skb->csum, as if an IPv4 header
		 * checksum had absorbed it; IPv6 has none, so the address store
		 * puts it back (RECOMPUTE_CSUM only acts on CHECKSUM_COMPLETE).
		 * Kernels from 6.16 offer BPF_F_IPV6 for this; this works on all.
		 */
		err = bpf_l4_csum_replace(skb, p->csum_off, 0, diff, l4f | BPF_F_PSEUDO_HDR);
		err = err ?: bpf_skb_store_bytes(skb, addr_off, to, 16, BPF_F_RECOMPUTE_CSUM);
		if (err)
			return err;
	}
	if (old_port != new_port) {
		err = bpf_l4_csum_replace(skb, p->csum_off, old_port, new_port, l4f | 2);
		err = err ?: bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0);
		if (err)
			return err;
	}
	return 0;
}

#endif /* SLUICE_BPF_NAT_H */
