/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How the two directions of a tracked connection find each other, shared by
 * the datapath and by `sluice run`'s conntrack reclaimer, which deletes both
 * entries of a connection and must compute the reverse key exactly as the
 * datapath wrote it. Pure code on sluice_abi.h types.
 */
#ifndef SLUICE_CT_H
#define SLUICE_CT_H

#include <linux/types.h>

#include "sluice_abi.h"

#ifndef SL_INLINE
#define SL_INLINE static inline __attribute__((always_inline))
#endif

SL_INLINE int sl_addr_same(const __be32 a[4], const __be32 b[4])
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/*
 * The reply tuple of the connection whose forward tuple is fk once it is
 * translated per e: from the backend, to the client (or, for a hairpin
 * connection, to the hairpin address, its source after translation) at the
 * port the backend saw.
 */
SL_INLINE void sl_ct_rev_key(struct sl_ct_key *rk, const struct sl_ct_key *fk,
			     const struct sl_ct_entry *e, const __be32 hairpin[4])
{
	const __be32 *to = (e->flags & SL_CT_HAIRPIN) ? hairpin : fk->saddr;

	rk->saddr[0] = e->addr[0];
	rk->saddr[1] = e->addr[1];
	rk->saddr[2] = e->addr[2];
	rk->saddr[3] = e->addr[3];
	rk->daddr[0] = to[0];
	rk->daddr[1] = to[1];
	rk->daddr[2] = to[2];
	rk->daddr[3] = to[3];
	rk->sport = e->port;
	rk->dport = e->nat_port;
	rk->proto = fk->proto;
	rk->family = fk->family;
	rk->pad[0] = rk->pad[1] = 0;
}

/* The forward tuple of the connection that reply tuple rk with entry rn answers. */
SL_INLINE void sl_ct_fwd_key_of(struct sl_ct_key *fk, const struct sl_ct_key *rk,
				const struct sl_ct_entry *rn)
{
	/* a hairpin client is its own backend: the reply's source */
	const __be32 *client = (rn->flags & SL_CT_HAIRPIN) ? rk->saddr : rk->daddr;

	fk->saddr[0] = client[0];
	fk->saddr[1] = client[1];
	fk->saddr[2] = client[2];
	fk->saddr[3] = client[3];
	fk->daddr[0] = rn->addr[0];
	fk->daddr[1] = rn->addr[1];
	fk->daddr[2] = rn->addr[2];
	fk->daddr[3] = rn->addr[3];
	fk->sport = rn->nat_port;
	fk->dport = rn->port;
	fk->proto = rk->proto;
	fk->family = rk->family;
	fk->pad[0] = fk->pad[1] = 0;
}

/*
 * Does reverse entry rn belong to forward tuple fk? A reverse tuple freed by
 * a closed connection may have been taken by another one since.
 */
SL_INLINE int sl_ct_rev_owned(const struct sl_ct_entry *rn, const struct sl_ct_key *fk)
{
	return rn->port == fk->dport && rn->nat_port == fk->sport && sl_addr_same(rn->addr, fk->daddr);
}

#endif /* SLUICE_CT_H */
