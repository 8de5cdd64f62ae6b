/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A FIB query's addresses, for the source check and the fast path alike. */
#ifndef SLUICE_BPF_FIB_H
#define SLUICE_BPF_FIB_H

#include <linux/bpf.h>

#include "sluice_abi.h"

#define SL_AF_INET_FIB	2  /* AF_INET, as bpf_fib_lookup wants it */
#define SL_AF_INET6_FIB 10 /* AF_INET6 */

/* Ask f about a packet from src to dst, of family SL_AF_INET or SL_AF_INET6. */
static __always_inline void sl_fib_addrs(struct bpf_fib_lookup *f, __u8 family,
					 const __be32 src[4], const __be32 dst[4])
{
	if (family == SL_AF_INET) {
		f->family = SL_AF_INET_FIB;
		f->ipv4_src = src[0];
		f->ipv4_dst = dst[0];
	} else {
		f->family = SL_AF_INET6_FIB;
		__builtin_memcpy(f->ipv6_src, src, 16);
		__builtin_memcpy(f->ipv6_dst, dst, 16);
	}
}

#endif /* SLUICE_BPF_FIB_H */
