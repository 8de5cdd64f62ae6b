/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the HTTP/2 path (h2.h): sessions, streams and the pool, shared by
 * the sessions and their I/O (h2_pool.c) and the streams (h2_stream.c).
 *
 * A stream joins two sessions: the client's (down, an nghttp2 server
 * session) and an upstream one (up, an nghttp2 client session to one
 * endpoint, shared by many client connections). Its bodies wait in two
 * buffers; a byte is consumed (nghttp2_session_consume: the window it took
 * opens again) only once the other session has taken it, so each buffer is
 * bounded by the window we advertise and a slow reader on one side slows
 * the writer on the other, both ways.
 */
#ifndef SLUICE_L7_H2_INT_H
#define SLUICE_L7_H2_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "l7/h2.h"

#define H2_STREAM_WINDOW (256 << 10) /* per stream and direction, buffered at most */
#define H2_CONN_WINDOW	 (1 << 20)   /* per connection and direction */
#define H2_MAX_STREAMS	 128	     /* concurrent streams a client may open */
#define H2_UP_STREAMS	 100	     /* streams on one upstream session before another opens */
#define H2_UPS_PER_EP	 4	     /* upstream sessions per endpoint at most */
#define H2_UP_IDLE_MS	 60000	     /* an upstream session without streams closes */
#define H2_TICK_MS	 250
#define H2_MAX_NV	 128	    /* header fields of one block */
#define H2_WBUF		 (64 << 10) /* frames gathered for one send(2) */
#define H2_HDR_BYTES	 (64 << 10) /* bytes of one header block */

enum h2_kind { H2_DOWN, H2_UP };

struct h2_stream;
struct h2_pool;

/* What both kinds share: a socket, its nghttp2 session, output in flight. */
struct h2_sess {
	enum h2_kind kind;
	int fd;
	nghttp2_session *s;
	struct h2_pool *p;
	const uint8_t *out; /* from nghttp2_session_mem_send(), not yet copied */
	size_t out_len;
	uint8_t *pend; /* copied, not yet written (the socket was full) */
	size_t pend_off, pend_len;
	bool dirty; /* in p->dirty: has something to send */
	struct h2_sess *dprev, *dnext;
	bool broken; /* the socket failed, or nghttp2 gave up: close */
	bool gone;   /* the peer closed */
	struct h2_stream *streams;
	size_t n_streams;
	uint64_t last_active; /* ms: a byte either way */
};

struct h2_down {
	struct h2_sess x;
	struct conn *c;
	uint32_t nonce; /* varies each stream's hash (h2_stream.c) */
	struct h2_down *prev, *next;
};

struct h2_up {
	struct h2_sess x;
	/* what epoll's ref names: state C_H2, h2 NULL; dead once closed */
	struct conn fake;
	uint8_t family;
	uint32_t addr[4];
	uint16_t port; /* network order */
	bool connected;
	bool goaway; /* the endpoint said GOAWAY (or we did): no new streams */
	uint64_t born;
	struct h2_up *prev, *next; /* p->ups, or p->dying / p->dead */
};

/* One header block, names and values in one arena (offsets: it grows). */
struct h2_hdrs {
	struct {
		uint32_t no, nl, vo, vl;
	} e[H2_MAX_NV];
	size_t n;
	char *a;
	size_t used, cap;
};

struct h2_buf {
	uint8_t *b;
	size_t off, len, cap;
};

struct h2_stream {
	struct h2_down *d; /* NULL once the client's stream closed */
	int32_t did;
	struct h2_up *u; /* NULL once the upstream stream closed (or never opened) */
	int32_t uid;
	struct h2_stream *dprev, *dnext, *uprev, *unext;
	uint32_t subset_id;
	uint64_t begun_us; /* the request head began: its response time counts from here */
	struct h2_hdrs hd; /* from the client: the request head, then its trailers */
	struct h2_hdrs hu; /* from upstream: the response head, then its trailers */
	struct h2_buf req, resp;
	bool req_eof, req_tr;	/* END_STREAM from the client; trailers to pass on */
	bool resp_eof, resp_tr; /* the same from upstream */
	bool resp_final;	/* a final (not 1xx) response head came */
	bool resp_started;	/* a response head went to the client */
	bool up_prd, down_prd;	/* a body follows the head (a data provider is set) */
};

struct h2_pool {
	struct sl_l7 *l;
	struct conn tfake; /* the timer's epoll ref */
	int tfd;
	struct h2_down *downs;
	struct h2_up *ups, *dying, *dead;
	struct h2_sess *dirty;
	bool settling;
	nghttp2_session_callbacks *cb_down, *cb_up;
	nghttp2_option *opt;
	uint8_t rbuf[64 << 10];
	uint8_t wbuf[H2_WBUF];
};

/* h2_pool.c */
void h2_dirty(struct h2_sess *x);
/* An upstream session to the endpoint chosen, with room for a stream; NULL: none. */
struct h2_up *h2_up_get(struct h2_pool *p, uint8_t family, const uint32_t addr[4], uint16_t port);

/* h2_stream.c */
int h2_callbacks(struct h2_pool *p);
/* Its session is going (closed, failed): the streams it carried end. */
void h2_down_streams_gone(struct h2_down *d);
void h2_up_streams_gone(struct h2_up *u, uint32_t code);

#endif /* SLUICE_L7_H2_INT_H */
