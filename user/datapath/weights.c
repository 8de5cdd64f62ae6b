// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The weights override (`sluice weights`): one service's default route,
 * read or set in place, at a cost that does not grow with the number of
 * services. sl_svc_index gives the service's (VIP, port) keys by name; each
 * key's value is replaced whole in the active slot. sl_services is a
 * BPF_F_NO_PREALLOC hash: an update links a new element and frees the old
 * one only after an RCU grace period, so a packet sees the old value or
 * the new one, never a mix (test_atomic hammers it). The index is written
 * by every apply (sl_tb_write_index), where it changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>

#include "datapath/counters.h"
#include "datapath/tables.h"
#include "lib/hidx.h"
#include "datapath/tables_internal.h"

/* The service's keys in the active slot; 0 keys: no such service. */
static int service_keys(const struct sl_maps *m, const char *service, struct sl_svc_key **keys,
			size_t *n, __u32 *slot)
{
	struct sl_svc_ref ref = {};
	struct sl_state st;
	size_t cap = 0;
	int err;

	*keys = NULL;
	*n = 0;
	if (strlen(service) >= sizeof(ref.name))
		return 0;
	err = sl_maps_read_state(m, &st);
	if (err)
		return err;
	*slot = st.active_slot;
	strcpy(ref.name, service);
	for (ref.idx = 0; ref.idx < m->max_keys; ref.idx++) {
		struct sl_svc_key k;

		if (bpf_map_lookup_elem(m->svc_index, &ref, &k))
			return errno == ENOENT ? 0 : -errno;
		if (sl_reserve((void **)keys, &cap, *n, 1, sizeof(**keys)))
			return -ENOMEM;
		k.slot = *slot;
		(*keys)[(*n)++] = k;
	}
	return 0;
}

static int subset_names(const struct sl_maps *m, const struct sl_service *v,
			char names[SL_MAX_SUBSETS][SL_SUBSET_NAME_LEN])
{
	struct sl_subset_name sn;
	__u32 j;

	for (j = 0; j < v->n_subsets && j < SL_MAX_SUBSETS; j++) {
		if (bpf_map_lookup_elem(m->subset_names, &v->subset_id[j], &sn))
			return -errno;
		memcpy(names[j], sn.subset, SL_SUBSET_NAME_LEN);
		names[j][SL_SUBSET_NAME_LEN - 1] = 0;
	}
	return 0;
}

int sl_tables_get_weights(const struct sl_maps *m, const char *service, struct sl_weights *w)
{
	struct sl_svc_key *keys;
	struct sl_service v;
	size_t n, j;
	__u32 slot;
	int err, r;

	memset(w, 0, sizeof(*w));
	err = service_keys(m, service, &keys, &n, &slot);
	if (err || !n) {
		free(keys);
		return err ?: -ENOENT;
	}
	if (bpf_map_lookup_elem(m->services, &keys[0], &v))
		err = errno == ENOENT ? -ESTALE : -errno;
	free(keys);
	err = err ?: subset_names(m, &v, w->names);
	if (err)
		return err;
	w->n = v.n_subsets;
	r = sl_status_default_route(&v);
	for (j = 0; r >= 0 && j < w->n; j++)
		w->weight[j] = v.routes[r].weight[j];
	w->overridden = r >= 0 && (v.routes[r].flags & SL_ROUTE_OVERRIDDEN);
	return 0;
}

int sl_tables_set_weights(const struct sl_maps *m, const char *service, char *const names[],
			  const uint32_t weights[], size_t n, struct sl_diag *diag)
{
	char have[SL_MAX_SUBSETS][SL_SUBSET_NAME_LEN];
	__u32 w[SL_MAX_SUBSETS] = {}, total = 0, slot = 0;
	struct sl_svc_key *keys = NULL;
	struct sl_service v;
	size_t n_keys, i, j;
	int err, r;

	err = service_keys(m, service, &keys, &n_keys, &slot);
	if (err)
		goto out;
	if (!n_keys || bpf_map_lookup_elem(m->services, &keys[0], &v)) {
		sl_diag_add(diag, NULL, "error", "no service '%s' in the running configuration",
			    service);
		err = -ENOENT;
		goto out;
	}
	err = subset_names(m, &v, have);
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		for (j = 0; j < v.n_subsets; j++)
			if (!strcmp(have[j], names[i]))
				break;
		if (j == v.n_subsets) {
			sl_diag_add(diag, NULL, "error", "service '%s' has no subset '%s'", service,
				    names[i]);
			err = -EINVAL;
			goto out;
		}
		if (weights[i] > SL_MAX_WEIGHT) {
			sl_diag_add(diag, NULL, "error", "weight %u of '%s' is above %d",
				    weights[i], names[i], SL_MAX_WEIGHT);
			err = -EINVAL;
			goto out;
		}
		w[j] = weights[i];
	}
	for (j = 0; j < SL_MAX_SUBSETS; j++)
		total += w[j];
	if (!total) {
		sl_diag_add(diag, NULL, "error",
			    "all weights are 0; at least one subset must get traffic");
		err = -EINVAL;
		goto out;
	}

	/* Each key on its own: a connection reads one key, so it sees one whole route. */
	for (i = 0; i < n_keys; i++) {
		if (i && bpf_map_lookup_elem(m->services, &keys[i], &v)) {
			err = -errno;
			goto out;
		}
		r = sl_status_default_route(&v);
		if (r < 0)
			continue;
		v.routes[r].total_weight = 0;
		for (j = 0; j < SL_MAX_SUBSETS; j++) {
			v.routes[r].weight[j] = j < v.n_subsets ? w[j] : 0;
			v.routes[r].total_weight += v.routes[r].weight[j];
		}
		v.routes[r].flags |= SL_ROUTE_OVERRIDDEN;
		if (bpf_map_update_elem(m->services, &keys[i], &v, BPF_EXIST)) {
			err = -errno;
			goto out;
		}
	}
	err = sl_tb_bump_generation(m);
out:
	free(keys);
	return err;
}

static uint64_t ref_hash(const struct sl_svc_ref *r)
{
	return sl_hash_bytes(0, r, sizeof(*r));
}

/* The index cfg implies, written where it differs from the map's. */
int sl_tb_write_index(const struct sl_maps *m, const struct sl_config *cfg,
		      struct sl_apply_stats *st)
{
	struct sl_svc_ref *refs = NULL, *wr = NULL;
	struct sl_svc_key *keys = NULL, *wk = NULL;
	size_t nw = 0, cap_r = 0, cap_k = 0;
	struct sl_hidx idx = {0};
	__u32 n = 0, r, i;
	bool *seen = NULL;
	size_t s, v, p;
	int err;

	err = sl_tb_read_all(m->svc_index, (void **)&refs, (void **)&keys, &n);
	seen = calloc(n ?: 1, sizeof(*seen));
	if (!err && !seen)
		err = -ENOMEM;
	for (i = 0; i < n && !err; i++)
		err = sl_hidx_add(&idx, ref_hash(&refs[i]), i);
	if (err)
		goto out;
	for (s = 0; s < cfg->n_services; s++) {
		const struct sl_service_cfg *svc = &cfg->services[s];
		struct sl_svc_ref ref = {};

		snprintf(ref.name, sizeof(ref.name), "%s", svc->name);
		for (v = 0; v < svc->n_vips; v++)
			for (p = 0; p < svc->n_ports; p++, ref.idx++) {
				struct sl_svc_key k = {
				    .port = htons(svc->ports[p].port),
				    .proto = svc->ports[p].proto,
				    .family = svc->vips[v].family,
				};
				size_t pos = SL_HIDX_START;
				bool same = false;

				memcpy(k.addr, svc->vips[v].addr, 16);
				while (!same && sl_hidx_next(&idx, ref_hash(&ref), &pos, &r))
					if (!memcmp(&refs[r], &ref, sizeof(ref))) {
						seen[r] = true;
						same = !memcmp(&keys[r], &k, sizeof(k));
					}
				if (same)
					continue;
				if (sl_reserve((void **)&wr, &cap_r, nw, 1, sizeof(*wr)) ||
				    sl_reserve((void **)&wk, &cap_k, nw, 1, sizeof(*wk))) {
					err = -ENOMEM;
					goto out;
				}
				wr[nw] = ref;
				wk[nw++] = k;
			}
	}
	/* stale entries first: the map holds as many as the tables, not twice that */
	for (i = 0; i < n; i++)
		if (!seen[i] && !bpf_map_delete_elem(m->svc_index, &refs[i]))
			st->index_written++;
	err = sl_tb_update_batch(m->svc_index, wr, wk, nw);
	if (!err)
		st->index_written += nw;
out:
	sl_hidx_free(&idx);
	free(refs);
	free(keys);
	free(wr);
	free(wk);
	free(seen);
	return err;
}
