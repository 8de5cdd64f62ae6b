/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection hashing and weighted choice, shared by the datapath and the
 * loader (which uses it to explain and test choices). Pure integer code: no
 * helpers, no floating point, loops bounded by constants.
 */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <linux/types.h>

#include "sluice_abi.h"
#include "sluice_log2_table.h"

#ifndef SL_INLINE
#define SL_INLINE static inline __attribute__((always_inline))
#endif

SL_INLINE __u32 sl_rol32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3's block mix and finaliser: cheap, and every input bit counts. */
SL_INLINE __u32 sl_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = sl_rol32(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = sl_rol32(h, 13);
	return h * 5 + 0xe6546b64;
}

SL_INLINE __u32 sl_fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Hash of a whole connection (client and service side of the tuple). */
SL_INLINE __u32 sl_hash_conn(__u32 seed, const __be32 saddr[4], const __be32 daddr[4], __be16 sport,
			     __be16 dport, __u8 proto)
{
	__u32 h = seed;

	h = sl_mix(h, saddr[0]);
	h = sl_mix(h, saddr[1]);
	h = sl_mix(h, saddr[2]);
	h = sl_mix(h, saddr[3]);
	h = sl_mix(h, daddr[0]);
	h = sl_mix(h, daddr[1]);
	h = sl_mix(h, daddr[2]);
	h = sl_mix(h, daddr[3]);
	h = sl_mix(h, ((__u32)sport << 16) | dport);
	h = sl_mix(h, proto);
	return sl_fmix(h ^ 37);
}

/* Hash of the client address alone, for affinity: client-ip. */
SL_INLINE __u32 sl_hash_client(__u32 seed, const __be32 saddr[4])
{
	__u32 h = seed ^ 0x9e3779b9;

	h = sl_mix(h, saddr[0]);
	h = sl_mix(h, saddr[1]);
	h = sl_mix(h, saddr[2]);
	h = sl_mix(h, saddr[3]);
	return sl_fmix(h ^ 16);
}

/* A second, independent hash from the first (endpoint inside a subset). */
SL_INLINE __u32 sl_hash_again(__u32 h, __u32 salt)
{
	return sl_fmix(sl_mix(h, salt) ^ 4);
}

/* Bit of (addr, port, proto) in an address filter. */
SL_INLINE __u32 sl_filter_bit(const __be32 addr[4], __be16 port, __u8 proto)
{
	__u32 h = 0x51ce;

	h = sl_mix(h, addr[0]);
	h = sl_mix(h, addr[1]);
	h = sl_mix(h, addr[2]);
	h = sl_mix(h, addr[3]);
	h = sl_mix(h, ((__u32)port << 8) | proto);
	return sl_fmix(h) & (SL_FILTER_WORDS * 64 - 1);
}

/* Scale a uniform 32-bit hash to [0, n). */
SL_INLINE __u32 sl_scale(__u32 h, __u32 n)
{
	return (__u32)(((__u64)h * n) >> 32);
}

/*
 * -log2(u) in Q16 for u = (h + 0.5) / 2^32, always > 0. Integer part from the
 * position of the top bit, fraction from the 10 bits below it via the table.
 */
SL_INLINE __u32 sl_neg_log2_q16(__u32 h)
{
	__u32 x = h | 1, msb = 0, idx;

	if (x >= (1U << 16)) {
		msb += 16;
		x >>= 16;
	}
	if (x >= (1U << 8)) {
		msb += 8;
		x >>= 8;
	}
	if (x >= (1U << 4)) {
		msb += 4;
		x >>= 4;
	}
	if (x >= (1U << 2)) {
		msb += 2;
		x >>= 2;
	}
	if (x >= (1U << 1))
		msb += 1;
	/* Normalise so bit 31 is the top bit; the next 10 bits index the table. */
	idx = ((h | 1) << (31 - msb)) >> (31 - SL_LOG2_TAB_BITS);
	idx &= (1U << SL_LOG2_TAB_BITS) - 1;
	return ((32 - msb) << 16) - sl_log2_tab[idx];
}

/*
 * Pick a subset by weight for a whole-connection hash: lay the weights end
 * to end and see where h falls. Exact shares, one multiply. Returns the
 * subset index, or -1 when the weights are all zero.
 */
SL_INLINE int sl_pick_cumulative(const __u32 weight[SL_MAX_SUBSETS], __u32 total, __u32 h)
{
	__u32 r, acc = 0;
	int i;

	if (!total)
		return -1;
	r = sl_scale(h, total);
	for (i = 0; i < SL_MAX_SUBSETS; i++) {
		acc += weight[i];
		if (r < acc)
			return i;
	}
	return -1;
}

/*
 * The datapath routes this through a global BPF function, verified once, so
 * the verifier does not walk its branches again for every subset.
 */
#ifndef sl_score
#define sl_score(h) sl_neg_log2_q16(h)
#endif

/*
 * Pick a subset by weight for a client hash, by weighted rendezvous hashing:
 * each subset draws its own uniform u_i from (client, subset id) and the
 * subset with the smallest -ln(u_i) / w_i wins. The winner is subset i with
 * probability w_i / sum(w), and raising w_i only lowers subset i's own score,
 * so a client never leaves a subset whose weight grows, nor moves between two
 * subsets whose weights did not change.
 */
SL_INLINE int sl_pick_rendezvous(const __u32 weight[SL_MAX_SUBSETS],
				 const __u32 subset_id[SL_MAX_SUBSETS], __u32 n, __u32 h)
{
	__u64 best_score = 0, best_w = 0;
	int i, best = -1;

	for (i = 0; i < SL_MAX_SUBSETS; i++) {
		__u64 score, w;

		if ((__u32)i >= n)
			break;
		w = weight[i];
		if (!w)
			continue;
		score = sl_score(sl_hash_again(h, subset_id[i]));
		/* score / w < best_score / best_w, without a division */
		if (best < 0 || score * best_w < best_score * w) {
			best = i;
			best_score = score;
			best_w = w;
		}
	}
	return best;
}

/*
 * The steps of a new connection's choice that the datapath (sl_select) and
 * the L7 step (user/l7/l7_pick.c) share, so that both choose alike.
 */

/* The sl_src_match key that looks a client's address up (a host prefix). */
SL_INLINE struct sl_src_key sl_src_key_of(__u32 slot, __u32 svc_id, __u8 family,
					  const __be32 saddr[4])
{
	struct sl_src_key k = {
	    .prefixlen = SL_SRC_KEY_FIXED_BITS + (family == SL_AF_INET ? 32 : 128),
	    .slot = slot,
	    .svc_id = svc_id,
	    .family = family,
	};

	__builtin_memcpy(k.addr, saddr, 16);
	return k;
}

/* Do route r's source matches accept a client whose address matched hit? */
SL_INLINE int sl_route_src_ok(__u32 flags, int r, const struct sl_src_routes *hit)
{
	__u32 bit = 1U << r;

	if ((flags & SL_ROUTE_MATCH_CIDR) && !(hit->cidr_routes & bit))
		return 0;
	return !(flags & SL_ROUTE_MATCH_LABELS) || (hit->label_routes & bit);
}

/*
 * The subset route rt sends a connection to (-1: none), by the connection's
 * hash or, for affinity: client-ip, the client's; *h gets that hash, which
 * also draws the endpoint (sl_ep_index).
 */
SL_INLINE int sl_pick_subset(const struct sl_service *svc, const struct sl_route *rt, __u32 seed,
			     const __be32 saddr[4], const __be32 daddr[4], __be16 sport,
			     __be16 dport, __u8 proto, __u32 *h)
{
	if (svc->flags & SL_SVC_AFFINITY_CLIENT_IP) {
		*h = sl_hash_client(seed, saddr);
		return sl_pick_rendezvous(rt->weight, svc->subset_id, svc->n_subsets, *h);
	}
	*h = sl_hash_conn(seed, saddr, daddr, sport, dport, proto);
	return sl_pick_cumulative(rt->weight, rt->total_weight, *h);
}

/* Index in sl_endpoints of the endpoint hash h draws among a subset's n (> 0). */
SL_INLINE __u32 sl_ep_index(__u32 base, __u32 n, __u32 h)
{
	return base + sl_scale(sl_hash_again(h, 0x5eed), n);
}

#endif /* SLUICE_HASH_H */
