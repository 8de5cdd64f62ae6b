// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Stable ids: a service's and a subset's row (name, counters) keeps its
 * number across applies and restarts. The rows are read once per apply
 * (the names maps are mmapable: at memory speed), indexed by name, and
 * written only where they change. Part of the table writer (tables.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/hidx.h"
#include "datapath/tables_internal.h"

static uint64_t name_hash(const char *svc, const char *subset)
{
	uint64_t h = sl_hash_bytes(0, svc, strnlen(svc, SL_NAME_LEN));

	return subset ? sl_hash_bytes(h, subset, strnlen(subset, SL_SUBSET_NAME_LEN)) : h;
}

static bool row_is(const struct sl_id_alloc *a, __u32 i, const char *svc, const char *subset)
{
	if (subset)
		return !strncmp(a->sub[i].service, svc, SL_NAME_LEN) &&
		       !strncmp(a->sub[i].subset, subset, SL_SUBSET_NAME_LEN);
	return !strncmp(a->svc[i].name, svc, SL_NAME_LEN);
}

void sl_ids_free(struct sl_id_alloc *a)
{
	free(a->st);
	if (a->map_len) {
		munmap(a->svc ? (void *)a->svc : (void *)a->sub, a->map_len);
	} else {
		free(a->svc);
		free(a->sub);
	}
	sl_hidx_free(&a->by_name);
	memset(a, 0, sizeof(*a));
}

/* Every row in one batch read; names into a hash index. */
static int id_alloc_init(struct sl_id_alloc *a, int fd, bool subsets, __u32 rows)
{
	size_t vsize = subsets ? sizeof(*a->sub) : sizeof(*a->svc);
	__u32 i, top = 0, n = 0, *keys;
	long pg = sysconf(_SC_PAGESIZE);
	int err = 0;
	void *p;

	memset(a, 0, sizeof(*a));
	a->n = rows;
	a->st = calloc(rows ?: 1, 1);
	if (!a->st)
		return -ENOMEM;
	/* maps pinned by an older sluice are not mmapable: one batch read then */
	a->map_len = (rows * vsize + pg - 1) / pg * pg;
	p = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		n = rows;
	} else {
		a->map_len = 0;
		p = calloc(rows ?: 1, vsize);
		keys = calloc(rows ?: 1, sizeof(*keys));
		err = p && keys ? sl_tb_read_batch(fd, NULL, keys, p, rows, &n) : -ENOMEM;
		free(keys);
	}
	if (subsets)
		a->sub = p;
	else
		a->svc = p;
	if (!p)
		return -ENOMEM;
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		__u32 in_use = subsets ? a->sub[i].in_use : a->svc[i].in_use;

		if (!in_use)
			continue;
		a->st[i] |= in_use == SL_ID_IN_USE ? ID_WAS : ID_RETIRED;
		top = i + 1;
		err = subsets ? sl_hidx_add(&a->by_name,
					    name_hash(a->sub[i].service, a->sub[i].subset), i)
			      : sl_hidx_add(&a->by_name, name_hash(a->svc[i].name, NULL), i);
		if (err)
			return err;
	}
	a->next = rows ? top % rows : 0;
	return 0;
}

/*
 * A new name gets a row never used before if there is one, and only then
 * a retired row: connections of a removed subset drain into its row, which
 * must not be counted as someone else's while they do.
 */
static int id_take(struct sl_id_alloc *a, __u32 *id)
{
	__u32 i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < a->n; i++) {
			__u32 c = (a->next + i) % a->n;

			if ((a->st[c] & (ID_USED | ID_WAS)) || (!pass && (a->st[c] & ID_RETIRED)))
				continue;
			a->st[c] |= ID_USED;
			a->next = (c + 1) % a->n;
			*id = c;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The row that has (or had) this name; a returning name gets its row back. */
static int find_id(const struct sl_id_alloc *a, const char *svc, const char *subset, __u32 *id)
{
	size_t pos = SL_HIDX_START;
	__u32 r;

	while (sl_hidx_next(&a->by_name, name_hash(svc, subset), &pos, &r))
		if ((a->st[r] & (ID_WAS | ID_RETIRED)) && row_is(a, r, svc, subset)) {
			*id = r;
			return 0;
		}
	return -ENOENT;
}

/*
 * A retired row taken by a new subset starts from zero. A row never used
 * is zero already (only the rows of configured subsets are counted into).
 */
int sl_ids_zero_new_rows(const struct sl_maps *m, const struct sl_config *cfg,
			 const struct svc_plan *plan, const struct sl_id_alloc *sub_ids,
			 struct sl_apply_stats *st)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ncpu = libbpf_num_possible_cpus();
	__u32 *ids = NULL, n = 0, count;
	struct sl_stats *z = NULL;
	size_t i, j, total = 0;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	for (i = 0; i < cfg->n_services; i++)
		for (j = 0; j < cfg->services[i].n_subsets; j++)
			total += plan[i].new_subset[j] &&
				 (sub_ids->st[plan[i].subset_id[j]] & ID_RETIRED);
	if (!total)
		return 0;
	ids = calloc(total, sizeof(*ids));
	z = calloc(total * ncpu, sizeof(*z));
	if (!ids || !z) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->n_services; i++)
		for (j = 0; j < cfg->services[i].n_subsets; j++)
			if (plan[i].new_subset[j] &&
			    (sub_ids->st[plan[i].subset_id[j]] & ID_RETIRED))
				ids[n++] = plan[i].subset_id[j];
	count = n;
	if (bpf_map_update_batch(m->stats, ids, z, &count, &opts)) {
		err = -errno;
		goto out;
	}
	count = n;
	if (m->l7_stats >= 0 && bpf_map_update_batch(m->l7_stats, ids, z, &count, &opts))
		err = -errno;
	st->rows_written += n;
out:
	free(ids);
	free(z);
	return err;
}

/* Rows neither the new config nor the running one holds. */
static size_t ids_free(const struct sl_id_alloc *a)
{
	size_t i, n = 0;

	for (i = 0; i < a->n; i++)
		n += !(a->st[i] & (ID_USED | ID_WAS));
	return n;
}

int sl_ids_plan(const struct sl_maps *m, const struct sl_config *cfg, struct svc_plan *plan,
		struct sl_id_alloc *svc_ids, struct sl_id_alloc *sub_ids, struct sl_diag *diag)
{
	size_t i, j, new_svcs = 0, new_subsets = 0, free_svcs, free_subsets;

	int err;

	err = id_alloc_init(svc_ids, m->svc_names, false, m->max_ids);
	err = err ?: id_alloc_init(sub_ids, m->subset_names, true, m->max_ids);
	if (err)
		return err;

	/* Keep existing ids first, so a new name cannot take an old one's row. */
	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];

		plan[i].new_svc = find_id(svc_ids, s->name, NULL, &plan[i].svc_id) != 0;
		if (!plan[i].new_svc)
			svc_ids->st[plan[i].svc_id] |= ID_USED;
		new_svcs += plan[i].new_svc;
		for (j = 0; j < s->n_subsets; j++) {
			plan[i].new_subset[j] = find_id(sub_ids, s->name, s->subsets[j].name,
							&plan[i].subset_id[j]) != 0;
			if (!plan[i].new_subset[j])
				sub_ids->st[plan[i].subset_id[j]] |= ID_USED;
			new_subsets += plan[i].new_subset[j];
		}
	}
	/*
	 * The running configuration's rows stay its own until the flip (its
	 * connections count into them): the new names must fit in the rest.
	 * The loader has checked that the config alone fits.
	 */
	free_svcs = ids_free(svc_ids);
	free_subsets = ids_free(sub_ids);
	if (new_svcs > free_svcs || new_subsets > free_subsets) {
		sl_diag_add(
		    diag, NULL, "error",
		    "this configuration has %zu new service(s) and %zu new subset(s), but "
		    "only %zu service and %zu subset counter rows are free: the limit is %u "
		    "of each (`run --max-services`), and the running configuration "
		    "keeps its rows until it is replaced; apply one without the services it "
		    "removes first",
		    new_svcs, new_subsets, free_svcs, free_subsets, m->max_ids);
		return -ENOSPC;
	}
	for (i = 0; i < cfg->n_services; i++) {
		if (plan[i].new_svc && id_take(svc_ids, &plan[i].svc_id))
			return -ENOSPC;
		for (j = 0; j < cfg->services[i].n_subsets; j++)
			if (plan[i].new_subset[j] && id_take(sub_ids, &plan[i].subset_id[j]))
				return -ENOSPC;
	}
	return 0;
}

/* The names of the rows cfg uses, where they are not already what the map holds. */
int sl_ids_write_names(const struct sl_maps *m, const struct sl_config *cfg,
		       const struct svc_plan *plan, struct sl_id_alloc *svc_ids,
		       struct sl_id_alloc *sub_ids, struct sl_apply_stats *st)
{
	struct sl_subset_name *sns = NULL;
	struct sl_svc_name *vns = NULL;
	__u32 *vids = NULL, *sids = NULL;
	size_t i, j, nv = 0, ns = 0, cap_v = 0, cap_s = 0, cap_vi = 0, cap_si = 0;
	int err = 0;

	for (i = 0; i < cfg->n_services; i++) {
		const struct sl_service_cfg *s = &cfg->services[i];
		struct sl_svc_name vn = {.in_use = SL_ID_IN_USE};
		__u32 id = plan[i].svc_id;

		snprintf(vn.name, sizeof(vn.name), "%s", s->name);
		if (memcmp(&svc_ids->svc[id], &vn, sizeof(vn)) && svc_ids->map_len) {
			svc_ids->svc[id] = vn;
			st->rows_written++;
		} else if (memcmp(&svc_ids->svc[id], &vn, sizeof(vn))) {
			if (sl_reserve((void **)&vns, &cap_v, nv, 1, sizeof(*vns)) ||
			    sl_reserve((void **)&vids, &cap_vi, nv, 1, sizeof(*vids))) {
				err = -ENOMEM;
				goto out;
			}
			vids[nv] = id;
			vns[nv++] = vn;
		}
		for (j = 0; j < s->n_subsets; j++) {
			struct sl_subset_name sn = {.in_use = SL_ID_IN_USE,
						    .svc_id = plan[i].svc_id};

			id = plan[i].subset_id[j];
			snprintf(sn.service, sizeof(sn.service), "%s", s->name);
			snprintf(sn.subset, sizeof(sn.subset), "%s", s->subsets[j].name);
			if (!memcmp(&sub_ids->sub[id], &sn, sizeof(sn)))
				continue;
			if (sub_ids->map_len) {
				sub_ids->sub[id] = sn;
				st->rows_written++;
				continue;
			}
			if (sl_reserve((void **)&sns, &cap_s, ns, 1, sizeof(*sns)) ||
			    sl_reserve((void **)&sids, &cap_si, ns, 1, sizeof(*sids))) {
				err = -ENOMEM;
				goto out;
			}
			sids[ns] = id;
			sns[ns++] = sn;
		}
	}
	err = sl_tb_update_batch(m->svc_names, vids, vns, nv);
	err = err ?: sl_tb_update_batch(m->subset_names, sids, sns, ns);
	if (!err)
		st->rows_written += nv + ns;
out:
	free(vns);
	free(sns);
	free(vids);
	free(sids);
	return err;
}

/*
 * After the flip: rows the new config does not use are retired. They keep
 * their names (a subset that comes back gets its row and counters back).
 */
void sl_ids_release(const struct sl_maps *m, const struct sl_id_alloc *svc_ids,
		    const struct sl_id_alloc *sub_ids)
{
	__u32 i;

	for (i = 0; i < svc_ids->n; i++) {
		struct sl_svc_name vn = svc_ids->svc[i];

		if ((svc_ids->st[i] & (ID_WAS | ID_USED)) == ID_WAS) {
			vn.in_use = SL_ID_RETIRED;
			bpf_map_update_elem(m->svc_names, &i, &vn, BPF_ANY);
		}
	}
	for (i = 0; i < sub_ids->n; i++) {
		struct sl_subset_name sn = sub_ids->sub[i];

		if ((sub_ids->st[i] & (ID_WAS | ID_USED)) == ID_WAS) {
			sn.in_use = SL_ID_RETIRED;
			bpf_map_update_elem(m->subset_names, &i, &sn, BPF_ANY);
		}
	}
}
