// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The in-place writer: cfg into the active slot, writing only what
 * changed, at a cost that follows the change, not the cluster.
 *
 * Each (VIP, port) key is its own unit: a connection reads one key's value
 * once, and sl_services (a BPF_F_NO_PREALLOC hash) replaces a value whole
 * (a new element linked in, the old one freed after an RCU grace period),
 * so a packet sees a key's old value or its new one. A changed value that
 * needs other endpoints gets them in rows past every row in use (written
 * before the value that points at them); the rows it leaves are garbage
 * until the whole-slot writer compacts the slot, and never rewritten while
 * a packet may read them. Removed keys are deleted last.
 *
 * Before writing anything the plan is complete: when the config has routes
 * that match on the source (sl_src_match is per slot, not per key) or the
 * new rows do not fit, -EAGAIN sends the apply to the whole-slot writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/hidx.h"
#include "datapath/tables_internal.h"

/* What the active slot holds now. */
struct current {
	struct sl_svc_key *keys;
	struct sl_service *vals;
	__u32 n;
	bool *seen;		 /* the new config has this key too */
	struct sl_hidx idx;	 /* active-slot keys */
	struct sl_endpoint *eps; /* the active half's rows [0, hwm) */
	__u32 hwm;		 /* past the last row any value points at */
};

/* The writes, collected first. */
struct writes {
	struct sl_svc_key *keys;
	struct sl_service *vals;
	size_t n, cap_k, cap_v;
	__u32 *ep_idx;
	struct sl_endpoint *eps;
	size_t n_eps, cap_i, cap_e;
	struct sl_svc_key *dead;
	size_t n_dead, cap_d;
};

static uint64_t key_hash(const struct sl_svc_key *k)
{
	return sl_hash_bytes(0, k, sizeof(*k));
}

static void current_free(struct current *c)
{
	free(c->keys);
	free(c->vals);
	free(c->seen);
	free(c->eps);
	sl_hidx_free(&c->idx);
}

static int read_current(const struct sl_maps *m, __u32 slot, struct current *c, struct writes *w)
{
	__u32 i, j, n, start;
	int err;

	err = sl_tb_read_all(m->services, (void **)&c->keys, (void **)&c->vals, &c->n);
	if (err)
		return err;
	c->seen = calloc(c->n ?: 1, sizeof(*c->seen));
	if (!c->seen)
		return -ENOMEM;
	for (i = 0; i < c->n && !err; i++) {
		if (c->keys[i].slot != slot) {
			/* the other slot's leftovers: nobody reads them */
			if (sl_reserve((void **)&w->dead, &w->cap_d, w->n_dead, 1,
				       sizeof(*w->dead)))
				return -ENOMEM;
			w->dead[w->n_dead++] = c->keys[i];
			c->seen[i] = true;
			continue;
		}
		if (c->vals[i].flags & SL_SVC_SRC_MATCH)
			return -EAGAIN;
		for (j = 0; j < SL_MAX_SUBSETS; j++) {
			__u32 end = c->vals[i].ep_base[j] - slot * m->max_endpoints +
				    c->vals[i].ep_count[j];

			if (c->vals[i].ep_count[j] && end > c->hwm)
				c->hwm = end;
		}
		err = sl_hidx_add(&c->idx, key_hash(&c->keys[i]), i);
	}
	if (err || !c->hwm)
		return err;
	c->eps = calloc(c->hwm, sizeof(*c->eps));
	if (!c->eps)
		return -ENOMEM;
	{
		__u32 *ks = calloc(c->hwm, sizeof(*ks));

		if (!ks)
			return -ENOMEM;
		start = slot * m->max_endpoints - 1;
		err = sl_tb_read_batch(m->endpoints, slot ? &start : NULL, ks, c->eps, c->hwm, &n);
		free(ks);
	}
	if (!err && n != c->hwm)
		err = -EIO;
	return err;
}

static int find_current(const struct current *c, const struct sl_svc_key *k, __u32 *row)
{
	size_t pos = SL_HIDX_START;

	while (sl_hidx_next(&c->idx, key_hash(k), &pos, row))
		if (!memcmp(&c->keys[*row], k, sizeof(*k)))
			return 0;
	return -ENOENT;
}

/* Does the value at row r point at exactly these endpoints, subset by subset? */
static bool same_endpoints(const struct sl_maps *m, const struct current *c, __u32 slot,
			   const struct sl_service *cv, const struct sl_endpoint *eps,
			   const __u32 count[SL_MAX_SUBSETS], __u16 n_subsets)
{
	__u32 j, off = 0, base;

	if (cv->n_subsets != n_subsets)
		return false;
	for (j = 0; j < n_subsets; off += count[j], j++) {
		if (cv->ep_count[j] != count[j])
			return false;
		if (!count[j])
			continue;
		base = cv->ep_base[j] - slot * m->max_endpoints;
		if (base + count[j] > c->hwm ||
		    memcmp(&c->eps[base], &eps[off], count[j] * sizeof(*eps)))
			return false;
	}
	return true;
}

/* Where each family's endpoints of one service go, decided at its first key. */
struct placed {
	bool done;
	__u32 base[SL_MAX_SUBSETS];
};

static int plan_service(const struct sl_maps *m, const struct sl_service_cfg *s,
			const struct svc_plan *plan, __u32 slot, struct current *c,
			struct writes *w, struct sl_filters *flt)
{
	__u32 count[2][SL_MAX_SUBSETS], n[2], f, j, i, off, row;
	struct placed pl[2] = {};
	struct sl_endpoint *eps[2];
	size_t v, p;
	int err = 0;

	eps[0] = calloc(sl_tb_n_endpoints(s) ?: 1, sizeof(**eps));
	eps[1] = calloc(sl_tb_n_endpoints(s) ?: 1, sizeof(**eps));
	if (!eps[0] || !eps[1]) {
		err = -ENOMEM;
		goto out;
	}
	for (f = 0; f < 2; f++)
		n[f] = sl_tb_endpoints(s, f, eps[f], count[f]);

	for (v = 0; v < s->n_vips; v++) {
		f = s->vips[v].family == SL_AF_INET6;
		for (p = 0; p < s->n_ports; p++) {
			struct sl_service val;
			struct sl_svc_key key;
			bool have;

			sl_tb_key_value(s, plan, v, p, &key, &val);
			key.slot = slot;
			have = !find_current(c, &key, &row);
			if (have)
				c->seen[row] = true;
			if (!pl[f].done && have &&
			    same_endpoints(m, c, slot, &c->vals[row], eps[f], count[f],
					   s->n_subsets)) {
				memcpy(pl[f].base, c->vals[row].ep_base, sizeof(pl[f].base));
				pl[f].done = true;
			}
			if (!pl[f].done) {
				/* fresh rows past every row in use */
				if (c->hwm + n[f] > m->max_endpoints) {
					err = -EAGAIN;
					goto out;
				}
				if (sl_reserve((void **)&w->ep_idx, &w->cap_i, w->n_eps, n[f],
					       sizeof(*w->ep_idx)) ||
				    sl_reserve((void **)&w->eps, &w->cap_e, w->n_eps, n[f],
					       sizeof(*w->eps))) {
					err = -ENOMEM;
					goto out;
				}
				for (i = 0; i < n[f]; i++) {
					w->ep_idx[w->n_eps] = slot * m->max_endpoints + c->hwm + i;
					w->eps[w->n_eps++] = eps[f][i];
				}
				for (j = 0, off = 0; j < s->n_subsets; off += count[f][j], j++)
					pl[f].base[j] = slot * m->max_endpoints + c->hwm + off;
				c->hwm += n[f];
				pl[f].done = true;
			}
			for (j = 0; j < s->n_subsets; j++) {
				val.ep_base[j] = pl[f].base[j];
				val.ep_count[j] = count[f][j];
			}
			if (val.flags & SL_SVC_SRC_MATCH) {
				err = -EAGAIN;
				goto out;
			}
			if (have && !memcmp(&c->vals[row], &val, sizeof(val)))
				continue;
			sl_filters_vip(flt, &key);
			for (i = 0; i < n[f]; i++)
				sl_filters_be(flt, &eps[f][i], val.target_port, key.proto);
			if (sl_reserve((void **)&w->keys, &w->cap_k, w->n, 1, sizeof(*w->keys)) ||
			    sl_reserve((void **)&w->vals, &w->cap_v, w->n, 1, sizeof(*w->vals))) {
				err = -ENOMEM;
				goto out;
			}
			w->keys[w->n] = key;
			w->vals[w->n++] = val;
		}
	}
out:
	free(eps[0]);
	free(eps[1]);
	return err;
}

int sl_tb_write_in_place(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct svc_plan *plan, __u32 slot, struct sl_filters *flt,
			 struct sl_apply_stats *st)
{
	struct current c = {0};
	struct writes w = {0};
	size_t i, n_other;
	int err;

	err = read_current(m, slot, &c, &w);
	for (i = 0; i < cfg->n_services && !err; i++)
		err = plan_service(m, &cfg->services[i], &plan[i], slot, &c, &w, flt);
	if (err)
		goto out;
	n_other = w.n_dead;
	for (i = 0; i < c.n; i++)
		if (!c.seen[i]) {
			if (sl_reserve((void **)&w.dead, &w.cap_d, w.n_dead, 1, sizeof(*w.dead))) {
				err = -ENOMEM;
				goto out;
			}
			w.dead[w.n_dead++] = c.keys[i];
		}

	/*
	 * The plan holds: write. The other slot's leftovers go first (room in
	 * the table; nobody reads them), then what the new values point at
	 * (filters, endpoints), then the values, then the removed keys.
	 */
	for (i = 0; i < n_other && !err; i++)
		if (bpf_map_delete_elem(m->services, &w.dead[i]) && errno != ENOENT)
			err = -errno;
	err = err ?: sl_filters_store(m, flt);
	err = err ?: sl_tb_update_batch(m->endpoints, w.ep_idx, w.eps, w.n_eps);
	if (!err)
		st->endpoints_written += w.n_eps;
	err = err ?: sl_tb_update_batch(m->services, w.keys, w.vals, w.n);
	if (!err)
		st->keys_written += w.n;
	for (i = n_other; i < w.n_dead && !err; i++) {
		if (bpf_map_delete_elem(m->services, &w.dead[i]) && errno != ENOENT)
			err = -errno;
		st->keys_deleted++;
	}
out:
	current_free(&c);
	free(w.keys);
	free(w.vals);
	free(w.ep_idx);
	free(w.eps);
	free(w.dead);
	return err;
}
