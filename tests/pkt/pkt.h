/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Hand-built Ethernet frames for the packet tests, and an independent view
 * of what comes back: header fields read by offset, checksums recomputed
 * from scratch (RFC 1071) rather than trusted. Nothing here shares code with
 * the datapath, so a rewrite bug cannot cancel itself out.
 */
#ifndef SLUICE_TESTS_PKT_H
#define SLUICE_TESTS_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PKT_MAX 2048

#define ETH_LEN	       14
#define ETHERTYPE_IP   0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_ARP  0x0806

#define PROTO_ICMP	1
#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_IPV6_FRAG 44

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define IP4_DF 0x4000
#define IP4_MF 0x2000

struct frame {
	uint8_t b[PKT_MAX];
	uint32_t len;
};

/* What to put in a frame. Ports host order, addresses network order. */
struct flow {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* PROTO_TCP, PROTO_UDP, or anything else: payload is the L4 */
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint32_t seq;
	uint32_t ack_seq;
	uint8_t ttl; /* 0 means 64 */
	const void *payload;
	uint32_t plen;
	const void *tcp_opts; /* multiple of 4 bytes */
	uint32_t tcp_opts_len;
	uint32_t ip_opts_len;  /* IPv4 options (NOPs), multiple of 4 */
	bool udp_no_csum;      /* IPv4 UDP sent without checksum (0) */
	uint16_t frag_off;     /* IPv4 flags+offset; 0 means DF */
	bool ip6_frag;	       /* IPv6: put a fragment header before L4 */
	uint16_t ip6_frag_off; /* its offset (8-byte units) << 3 | M flag */
};

static const uint8_t pkt_mac_dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t pkt_mac_src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

/* "10.0.0.1" or "fd00::1" into 16 bytes (IPv4 in the first 4); family. */
static inline int pkt_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 6;
	fprintf(stderr, "pkt_addr: bad address '%s'\n", s);
	return 0;
}

static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void pkt_put32(uint8_t *p, uint32_t v)
{
	pkt_put16(p, v >> 16);
	pkt_put16(p + 2, v & 0xffff);
}

static inline uint16_t pkt_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pkt_get32(const uint8_t *p)
{
	return (uint32_t)pkt_get16(p) << 16 | pkt_get16(p + 2);
}

/* RFC 1071: one's complement sum of 16-bit big-endian words, odd byte padded. */
static inline uint32_t csum_add_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += pkt_get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static inline uint16_t csum_fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Pseudo header (RFC 793 / RFC 8200 8.1) summed, not yet folded. */
static inline uint32_t csum_pseudo(int family, const uint8_t *saddr, const uint8_t *daddr,
				   uint8_t proto, uint32_t l4_len)
{
	uint8_t ph[40] = {0};

	if (family == 4) {
		memcpy(ph, saddr, 4);
		memcpy(ph + 4, daddr, 4);
		ph[9] = proto;
		pkt_put16(ph + 10, (uint16_t)l4_len);
		return csum_add_bytes(0, ph, 12);
	}
	memcpy(ph, saddr, 16);
	memcpy(ph + 16, daddr, 16);
	pkt_put32(ph + 32, l4_len);
	ph[39] = proto;
	return csum_add_bytes(0, ph, 40);
}

/* The checksum a sender puts in a header: complement of the folded sum. */
static inline uint16_t csum_final(uint32_t sum)
{
	return (uint16_t)~csum_fold16(sum);
}

/* Layout of a frame as built (and as the datapath must leave it). */
struct pkt_layout {
	int family;	 /* 0: not IP */
	uint32_t l3;	 /* offset of the IP header */
	uint32_t l4;	 /* offset of the L4 header */
	uint32_t l4_len; /* per the IP header */
	uint8_t proto;	 /* L4 protocol (after an IPv6 fragment header) */
	bool fragment;
	uint32_t csum_at; /* offset of the L4 checksum field, 0 if none */
};

static inline bool pkt_layout(const struct frame *f, struct pkt_layout *lo)
{
	const uint8_t *b = f->b;
	uint16_t et;

	memset(lo, 0, sizeof(*lo));
	if (f->len < ETH_LEN)
		return false;
	et = pkt_get16(b + 12);
	lo->l3 = ETH_LEN;
	if (et == ETHERTYPE_IP) {
		uint32_t ihl, tot;

		if (f->len < ETH_LEN + 20)
			return false;
		ihl = (b[ETH_LEN] & 0xf) * 4;
		tot = pkt_get16(b + ETH_LEN + 2);
		if (ihl < 20 || tot < ihl || ETH_LEN + tot > f->len)
			return false;
		lo->family = 4;
		lo->l4 = ETH_LEN + ihl;
		lo->l4_len = tot - ihl;
		lo->proto = b[ETH_LEN + 9];
		lo->fragment = pkt_get16(b + ETH_LEN + 6) & 0x3fff;
	} else if (et == ETHERTYPE_IPV6) {
		uint32_t plen;

		if (f->len < ETH_LEN + 40)
			return false;
		plen = pkt_get16(b + ETH_LEN + 4);
		if (ETH_LEN + 40 + plen > f->len)
			return false;
		lo->family = 6;
		lo->l4 = ETH_LEN + 40;
		lo->l4_len = plen;
		lo->proto = b[ETH_LEN + 6];
		if (lo->proto == PROTO_IPV6_FRAG) {
			if (plen < 8)
				return false;
			lo->proto = b[lo->l4];
			lo->fragment = true;
			lo->l4 += 8;
			lo->l4_len -= 8;
		}
	} else {
		return false;
	}
	if (lo->proto == PROTO_TCP && lo->l4_len >= 20)
		lo->csum_at = lo->l4 + 16;
	else if (lo->proto == PROTO_UDP && lo->l4_len >= 8)
		lo->csum_at = lo->l4 + 6;
	return true;
}

static inline const uint8_t *pkt_saddr(const struct frame *f)
{
	return f->b + ETH_LEN + (pkt_get16(f->b + 12) == ETHERTYPE_IP ? 12 : 8);
}

static inline const uint8_t *pkt_daddr(const struct frame *f)
{
	return f->b + ETH_LEN + (pkt_get16(f->b + 12) == ETHERTYPE_IP ? 16 : 24);
}

static inline uint16_t pkt_sport(const struct frame *f)
{
	struct pkt_layout lo;

	return pkt_layout(f, &lo) ? pkt_get16(f->b + lo.l4) : 0;
}

static inline uint16_t pkt_dport(const struct frame *f)
{
	struct pkt_layout lo;

	return pkt_layout(f, &lo) ? pkt_get16(f->b + lo.l4 + 2) : 0;
}

/* Text of the destination (or source) address, for messages and tallies. */
static inline const char *pkt_addr_str(const struct frame *f, bool dst, char *buf, size_t len)
{
	int v4 = pkt_get16(f->b + 12) == ETHERTYPE_IP;

	inet_ntop(v4 ? AF_INET : AF_INET6, dst ? pkt_daddr(f) : pkt_saddr(f), buf, len);
	return buf;
}

/* L4 checksum computed from scratch over pseudo header + whole segment. */
static inline uint16_t pkt_l4_csum(const struct frame *f, const struct pkt_layout *lo)
{
	uint8_t seg[PKT_MAX];
	uint32_t sum;

	memcpy(seg, f->b + lo->l4, lo->l4_len);
	memset(seg + (lo->csum_at - lo->l4), 0, 2);
	sum = csum_pseudo(lo->family, pkt_saddr(f), pkt_daddr(f), lo->proto, lo->l4_len);
	return csum_final(csum_add_bytes(sum, seg, lo->l4_len));
}

static inline uint16_t pkt_ip4_csum(const struct frame *f)
{
	uint8_t h[60];
	uint32_t ihl = (f->b[ETH_LEN] & 0xf) * 4;

	memcpy(h, f->b + ETH_LEN, ihl);
	memset(h + 10, 0, 2);
	return csum_final(csum_add_bytes(0, h, ihl));
}

/*
 * Verify every checksum in an IP frame against a from-scratch computation.
 * 0x0000 and 0xffff are the same one's complement number, so either is
 * accepted where the protocol allows it; UDP over IPv4 may carry 0 (none),
 * and then a computed 0 must have been sent as 0xffff (RFC 768).
 */
static inline bool pkt_csums_ok(const struct frame *f, char *why, size_t len)
{
	struct pkt_layout lo;
	uint16_t want, got;

	if (!pkt_layout(f, &lo) || !lo.family) {
		snprintf(why, len, "not a well-formed IP frame");
		return false;
	}
	if (lo.family == 4) {
		want = pkt_ip4_csum(f);
		got = pkt_get16(f->b + ETH_LEN + 10);
		if (want != got) {
			snprintf(why, len, "IPv4 header checksum 0x%04x, computed 0x%04x", got,
				 want);
			return false;
		}
	}
	if (!lo.csum_at || lo.fragment)
		return true;
	got = pkt_get16(f->b + lo.csum_at);
	if (lo.proto == PROTO_UDP && lo.family == 4 && got == 0)
		return true;
	want = pkt_l4_csum(f, &lo);
	if (lo.proto == PROTO_UDP && want == 0)
		want = 0xffff;
	if (want != got && (lo.proto == PROTO_UDP || (want | got) != 0xffff || (want & got))) {
		snprintf(why, len, "%s checksum 0x%04x, computed 0x%04x",
			 lo.proto == PROTO_TCP ? "TCP" : "UDP", got, want);
		return false;
	}
	return true;
}

/* Build f from fl with correct checksums; returns the frame length. */
static inline uint32_t pkt_build(struct frame *f, const struct flow *fl)
{
	uint8_t *b = f->b, *ip = b + ETH_LEN, *l4;
	uint32_t ip_hlen, l4_hlen, l4_len, ext = 0;
	uint8_t l4proto = fl->proto;

	memset(f, 0, sizeof(*f));
	memcpy(b, pkt_mac_dst, 6);
	memcpy(b + 6, pkt_mac_src, 6);
	pkt_put16(b + 12, fl->family == 4 ? ETHERTYPE_IP : ETHERTYPE_IPV6);

	if (l4proto == PROTO_TCP)
		l4_hlen = 20 + fl->tcp_opts_len;
	else if (l4proto == PROTO_UDP)
		l4_hlen = 8;
	else
		l4_hlen = 0;
	l4_len = l4_hlen + fl->plen;

	if (fl->family == 4) {
		ip_hlen = 20 + fl->ip_opts_len;
		ip[0] = 0x40 | (ip_hlen / 4);
		ip[1] = 0x10;
		pkt_put16(ip + 2, (uint16_t)(ip_hlen + l4_len));
		pkt_put16(ip + 4, 0x1234);
		pkt_put16(ip + 6, fl->frag_off ? fl->frag_off : IP4_DF);
		ip[8] = fl->ttl ? fl->ttl : 64;
		ip[9] = l4proto;
		memcpy(ip + 12, fl->saddr, 4);
		memcpy(ip + 16, fl->daddr, 4);
		memset(ip + 20, 1 /* NOP */, fl->ip_opts_len);
	} else {
		ip_hlen = 40;
		if (fl->ip6_frag)
			ext = 8;
		pkt_put32(ip, 0x60012345); /* version 6, flow label 0x12345 */
		pkt_put16(ip + 4, (uint16_t)(ext + l4_len));
		ip[6] = fl->ip6_frag ? PROTO_IPV6_FRAG : l4proto;
		ip[7] = fl->ttl ? fl->ttl : 64;
		memcpy(ip + 8, fl->saddr, 16);
		memcpy(ip + 24, fl->daddr, 16);
		if (fl->ip6_frag) {
			ip[40] = l4proto;
			pkt_put16(ip + 42, fl->ip6_frag_off);
			pkt_put32(ip + 44, 0xabcdef01);
		}
	}
	l4 = ip + ip_hlen + ext;

	if (l4proto == PROTO_TCP) {
		pkt_put16(l4, fl->sport);
		pkt_put16(l4 + 2, fl->dport);
		pkt_put32(l4 + 4, fl->seq);
		pkt_put32(l4 + 8, fl->ack_seq);
		l4[12] = (uint8_t)((l4_hlen / 4) << 4);
		l4[13] = fl->tcp_flags;
		pkt_put16(l4 + 14, 64240);
		if (fl->tcp_opts_len)
			memcpy(l4 + 20, fl->tcp_opts, fl->tcp_opts_len);
	} else if (l4proto == PROTO_UDP) {
		pkt_put16(l4, fl->sport);
		pkt_put16(l4 + 2, fl->dport);
		pkt_put16(l4 + 4, (uint16_t)l4_len);
	}
	if (fl->plen)
		memcpy(l4 + l4_hlen, fl->payload, fl->plen);

	f->len = ETH_LEN + ip_hlen + ext + l4_len;

	if (fl->family == 4)
		pkt_put16(ip + 10, pkt_ip4_csum(f));
	if (l4proto == PROTO_TCP || (l4proto == PROTO_UDP && !fl->udp_no_csum)) {
		uint32_t sum = csum_pseudo(fl->family, fl->saddr, fl->daddr, l4proto, l4_len);
		uint16_t c = csum_final(csum_add_bytes(sum, l4, l4_len));
		uint32_t at = l4proto == PROTO_TCP ? 16 : 6;

		if (l4proto == PROTO_UDP && c == 0)
			c = 0xffff;
		pkt_put16(l4 + at, c);
	}
	return f->len;
}

/* First differing byte of two frames, or -1 when identical (lengths too). */
static inline long pkt_diff(const struct frame *a, const struct frame *b)
{
	uint32_t i, n = a->len < b->len ? a->len : b->len;

	for (i = 0; i < n; i++)
		if (a->b[i] != b->b[i])
			return i;
	return a->len == b->len ? -1 : (long)n;
}

#endif /* SLUICE_TESTS_PKT_H */
