/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The shared hash and choice code, as the datapath includes it: the
 * rendezvous score goes through a global function (select.h), so the
 * verifier checks its branches once rather than once per subset.
 */
#ifndef SLUICE_BPF_HASH_H
#define SLUICE_BPF_HASH_H

#include <linux/types.h>

__u32 sl_neg_log2(__u32 h);
#define sl_score(h) sl_neg_log2(h)
#include "sluice_hash.h"

#endif /* SLUICE_BPF_HASH_H */
