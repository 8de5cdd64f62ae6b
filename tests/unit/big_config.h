/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Configurations at the size of the datapath's tables, as YAML text, for
 * the full-table tests: the loader's (tests/unit/test_fit.c) and the
 * datapath's (tests/full/test_full.c). Services s0, s1... have VIP
 * 172.16.(s >> 8).(s & 255) port 80; text helpers fail the process on
 * allocation failure (tests only).
 */
#ifndef SLUICE_TESTS_BIG_CONFIG_H
#define SLUICE_TESTS_BIG_CONFIG_H

#include <stdio.h>
#include <stdlib.h>

/* A YAML text built with printf: open_memstream grows it. */
struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static inline void text_open(struct text *t)
{
	t->buf = NULL;
	t->f = open_memstream(&t->buf, &t->len);
	if (!t->f)
		abort();
}

static inline char *text_close(struct text *t)
{
	if (fclose(t->f))
		abort();
	return t->buf;
}

/* IPv4 address number i: 10.(i >> 16).(i >> 8).i */
static inline void ip(FILE *f, unsigned int i)
{
	fprintf(f, "10.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
}

/* Services s0.., each with VIP 172.16.x.y:80 and nsub subsets of neps endpoints each. */
static inline void services(FILE *f, unsigned int n, unsigned int nsub, unsigned int neps,
			    unsigned int *ep)
{
	unsigned int s, j, e;

	fputs("services:\n", f);
	for (s = 0; s < n; s++) {
		fprintf(f,
			"- name: s%u\n  vips: [172.16.%u.%u]\n  ports: [{port: 80}]\n  subsets:\n",
			s, s >> 8, s & 0xff);
		for (j = 0; j < nsub; j++) {
			fprintf(f, "    v%u: {endpoints: [", j);
			for (e = 0; e < neps; e++) {
				fputs(e ? ", " : "", f);
				ip(f, (*ep)++);
			}
			fputs("]}\n", f);
		}
		fputs("  routes:\n  - split: {v0: 1}\n", f);
	}
}

/* Service s with two subsets, v0 and v1, up to its "routes:" line (s0: the list's head too). */
static inline void two_subsets(FILE *f, unsigned int s)
{
	if (!s)
		fputs("services:\n", f);
	fprintf(f,
		"- name: s%u\n  vips: [172.16.%u.%u]\n  ports: [{port: 80}]\n"
		"  subsets: {v0: {endpoints: [10.0.0.1]}, v1: {endpoints: [10.0.0.2]}}\n"
		"  routes:\n",
		s, s >> 8, s & 0xff);
}

/* services() as a text of its own. */
static inline char *services_text(unsigned int n, unsigned int nsub, unsigned int neps)
{
	unsigned int ep = 1;
	struct text t;

	text_open(&t);
	services(t.f, n, nsub, neps, &ep);
	return text_close(&t);
}

/* n services whose one route matches 16 sourceCIDRs each (distinct per service). */
static inline char *cidr_services(unsigned int n, unsigned int extra)
{
	unsigned int s, i;
	struct text t;

	text_open(&t);
	for (s = 0; s < n; s++) {
		two_subsets(t.f, s);
		fputs("  - match: {sourceCIDRs: [", t.f);
		for (i = 0; i < 16 + (s == n - 1 ? extra : 0); i++) {
			fputs(i ? ", " : "", t.f);
			fprintf(t.f, "192.%u.%u.0/24", (s * 17 + i) >> 8 & 0xff,
				(s * 17 + i) & 0xff);
		}
		fputs("]}\n    split: {v1: 1}\n  - split: {v0: 1}\n", t.f);
	}
	return text_close(&t);
}

/*
 * Workloads: every service's route selects the same workload by label, so
 * each of its addresses is an entry per service: 2,048 services x 32.
 */
static inline char *label_services(unsigned int n, unsigned int ips)
{
	unsigned int s, i;
	struct text t;

	text_open(&t);
	for (s = 0; s < n; s++) {
		two_subsets(t.f, s);
		fputs("  - match: {sourceLabels: {app: frontend}}\n    split: {v1: 1}\n"
		      "  - split: {v0: 1}\n",
		      t.f);
	}
	fputs("workloads:\n- labels: {app: frontend, version: v2}\n  ips: [", t.f);
	for (i = 0; i < ips; i++) {
		fputs(i ? ", " : "", t.f);
		ip(t.f, 0x100000 + i);
	}
	fputs("]\n", t.f);
	return text_close(&t);
}

/* n routes with a distinct header match each, 8 per service. */
static inline char *header_services(unsigned int n)
{
	unsigned int s, r, k = 0;
	struct text t;

	text_open(&t);
	for (s = 0; k < n; s++) {
		two_subsets(t.f, s);
		for (r = 0; r < 7 && k < n; r++, k++)
			fprintf(
			    t.f,
			    "  - match: {headers: {x-user: {exact: u%u}}}\n    split: {v1: 1}\n",
			    k);
		fputs("  - split: {v0: 1}\n", t.f);
	}
	return text_close(&t);
}

#endif /* SLUICE_TESTS_BIG_CONFIG_H */
