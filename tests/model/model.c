// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reference model of sl_ingress and sl_egress (model.h). Each function
 * says, in the model's own terms, what the datapath promises; the names of
 * the counters are sluice_abi.h's. Addresses, ports and checksums are kept
 * as they sit in the frame (network order, loaded as raw memory), as the
 * datapath keeps them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "sluice_hash.h"

#define ETH 14
#define IP4 0x0800
#define IP6 0x86dd
#define TCP 6
#define UDP 17
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

/* ---- tables ---- */

static size_t bucket(const struct sl_ct_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % MDL_BUCKETS;
}

struct sl_ct_entry *mdl_get(struct mdl_table *t, const struct sl_ct_key *k)
{
	struct mdl_ct_node *n;

	for (n = t->b[bucket(k)]; n; n = n->next)
		if (!memcmp(&n->k, k, sizeof(*k)))
			return &n->v;
	return NULL;
}

bool mdl_put(struct mdl_table *t, const struct sl_ct_key *k, const struct sl_ct_entry *v,
	     bool noexist)
{
	struct sl_ct_entry *e = mdl_get(t, k);
	struct mdl_ct_node *n;

	if (e) {
		if (noexist)
			return false;
		*e = *v;
		return true;
	}
	/* a full hash map refuses a new key (an LRU one would evict: never full here) */
	if (t->n >= t->max)
		return false;
	n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->k = *k;
	n->v = *v;
	n->next = t->b[bucket(k)];
	t->b[bucket(k)] = n;
	t->n++;
	return true;
}

void mdl_del(struct mdl_table *t, const struct sl_ct_key *k)
{
	struct mdl_ct_node **pp, *n;

	for (pp = &t->b[bucket(k)]; (n = *pp); pp = &n->next)
		if (!memcmp(&n->k, k, sizeof(*k))) {
			*pp = n->next;
			free(n);
			t->n--;
			return;
		}
}

void mdl_each(const struct mdl_table *t,
	      void (*fn)(void *arg, const struct sl_ct_key *k, const struct sl_ct_entry *v),
	      void *arg)
{
	const struct mdl_ct_node *n;
	size_t i;

	for (i = 0; i < MDL_BUCKETS; i++)
		for (n = t->b[i]; n; n = n->next)
			fn(arg, &n->k, &n->v);
}

static void table_clear(struct mdl_table *t)
{
	struct mdl_ct_node *n, *next;
	size_t i;

	for (i = 0; i < MDL_BUCKETS; i++) {
		for (n = t->b[i]; n; n = next) {
			next = n->next;
			free(n);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

static void copy_one(void *arg, const struct sl_ct_key *k, const struct sl_ct_entry *v)
{
	mdl_put(arg, k, v, false);
}

static void table_copy(struct mdl_table *dst, const struct mdl_table *src)
{
	table_clear(dst);
	dst->max = src->max;
	mdl_each(src, copy_one, dst);
}

int mdl_init(struct mdl *m, uint32_t ct_max)
{
	memset(m, 0, sizeof(*m));
	m->stats = calloc(SL_MAX_SUBSET_IDS, sizeof(*m->stats));
	m->eps = calloc(SL_SLOTS * SL_MAX_ENDPOINTS, sizeof(*m->eps));
	if (!m->stats || !m->eps)
		return -ENOMEM;
	m->ct.max = m->rn.max = ct_max;
	m->ct_new.max = m->rn_new.max = SL_CT_NEW_OF(ct_max);
	return 0;
}

void mdl_clear_conns(struct mdl *m)
{
	table_clear(&m->ct);
	table_clear(&m->rn);
	table_clear(&m->ct_new);
	table_clear(&m->rn_new);
}

void mdl_free(struct mdl *m)
{
	mdl_clear_conns(m);
	free(m->stats);
	free(m->eps);
	free(m->svcs);
	free(m->srcs);
	free(m->codes);
	memset(m, 0, sizeof(*m));
}

void mdl_share_config(struct mdl *dst, const struct mdl *src)
{
	if (dst->svcs != src->svcs)
		free(dst->svcs);
	if (dst->eps != src->eps)
		free(dst->eps);
	if (dst->srcs != src->srcs)
		free(dst->srcs);
	dst->state = src->state;
	dst->svcs = src->svcs;
	dst->n_svcs = src->n_svcs;
	dst->eps = src->eps;
	dst->srcs = src->srcs;
	dst->n_srcs = src->n_srcs;
	memcpy(dst->vip_filter, src->vip_filter, sizeof(dst->vip_filter));
	memcpy(dst->be_filter, src->be_filter, sizeof(dst->be_filter));
	memcpy(dst->hairpin4, src->hairpin4, sizeof(dst->hairpin4));
	memcpy(dst->hairpin6, src->hairpin6, sizeof(dst->hairpin6));
	memcpy(dst->local4, src->local4, sizeof(dst->local4));
	memcpy(dst->local6, src->local6, sizeof(dst->local6));
}

int mdl_copy_state(struct mdl *dst, const struct mdl *src)
{
	table_copy(&dst->ct, &src->ct);
	table_copy(&dst->rn, &src->rn);
	table_copy(&dst->ct_new, &src->ct_new);
	table_copy(&dst->rn_new, &src->rn_new);
	memcpy(dst->g, src->g, sizeof(dst->g));
	memcpy(dst->stats, src->stats, SL_MAX_SUBSET_IDS * sizeof(*dst->stats));
	free(dst->codes);
	dst->codes = NULL;
	dst->n_codes = dst->cap_codes = 0;
	if (src->n_codes) {
		dst->codes = malloc(src->n_codes * sizeof(*dst->codes));
		if (!dst->codes)
			return -ENOMEM;
		memcpy(dst->codes, src->codes, src->n_codes * sizeof(*dst->codes));
		dst->n_codes = dst->cap_codes = src->n_codes;
	}
	return 0;
}

/* ---- the packet ---- */

enum { P_OK, P_OTHER, P_FRAGMENT, P_MALFORMED };

struct pkt {
	__be32 saddr[4], daddr[4];
	__be16 sport, dport;
	uint8_t proto, family, flags;
	uint16_t ip_check; /* raw */
	uint32_t l4, csum_at, payload_at, payload_len;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * What the parser accepts. The Ethernet type decides (a VLAN tag is not
 * IP); then the IP header must be whole and agree with the frame; then the
 * L4 header must be whole inside what the IP header says follows it.
 */
static int parse(const uint8_t *b, uint32_t len, struct pkt *p)
{
	uint32_t l4_payload, ihl, tot, doff;
	uint16_t et = be16(b + 12);

	memset(p, 0, sizeof(*p));
	if (et == IP4) {
		if (len < ETH + 20)
			return P_MALFORMED;
		/* the protocol is looked at before the version */
		if (b[ETH + 9] != TCP && b[ETH + 9] != UDP)
			return P_OTHER;
		ihl = (b[ETH] & 0xf) * 4u;
		tot = be16(b + ETH + 2);
		if (b[ETH] >> 4 != 4 || ihl < 20 || tot < ihl || tot > len - ETH)
			return P_MALFORMED;
		if (be16(b + ETH + 6) & 0x3fff)
			return P_FRAGMENT;
		p->family = SL_AF_INET;
		p->proto = b[ETH + 9];
		memcpy(&p->saddr[0], b + ETH + 12, 4);
		memcpy(&p->daddr[0], b + ETH + 16, 4);
		memcpy(&p->ip_check, b + ETH + 10, 2);
		p->l4 = ETH + ihl;
		l4_payload = tot - ihl;
	} else if (et == IP6) {
		if (len < ETH + 40)
			return P_MALFORMED;
		if (b[ETH] >> 4 != 6)
			return P_MALFORMED;
		if (b[ETH + 6] == 44)
			return P_FRAGMENT;
		/* no extension header is walked: TCP or UDP right after, or not ours */
		if (b[ETH + 6] != TCP && b[ETH + 6] != UDP)
			return P_OTHER;
		l4_payload = be16(b + ETH + 4);
		if (l4_payload > len - ETH - 40)
			return P_MALFORMED;
		if (!l4_payload) /* a jumbogram's: the frame's length */
			l4_payload = len - ETH - 40;
		p->family = SL_AF_INET6;
		p->proto = b[ETH + 6];
		memcpy(p->saddr, b + ETH + 8, 16);
		memcpy(p->daddr, b + ETH + 24, 16);
		p->l4 = ETH + 40;
	} else {
		return P_OTHER;
	}
	if (p->proto == TCP) {
		if (l4_payload < 20 || len < p->l4 + 20)
			return P_MALFORMED;
		doff = b[p->l4 + 12] >> 4;
		if (doff < 5 || doff * 4 > l4_payload)
			return P_MALFORMED;
		p->payload_at = p->l4 + doff * 4;
		p->payload_len = l4_payload - doff * 4;
		p->flags = b[p->l4 + 13];
		p->csum_at = p->l4 + 16;
	} else {
		if (l4_payload < 8 || len < p->l4 + 8)
			return P_MALFORMED;
		if (be16(b + p->l4 + 4) < 8)
			return P_MALFORMED;
		p->csum_at = p->l4 + 6;
	}
	memcpy(&p->sport, b + p->l4, 2);
	memcpy(&p->dport, b + p->l4 + 2, 2);
	return P_OK;
}

static bool same(const __be32 *a, const __be32 *b)
{
	return !memcmp(a, b, 16);
}

static const __be32 *hairpin(const struct mdl *m, uint8_t family)
{
	return family == SL_AF_INET6 ? m->hairpin6 : m->hairpin4;
}

static bool filter_has(const uint64_t *words, const __be32 *addr, __be16 port, uint8_t proto)
{
	uint32_t bit = sl_filter_bit(addr, port, proto);

	return words[bit >> 6] & (1ULL << (bit & 63));
}

/* a SYN with RST or FIN opens nothing */
static bool syn_only(const struct pkt *p)
{
	return p->proto == TCP && (p->flags & (SYN | ACK | RST | FIN)) == SYN;
}

static bool ack_only(const struct pkt *p)
{
	return p->proto == TCP && (p->flags & (SYN | ACK | RST)) == ACK;
}

static bool closing(const struct pkt *p)
{
	return p->proto == TCP && (p->flags & (FIN | RST));
}

static struct sl_stats *row(struct mdl *m, uint32_t subset_id)
{
	return subset_id < SL_MAX_SUBSET_IDS ? &m->stats[subset_id] : NULL;
}

/* ---- keys: which tuple each direction of a connection has ---- */

/* The packet's tuple, as a forward key (client -> VIP) or as a reply key. */
static void key_of(struct sl_ct_key *k, const struct pkt *p)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, p->saddr, 16);
	memcpy(k->daddr, p->daddr, 16);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
}

/*
 * Replies come from the backend (its port) to the client at the port the
 * backend saw; a hairpin connection's to the hairpin address, its source
 * after translation.
 */
static void reply_key(const struct mdl *m, struct sl_ct_key *rk, const struct sl_ct_key *fk,
		      const struct sl_ct_entry *e)
{
	memset(rk, 0, sizeof(*rk));
	memcpy(rk->saddr, e->addr, 16);
	memcpy(rk->daddr, (e->flags & SL_CT_HAIRPIN) ? hairpin(m, fk->family) : fk->saddr, 16);
	rk->sport = e->port;
	rk->dport = e->nat_port;
	rk->proto = fk->proto;
	rk->family = fk->family;
}

/* The forward key a reverse entry rn (at reply key rk) answers. */
static void forward_key(struct sl_ct_key *fk, const struct sl_ct_key *rk,
			const struct sl_ct_entry *rn)
{
	memset(fk, 0, sizeof(*fk));
	/* a hairpin client is its own backend: the reply's source */
	memcpy(fk->saddr, (rn->flags & SL_CT_HAIRPIN) ? rk->saddr : rk->daddr, 16);
	memcpy(fk->daddr, rn->addr, 16);
	fk->sport = rn->nat_port;
	fk->dport = rn->port;
	fk->proto = rk->proto;
	fk->family = rk->family;
}

/* Is reverse entry rn still forward key fk's? */
static bool owned(const struct sl_ct_entry *rn, const struct sl_ct_key *fk)
{
	return rn->port == fk->dport && rn->nat_port == fk->sport && same(rn->addr, fk->daddr);
}

/* Confirmed first, then unconfirmed. */
static struct sl_ct_entry *find(struct mdl_table *conf, struct mdl_table *uncf,
				const struct sl_ct_key *k, bool *confirmed)
{
	struct sl_ct_entry *e = mdl_get(conf, k);

	*confirmed = e != NULL;
	return e ?: mdl_get(uncf, k);
}

/* The reverse entry a client packet p of a connection translated per e gets. */
static struct sl_ct_entry reverse_of(const struct pkt *p, const struct sl_ct_entry *e)
{
	struct sl_ct_entry rv = {0};

	memcpy(rv.addr, p->daddr, 16);
	rv.port = p->dport;
	rv.nat_port = p->sport;
	rv.family = p->family;
	rv.subset_id = e->subset_id;
	rv.flags = e->flags & (SL_CT_LOCAL | SL_CT_HAIRPIN | SL_CT_RT_WAIT | SL_CT_NO_HTTP);
	return rv;
}

/* Counted closed once, by whoever closes first. */
static void close_conn(struct mdl *m, struct sl_ct_entry *e)
{
	struct sl_stats *st;

	if (e->flags & SL_CT_CLOSED)
		return;
	e->flags |= SL_CT_CLOSED;
	st = row(m, e->subset_id);
	if (st)
		st->conns_closed++;
}

/*
 * Into the confirmed tables: forward entry f (NO_ROOM cleared) at fk and
 * the reverse entry r at rk if there is one. false: sl_conntrack full (or
 * the key taken), nothing moved.
 */
static bool confirm(struct mdl *m, const struct sl_ct_key *fk, const struct sl_ct_entry *f,
		    const struct sl_ct_key *rk, const struct sl_ct_entry *r)
{
	struct sl_ct_entry c = *f, rv;

	c.flags &= ~SL_CT_NO_ROOM;
	if (!mdl_put(&m->ct, fk, &c, true))
		return false;
	if (r) {
		rv = *r; /* r may live in rn_new, which the delete frees */
		if (!mdl_put(&m->rn, rk, &rv, false)) {
			mdl_del(&m->ct, fk);
			return false;
		}
		mdl_del(&m->rn_new, rk);
	}
	mdl_del(&m->ct_new, fk);
	m->g[SL_G_CT_CONFIRMED]++;
	return true;
}

/* ---- rewriting ---- */

static uint32_t csum32(uint32_t a, uint32_t b)
{
	uint32_t r = a + b;

	return r + (r < a);
}

/* The kernel's csum_fold(): 32 bits folded to 16, complemented. */
static uint16_t fold(uint32_t c)
{
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (uint16_t)~c;
}

/* RFC 1624 eqn. 3 for one 32-bit word of the IPv4 header. */
static uint16_t ip_csum_word(uint16_t check, uint32_t from, uint32_t to)
{
	uint32_t sum = (uint16_t)~check;

	sum += (uint16_t) ~(from >> 16) + (uint16_t) ~(from & 0xffff);
	sum += (to >> 16) + (to & 0xffff);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

struct tuple {
	__be32 saddr[4], daddr[4];
	__be16 sport, dport;
};

/*
 * Write tuple n into the frame and fix the checksums that cover it: the
 * IPv4 header's (RFC 1624), and the L4 one as bpf_l4_csum_replace() does
 * it on a frame without checksum offload: its complement plus the
 * difference of the words that changed, folded. A UDP checksum of 0 (none
 * sent, over IPv4) stays 0, and one that comes out 0 is sent as 0xffff.
 */
static void rewrite(uint8_t *b, const struct pkt *p, const struct tuple *n)
{
	int words = p->family == SL_AF_INET ? 1 : 4, i;
	bool addrs = false, ports = p->sport != n->sport || p->dport != n->dport;
	uint32_t diff = 0, from, to;
	uint16_t c;

	for (i = 0; i < words; i++)
		addrs |= p->saddr[i] != n->saddr[i] || p->daddr[i] != n->daddr[i];
	if (addrs)
		for (i = 0; i < words; i++) {
			diff = csum32(csum32(diff, ~p->saddr[i]), n->saddr[i]);
			diff = csum32(csum32(diff, ~p->daddr[i]), n->daddr[i]);
		}
	if (ports) {
		memcpy(&from, &p->sport, 2);
		memcpy((uint8_t *)&from + 2, &p->dport, 2);
		memcpy(&to, &n->sport, 2);
		memcpy((uint8_t *)&to + 2, &n->dport, 2);
		diff = csum32(csum32(diff, ~from), to);
	}
	if (addrs || ports) {
		memcpy(&c, b + p->csum_at, 2);
		if (!(p->proto == UDP && !c)) {
			c = fold(csum32(diff, ~(uint32_t)c));
			if (p->proto == UDP && !c)
				c = 0xffff;
			memcpy(b + p->csum_at, &c, 2);
		}
	}
	if (p->family == SL_AF_INET && addrs) {
		c = ip_csum_word(p->ip_check, p->saddr[0], n->saddr[0]);
		c = ip_csum_word(c, p->daddr[0], n->daddr[0]);
		memcpy(b + ETH + 10, &c, 2);
		memcpy(b + ETH + 12, &n->saddr[0], 4);
		memcpy(b + ETH + 16, &n->daddr[0], 4);
	} else if (addrs) {
		memcpy(b + ETH + 8, n->saddr, 16);
		memcpy(b + ETH + 24, n->daddr, 16);
	}
	memcpy(b + p->l4, &n->sport, 2);
	memcpy(b + p->l4 + 2, &n->dport, 2);
}

static void tuple_of(struct tuple *n, const struct pkt *p)
{
	memcpy(n->saddr, p->saddr, 16);
	memcpy(n->daddr, p->daddr, 16);
	n->sport = p->sport;
	n->dport = p->dport;
}

/* A hairpin goes straight back out: Ethernet addresses swapped, redirected. */
static int bounce(struct mdl_run *r)
{
	uint8_t tmp[6];

	memcpy(tmp, r->out + 6, 6);
	memcpy(r->out + 6, r->out, 6);
	memcpy(r->out, tmp, 6);
	return MDL_REDIRECT;
}

/* "HTTP/1.x NNN" at the start of a reply's TCP payload: one response of NNN. */
static void http_count(struct mdl *m, const struct mdl_run *r, const struct pkt *p,
		       struct sl_stats *st, uint32_t subset_id)
{
	const uint8_t *s = r->in + p->payload_at;
	uint32_t cls, d2, d3, code;
	size_t i;

	if (p->payload_len < 12 || p->payload_at + 12 > r->len)
		return;
	if (memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return;
	cls = (uint32_t)s[9] - '1';
	d2 = (uint32_t)s[10] - '0';
	d3 = (uint32_t)s[11] - '0';
	if (cls > 4 || d2 > 9 || d3 > 9)
		return;
	st->http_responses[cls]++;
	code = (cls + 1) * 100 + d2 * 10 + d3;
	for (i = 0; i < m->n_codes; i++)
		if (m->codes[i].k.subset_id == subset_id && m->codes[i].k.code == code)
			break;
	if (i == m->n_codes) {
		if (m->n_codes >= SL_MAX_HTTP_CODES)
			return; /* the map is full: the class counter has it */
		if (m->n_codes == m->cap_codes) {
			m->cap_codes = m->cap_codes ? 2 * m->cap_codes : 64;
			m->codes = realloc(m->codes, m->cap_codes * sizeof(*m->codes));
			if (!m->codes)
				abort();
		}
		m->codes[i].k = (struct sl_http_code_key){.subset_id = subset_id, .code = code};
		m->codes[i].n = 0;
		m->n_codes++;
	}
	m->codes[i].n++;
}

/* ---- the reply path ---- */

/*
 * A reply: from a backend (egress), or a hairpin connection's from the pod
 * to the hairpin address (ingress, hairpin set). Its reverse entry gives
 * the VIP back as the source, and the client's own port (and, hairpin, its
 * address) as the destination.
 */
static int reply(struct mdl *m, struct mdl_run *r, const struct pkt *p, bool hp)
{
	struct sl_ct_entry *rn, *fwd, *un, rv;
	struct sl_ct_key k, fk;
	bool confirmed, fc;
	struct sl_stats *st;
	struct tuple n;

	key_of(&k, p);
	rn = find(&m->rn, &m->rn_new, &k, &confirmed);
	if (!rn || !(rn->flags & SL_CT_HAIRPIN) != !hp)
		return MDL_UNSPEC;
	rv = *rn;
	forward_key(&fk, &k, &rv);
	st = row(m, rv.subset_id);
	if (p->proto == TCP && (p->flags & (SYN | FIN | RST))) {
		fwd = find(&m->ct, &m->ct_new, &fk, &fc);
		/*
		 * A SYN-ACK for a closed connection, or from another backend
		 * than the connection's, answers a direct connection on a
		 * reused port: the stale reverse entry goes, the packet is not
		 * ours.
		 */
		if ((p->flags & SYN) && (!fwd || (fwd->flags & SL_CT_CLOSED) ||
					 fwd->port != p->sport || !same(fwd->addr, p->saddr))) {
			mdl_del(confirmed ? &m->rn : &m->rn_new, &k);
			return MDL_UNSPEC;
		}
		if (fwd && closing(p))
			close_conn(m, fwd);
		if ((p->flags & RST) && st)
			st->backend_resets++;
	} else if (p->proto == UDP && !confirmed) {
		/* a UDP flow is confirmed by its backend's first answer */
		un = mdl_get(&m->ct_new, &fk);
		if (un) {
			struct sl_ct_entry f = *un;

			if (!confirm(m, &fk, &f, &k, &rv) && !(un->flags & SL_CT_NO_ROOM)) {
				un->flags |= SL_CT_NO_ROOM;
				m->g[SL_G_CT_FULL]++;
			}
		}
	}
	/* the first response byte: the reverse entry stops waiting */
	if ((rv.flags & SL_CT_RT_WAIT) && p->payload_len)
		rn->flags &= ~SL_CT_RT_WAIT;
	tuple_of(&n, p);
	memcpy(n.saddr, rv.addr, 16);
	n.sport = rv.port;
	n.dport = rv.nat_port;
	if (hp)
		memcpy(n.daddr, p->saddr, 16);
	rewrite(r->out, p, &n);
	m->g[SL_G_REPLY]++;
	if (st) {
		st->packets_out++;
		st->bytes_out += r->len;
		if (!(rv.flags & SL_CT_NO_HTTP))
			http_count(m, r, p, st, rv.subset_id);
	}
	return hp ? bounce(r) : MDL_OK;
}

/* ---- the forward path ---- */

enum { NEW_NAT, NEW_PASS, NEW_DROP };

/* The longest configured source prefix of (slot, svc_id) containing the client. */
static const struct sl_src_routes *src_lookup(const struct mdl *m, uint32_t slot, uint32_t svc_id,
					      uint8_t family, const __be32 *saddr)
{
	const struct mdl_src *best = NULL;
	uint32_t plen, full, rest;
	size_t i;

	for (i = 0; i < m->n_srcs; i++) {
		const struct mdl_src *s = &m->srcs[i];

		if (s->k.slot != slot || s->k.svc_id != svc_id || s->k.family != family)
			continue;
		plen = s->k.prefixlen - SL_SRC_KEY_FIXED_BITS;
		full = plen / 8;
		rest = plen % 8;
		if (memcmp(s->k.addr, saddr, full))
			continue;
		if (rest && ((((const uint8_t *)s->k.addr)[full] ^ ((const uint8_t *)saddr)[full]) &
			     (0xff << (8 - rest))))
			continue;
		if (!best || s->k.prefixlen > best->k.prefixlen)
			best = s;
	}
	return best ? &best->v : NULL;
}

/*
 * The choice for a new connection: the active slot's service for the
 * VIP, port and protocol; its first route that applies to this client;
 * that route's subset by weight (sluice_hash.h); an endpoint of the
 * packet's family in it.
 */
static int choose(struct mdl *m, const struct pkt *p, struct sl_ct_entry *e)
{
	static const struct sl_src_routes none;
	const struct sl_src_routes *hit = &none;
	const struct sl_service *svc = NULL;
	const struct sl_route *rt = NULL;
	const struct sl_endpoint *ep;
	uint32_t slot = m->state.active_slot, h, n, sid, idx;
	size_t i;
	int r, s;

	for (i = 0; i < m->n_svcs; i++) {
		const struct sl_svc_key *k = &m->svcs[i].k;

		if (k->slot == slot && same(k->addr, p->daddr) && k->port == p->dport &&
		    k->proto == p->proto && k->family == p->family) {
			svc = &m->svcs[i].v;
			break;
		}
	}
	if (!svc) {
		m->g[SL_G_PASS]++;
		return NEW_PASS;
	}
	/* header routes need the L7 step, which is not listening here */
	if ((svc->flags & SL_SVC_L7) && p->proto == TCP)
		m->g[SL_G_L7_FALLBACK]++;
	if (svc->flags & SL_SVC_SRC_MATCH)
		hit = src_lookup(m, slot, svc->svc_id, p->family, p->saddr) ?: &none;
	for (r = 0; r < svc->n_routes && r < SL_MAX_ROUTES; r++) {
		uint32_t f = svc->routes[r].flags;

		if (f & (SL_ROUTE_SKIP | SL_ROUTE_NEEDS_L7))
			continue;
		if ((f & SL_ROUTE_MATCH_CIDR) && !(hit->cidr_routes & (1U << r)))
			continue;
		if ((f & SL_ROUTE_MATCH_LABELS) && !(hit->label_routes & (1U << r)))
			continue;
		rt = &svc->routes[r];
		break;
	}
	s = rt ? sl_pick_subset(svc, rt, m->state.hash_seed, p->saddr, p->daddr, p->sport, p->dport,
				p->proto, &h)
	       : -1;
	if (s < 0 || s >= SL_MAX_SUBSETS) {
		m->g[SL_G_NO_ROUTE]++;
		return NEW_PASS;
	}
	sid = svc->subset_id[s];
	n = svc->ep_count[s];
	if (!n) {
		if (row(m, sid))
			row(m, sid)->no_endpoint++;
		m->g[SL_G_NO_ENDPOINT]++;
		return NEW_DROP;
	}
	idx = sl_ep_index(svc->ep_base[s], n, h);
	ep = idx < SL_SLOTS * SL_MAX_ENDPOINTS ? &m->eps[idx] : NULL;
	if (!ep || ep->family != p->family) {
		m->g[SL_G_NO_ENDPOINT]++;
		return NEW_DROP;
	}
	memcpy(e->addr, ep->addr, 16);
	e->port = ep->port ?: svc->target_port;
	e->family = ep->family;
	e->subset_id = sid;
	e->flags = same(e->addr, p->saddr) ? SL_CT_HAIRPIN : 0;
	if (svc->flags & SL_SVC_NO_HTTP)
		e->flags |= SL_CT_NO_HTTP;
	/* response time: a TCP connection waits for its first request byte */
	if (p->proto == TCP)
		e->flags |= SL_CT_RT_WAIT;
	return NEW_NAT;
}

/* May connection fk have reply key rk: free, its own, or a closed one's? */
static bool reply_free(struct mdl *m, const struct sl_ct_key *rk, const struct sl_ct_key *fk)
{
	struct sl_ct_entry *rn, *other;
	struct sl_ct_key ok;
	bool c;

	rn = find(&m->rn, &m->rn_new, rk, &c);
	if (!rn || owned(rn, fk))
		return true;
	forward_key(&ok, rk, rn);
	other = find(&m->ct, &m->ct_new, &ok, &c);
	return !other || (other->flags & SL_CT_CLOSED);
}

/*
 * Open connection fk unconfirmed: a reply key nobody live holds (the
 * client's port, else up to 8 others drawn from the connection's hash),
 * both entries in the unconfirmed tables, counted.
 */
static int open_conn(struct mdl *m, const struct mdl_run *r, const struct pkt *p,
		     const struct sl_ct_key *fk, struct sl_ct_entry *e, bool reuse)
{
	struct sl_ct_entry rv, *won;
	struct sl_ct_key rk;
	struct sl_stats *st;
	uint32_t i;

	e->nat_port = p->sport;
	e->ifindex = r->ifindex;
	e->last_seen = r->now;
	for (i = 0;; i++) {
		if (i == 8) {
			m->g[SL_G_CLASH_DROP]++;
			return NEW_DROP;
		}
		reply_key(m, &rk, fk, e);
		if (reply_free(m, &rk, fk))
			break;
		e->nat_port = htons(1024 + sl_hash_conn(m->state.hash_seed ^ ((i + 1) * 0x9e3779b9),
							fk->saddr, fk->daddr, fk->sport, fk->dport,
							fk->proto) %
					       64512);
	}
	if (i)
		m->g[SL_G_PORT_REMAP]++;
	if (!mdl_put(&m->ct_new, fk, e, !reuse)) {
		won = mdl_get(&m->ct_new, fk);
		if (!won)
			return NEW_DROP;
		*e = *won;
		return NEW_NAT;
	}
	rv = reverse_of(p, e);
	mdl_put(&m->rn_new, &rk, &rv, false);
	if (e->flags & SL_CT_HAIRPIN)
		m->g[SL_G_HAIRPIN]++;
	m->g[SL_G_NEW_CONN]++;
	st = row(m, e->subset_id);
	if (st)
		st->conns_opened++;
	return NEW_NAT;
}

/* Translate a client's packet per entry e. */
static int forward(struct mdl *m, struct mdl_run *r, const struct pkt *p,
		   const struct sl_ct_entry *e)
{
	struct sl_stats *st;
	struct tuple n;

	tuple_of(&n, p);
	memcpy(n.daddr, e->addr, 16);
	n.dport = e->port;
	n.sport = e->nat_port;
	if (e->flags & SL_CT_HAIRPIN)
		memcpy(n.saddr, hairpin(m, p->family), 16);
	rewrite(r->out, p, &n);
	/* to the L7 step: marked for local delivery, counted by the step */
	if (e->flags & SL_CT_LOCAL)
		return MDL_OK;
	st = row(m, e->subset_id);
	if (st) {
		st->packets_in++;
		st->bytes_in += r->len;
	}
	return (e->flags & SL_CT_HAIRPIN) ? bounce(r) : MDL_OK;
}

/* Is the connection over, so that p starts a new one on its tuple? */
static bool over(const struct sl_ct_entry *ct, const struct pkt *p, uint32_t now, bool confirmed)
{
	if (p->proto == UDP)
		return now - ct->last_seen > SL_CT_UDP_IDLE_TICKS;
	if (!syn_only(p))
		return false;
	return (ct->flags & SL_CT_CLOSED) || (!confirmed && (ct->flags & SL_CT_LOCAL));
}

/* Once a tick: true when this packet is the tick's first. */
static bool touch(struct sl_ct_entry *ct, uint32_t now)
{
	if (ct->last_seen == now)
		return false;
	ct->last_seen = now;
	return true;
}

/* Put back the reverse entry at rk if neither map has it (sl_rn_restore). */
static void restore(struct mdl *m, const struct pkt *p, const struct sl_ct_key *rk,
		    const struct sl_ct_entry *e, bool confirmed)
{
	struct sl_ct_entry rv;

	if (mdl_get(&m->rn, rk) || mdl_get(&m->rn_new, rk))
		return;
	rv = reverse_of(p, e);
	/* the confirmed table is a hash map: full, it refuses */
	if (mdl_put(confirmed ? &m->rn : &m->rn_new, rk, &rv, true))
		m->g[SL_G_REVNAT_RESTORED]++;
	else
		m->g[SL_G_REVNAT_FULL]++;
}

/* A client's packet to a VIP. */
static int client(struct mdl *m, struct mdl_run *r, const struct pkt *p)
{
	struct sl_ct_entry *ct, e = {0};
	struct sl_ct_key fk, rk;
	bool confirmed, touched, reuse = false;
	int res;

	key_of(&fk, p);
	ct = find(&m->ct, &m->ct_new, &fk, &confirmed);
	if (ct) {
		/* where the connection came in, or nowhere */
		if (ct->ifindex != r->ifindex) {
			m->g[SL_G_WRONG_IFACE]++;
			return MDL_SHOT;
		}
		if (over(ct, p, r->now, confirmed)) {
			if (p->proto == UDP) {
				close_conn(m, ct);
				m->g[SL_G_UDP_EXPIRED]++;
			} else if (ct->flags & SL_CT_CLOSED) {
				m->g[SL_G_PORT_REUSE]++;
			}
			/* the old backend's replies are no longer ours */
			reply_key(m, &rk, &fk, ct);
			{
				bool c;
				struct sl_ct_entry *rn = find(&m->rn, &m->rn_new, &rk, &c);

				if (rn && owned(rn, &fk))
					mdl_del(c ? &m->rn : &m->rn_new, &rk);
			}
			if (confirmed)
				mdl_del(&m->ct, &fk);
			reuse = true;
			goto decide;
		}
		if (closing(p))
			close_conn(m, ct);
		/* stamped once a tick, confirmed or not (an unconfirmed UDP flow ages too) */
		touched = touch(ct, r->now);
		/* the first request byte: the forward entry stops waiting */
		if ((ct->flags & SL_CT_RT_WAIT) && p->payload_len)
			ct->flags &= ~SL_CT_RT_WAIT;
		e = *ct;
		m->g[(e.flags & SL_CT_LOCAL) ? SL_G_L7_ESTABLISHED : SL_G_ESTABLISHED]++;
		if (!confirmed && ack_only(p) && (!(e.flags & SL_CT_NO_ROOM) || touched)) {
			/* the client's ACK: its address is real, the connection confirmed */
			struct sl_ct_entry *rn_new;

			reply_key(m, &rk, &fk, &e);
			rn_new = mdl_get(&m->rn_new, &rk);
			if (confirm(m, &fk, &e, &rk, rn_new)) {
				if (!rn_new)
					restore(m, p, &rk, &e, true);
			} else if (!(ct->flags & SL_CT_NO_ROOM)) {
				ct->flags |= SL_CT_NO_ROOM;
				m->g[SL_G_CT_FULL]++;
			}
		} else if (touched || (!confirmed && syn_only(p))) {
			/* a reverse entry gone on its own is put back */
			reply_key(m, &rk, &fk, &e);
			restore(m, p, &rk, &e, confirmed);
		}
		return forward(m, r, p, &e);
	}
	/* only a SYN opens a TCP connection */
	if (p->proto == TCP && !syn_only(p)) {
		/* a backend's reply that the VIP filter let in is no miss */
		if (!filter_has(m->be_filter, p->saddr, p->sport, p->proto) ||
		    (!mdl_get(&m->rn, &fk) && !mdl_get(&m->rn_new, &fk)))
			m->g[SL_G_CT_MISS]++;
		return MDL_UNSPEC;
	}
decide:
	res = choose(m, p, &e);
	if (res == NEW_NAT)
		res = open_conn(m, r, p, &fk, &e, reuse);
	if (res == NEW_PASS)
		return MDL_UNSPEC;
	if (res == NEW_DROP)
		return MDL_SHOT;
	return forward(m, r, p, &e);
}

void mdl_step(struct mdl *m, struct mdl_run *r)
{
	struct pkt p;
	int res;

	memcpy(r->out, r->in, r->len);
	r->out_len = r->len;
	res = parse(r->in, r->len, &p);
	if (res != P_OK) {
		if (res == P_FRAGMENT)
			m->g[SL_G_FRAGMENT]++;
		else if (res == P_MALFORMED)
			m->g[SL_G_MALFORMED]++;
		r->verdict = MDL_UNSPEC;
		return;
	}
	if (!r->egress) {
		if (same(p.daddr, hairpin(m, p.family))) {
			r->verdict = reply(m, r, &p, true);
			return;
		}
		if (!filter_has(m->vip_filter, p.daddr, p.dport, p.proto)) {
			m->g[SL_G_PASS]++;
			r->verdict = MDL_UNSPEC;
			return;
		}
		r->verdict = client(m, r, &p);
		return;
	}
	/* from a backend, or from the L7 step's sockets */
	if (!filter_has(m->be_filter, p.saddr, p.sport, p.proto) &&
	    !same(p.saddr, p.family == SL_AF_INET6 ? m->local6 : m->local4)) {
		r->verdict = MDL_UNSPEC;
		return;
	}
	r->verdict = reply(m, r, &p, false);
}
