/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared by the table writers only: tables.c (ids, names, filters, the
 * whole-slot writer and the apply itself) and tables_inplace.c (the
 * in-place writer). Nothing outside user/datapath/ includes this.
 */
#ifndef SLUICE_TABLES_INTERNAL_H
#define SLUICE_TABLES_INTERNAL_H

#include "config/config.h"
#include "lib/hidx.h"
#include "datapath/maps.h"
#include "datapath/tables.h"

/* Per-service plan: ids, built before anything is written. */
struct svc_plan {
	__u32 svc_id;
	bool new_svc;
	__u32 subset_id[SL_MAX_SUBSETS];
	bool new_subset[SL_MAX_SUBSETS];
};

/* ids.c: the rows of the ids, as read at the start of an apply. */
#define ID_USED	   1 /* taken by the new config */
#define ID_WAS	   2 /* in use before this apply */
#define ID_RETIRED 4 /* used once, maybe still counted into */

struct sl_id_alloc {
	__u32 n;		    /* rows: the map's size */
	size_t map_len;		    /* the rows are the map's own memory (mmap), this long */
	__u8 *st;		    /* ID_* of each row */
	struct sl_svc_name *svc;    /* the rows as read (service ids) */
	struct sl_subset_name *sub; /* ...or (subset ids) */
	struct sl_hidx by_name;	    /* rows in use or retired, by name */
	__u32 next;		    /* where the search for a free id starts */
};

int sl_ids_plan(const struct sl_maps *m, const struct sl_config *cfg, struct svc_plan *plan,
		struct sl_id_alloc *svc_ids, struct sl_id_alloc *sub_ids, struct sl_diag *diag);
int sl_ids_zero_new_rows(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct svc_plan *plan, const struct sl_id_alloc *sub_ids,
			 struct sl_apply_stats *st);
int sl_ids_write_names(const struct sl_maps *m, const struct sl_config *cfg,
		       const struct svc_plan *plan, struct sl_id_alloc *svc_ids,
		       struct sl_id_alloc *sub_ids, struct sl_apply_stats *st);
/* After the new tables are live: rows cfg no longer uses are retired. */
void sl_ids_release(const struct sl_maps *m, const struct sl_id_alloc *svc_ids,
		    const struct sl_id_alloc *sub_ids);
void sl_ids_free(struct sl_id_alloc *a);

/* weights.c: sl_svc_index as cfg implies it, written where it differs. */
int sl_tb_write_index(const struct sl_maps *m, const struct sl_config *cfg,
		      struct sl_apply_stats *st);

/* One batch update of n entries; 0 when n is 0. */
int sl_tb_update_batch(int fd, const void *keys, const void *vals, size_t n);

/* Address filters, read once, set in memory, written back where they changed. */
struct sl_filters {
	__u64 vip[SL_FILTER_WORDS], be[SL_FILTER_WORDS];
	__u64 vip0[SL_FILTER_WORDS], be0[SL_FILTER_WORDS];
};
void sl_filters_vip(struct sl_filters *f, const struct sl_svc_key *k);
void sl_filters_be(struct sl_filters *f, const struct sl_endpoint *ep, __be16 target_port,
		   __u8 proto);
/* The words that changed into the maps: before a new VIP or backend is live. */
int sl_filters_store(const struct sl_maps *m, struct sl_filters *f);

/*
 * Key (slot 0) and value of VIP v, port p of service s; endpoint ranges
 * are left 0 for the writer to fill.
 */
void sl_tb_key_value(const struct sl_service_cfg *s, const struct svc_plan *plan, size_t v,
		     size_t p, struct sl_svc_key *key, struct sl_service *val);
/*
 * The endpoints of s of one family (0: IPv4, 1: IPv6), subset after subset,
 * into out (room for every endpoint of s; NULL to count only); per subset
 * counts into count. Returns the total.
 */
__u32 sl_tb_endpoints(const struct sl_service_cfg *s, int fam, struct sl_endpoint *out,
		      __u32 count[SL_MAX_SUBSETS]);
__u32 sl_tb_n_endpoints(const struct sl_service_cfg *s);

/*
 * Read up to max entries of a map in as few syscalls as the kernel allows;
 * start_after: the key before the first wanted (NULL: from the start).
 * *n: entries read.
 */
int sl_tb_read_batch(int fd, const void *start_after, void *keys, void *vals, __u32 max, __u32 *n);

/* Every entry of a map, in buffers grown to fit (the caller frees them). */
int sl_tb_read_all(int fd, void **keys, void **vals, __u32 *n);

/*
 * The in-place writer (tables_inplace.c), into the active slot `slot`.
 * -EAGAIN, before writing anything, when the config needs the whole-slot
 * writer (routes matching on the source, or no room for the endpoints).
 */
int sl_tb_write_in_place(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct svc_plan *plan, __u32 slot, struct sl_filters *f,
			 struct sl_apply_stats *st);

/* generation + 1 and applied_ns now in sl_state: `status` shows a change. */
int sl_tb_bump_generation(const struct sl_maps *m);

#endif /* SLUICE_TABLES_INTERNAL_H */
