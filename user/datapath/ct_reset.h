/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ending a subset's established connections at a rollout's abort
 * (--abort-reset): its open TCP connections get SL_CT_ABORT_RESET, and the
 * datapath answers each one's next client packet with a RST (bpf/reset.h).
 * Calls maps.h and libbpf.
 */
#ifndef SLUICE_CT_RESET_H
#define SLUICE_CT_RESET_H

#include <stdint.h>

#include "datapath/maps.h"

/* The id of SERVICE's subset SUBSET in use (sl_subset_names); -ENOENT if none. */
int sl_subset_id_of(const struct sl_maps *m, const char *service, const char *subset, uint32_t *id);

/*
 * Flag every open TCP connection of subset id (confirmed and unconfirmed);
 * *n counts them. Returns 0 or a negative errno.
 */
int sl_ct_mark_reset(const struct sl_maps *m, uint32_t id, uint64_t *n);

#endif /* SLUICE_CT_RESET_H */
