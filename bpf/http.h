/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x response status, read from the reply path: a reply segment whose
 * TCP payload starts with "HTTP/1.0 NNN" or "HTTP/1.1 NNN" (NNN 100..599)
 * counts one response of class N and of code NNN for its subset.
 *
 * Only the first 12 bytes of a segment are looked at, once, at a fixed
 * length: no loops, no variable offsets into the stack. Deliberately not
 * counted (docs/http.md): a status line split across segments, a response
 * that starts in the middle of a segment (pipelining, a 100 Continue and its
 * final response in one segment), TLS, HTTP/2 and HTTP/3. A retransmitted
 * segment that starts a response counts again: telling it from a new one
 * would need per-connection sequence state, for a rare error of one.
 */
#ifndef SLUICE_BPF_HTTP_H
#define SLUICE_BPF_HTTP_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "parse.h"

/* "HTTP/1.1 200": the shortest status line prefix that says the code. */
#define SL_HTTP_PREFIX 12

/* Bytes as they sit in memory, compared as one native word. */
#define SL_HTTP_WORD(a, b, c, d) bpf_htonl(((a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static __always_inline void sl_http_code_inc(__u32 subset_id, __u32 code)
{
	struct sl_http_code_key k = {.subset_id = subset_id, .code = code};
	__u64 zero = 0, *v;

	v = bpf_map_lookup_elem(&sl_http_codes, &k);
	if (!v) {
		/* NOEXIST: another CPU may have added it first; then use theirs */
		bpf_map_update_elem(&sl_http_codes, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&sl_http_codes, &k);
		if (!v) {
			/* map full: the class counter still has it */
			sl_global_inc(SL_G_HTTP_CODES_FULL);
			return;
		}
	}
	*v += 1;
}

/*
 * p is a reply of a tracked connection, st its subset's counters. A pure
 * ACK costs the length test; any other payload one 12-byte load and a
 * 4-byte compare before it can be told apart from a status line.
 */
static __always_inline void sl_http_count(struct __sk_buff *skb, const struct sl_pkt *p,
					  struct sl_stats *st, __u32 subset_id)
{
	union {
		__u32 w[3];
		__u8 b[SL_HTTP_PREFIX];
	} s;
	__u32 cls, d2, d3;

	/* payload_len is TCP's only (parse.h): no protocol test needed */
	if (p->payload_len < SL_HTTP_PREFIX)
		return;
	if (bpf_skb_load_bytes(skb, p->payload_off, &s, sizeof(s)))
		return;
	if (s.w[0] != SL_HTTP_WORD('H', 'T', 'T', 'P'))
		return;
	/* "/1.0" or "/1.1": the two differ only in bit 0 of the last byte */
	if ((s.w[1] & ~SL_HTTP_WORD(0, 0, 0, 1)) != SL_HTTP_WORD('/', '1', '.', '0'))
		return;
	if (s.b[8] != ' ')
		return;
	/* unsigned: a byte below '1' (or '0') wraps far above the bound */
	cls = (__u32)s.b[9] - '1';
	d2 = (__u32)s.b[10] - '0';
	d3 = (__u32)s.b[11] - '0';
	if (cls > 4 || d2 > 9 || d3 > 9)
		return;
	st->http_responses[cls]++;
	sl_http_code_inc(subset_id, (cls + 1) * 100 + d2 * 10 + d3);
}

#endif /* SLUICE_BPF_HTTP_H */
