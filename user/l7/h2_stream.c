// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/2 streams (h2_int.h): what nghttp2 tells us about each side, the
 * routing of a stream by its own request head (l7_pick.h, the HTTP/1 path's
 * choice), the bodies in between with their flow control, trailers, resets
 * both ways, and the counting of each response. Calls nghttp2, l7_pick.h,
 * l7_conn.h and h2_pool.c's h2_up_get()/h2_dirty().
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "l7/h2_int.h"
#include "l7/l7_match.h"
#include "l7/l7_pick.h"
#include "lib/log.h"

/* ---- counting ---- */

/* ---- header blocks and buffers ---- */

static int hdrs_add(struct h2_hdrs *h, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
	size_t need = h->used + nl + vl;

	if (h->n == H2_MAX_NV || need > H2_HDR_BYTES)
		return -E2BIG;
	if (need > h->cap) {
		size_t cap = h->cap ? h->cap : 1024;
		char *a;

		while (cap < need)
			cap *= 2;
		a = realloc(h->a, cap);
		if (!a)
			return -ENOMEM;
		h->a = a;
		h->cap = cap;
	}
	h->e[h->n].no = h->used;
	h->e[h->n].nl = nl;
	memcpy(h->a + h->used, n, nl);
	h->used += nl;
	h->e[h->n].vo = h->used;
	h->e[h->n].vl = vl;
	memcpy(h->a + h->used, v, vl);
	h->used += vl;
	h->n++;
	return 0;
}

static size_t hdrs_nv(const struct h2_hdrs *h, nghttp2_nv *nv)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		nv[i] = (nghttp2_nv){.name = (uint8_t *)h->a + h->e[i].no,
				     .value = (uint8_t *)h->a + h->e[i].vo,
				     .namelen = h->e[i].nl,
				     .valuelen = h->e[i].vl};
	return h->n;
}

static bool hdr_is(const struct h2_hdrs *h, size_t i, const char *name)
{
	size_t n = strlen(name);

	return h->e[i].nl == n && !memcmp(h->a + h->e[i].no, name, n);
}

static int buf_put(struct h2_buf *b, const uint8_t *d, size_t n)
{
	if (b->off && b->off + b->len + n > b->cap) {
		memmove(b->b, b->b + b->off, b->len);
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		uint8_t *nb;

		while (cap < b->len + n)
			cap *= 2;
		nb = realloc(b->b, cap);
		if (!nb)
			return -ENOMEM;
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->off + b->len, d, n);
	b->len += n;
	return 0;
}

static size_t buf_take(struct h2_buf *b, uint8_t *to, size_t max)
{
	size_t n = b->len < max ? b->len : max;

	memcpy(to, b->b + b->off, n);
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
	return n;
}

/* ---- a stream's life ---- */

static void stream_free(struct h2_stream *st)
{
	free(st->hd.a);
	free(st->hu.a);
	free(st->req.b);
	free(st->resp.b);
	free(st);
}

static void link_down(struct h2_stream *st, struct h2_down *d)
{
	st->d = d;
	st->dnext = d->x.streams;
	if (st->dnext)
		st->dnext->dprev = st;
	d->x.streams = st;
	d->x.n_streams++;
}

static void unlink_down(struct h2_stream *st)
{
	struct h2_down *d = st->d;

	if (st->dprev)
		st->dprev->dnext = st->dnext;
	else
		d->x.streams = st->dnext;
	if (st->dnext)
		st->dnext->dprev = st->dprev;
	st->dprev = st->dnext = NULL;
	d->x.n_streams--;
	st->d = NULL;
}

static void link_up(struct h2_stream *st, struct h2_up *u, int32_t uid)
{
	st->u = u;
	st->uid = uid;
	st->unext = u->x.streams;
	if (st->unext)
		st->unext->uprev = st;
	u->x.streams = st;
	u->x.n_streams++;
}

static void unlink_up(struct h2_stream *st)
{
	struct h2_up *u = st->u;

	if (st->uprev)
		st->uprev->unext = st->unext;
	else
		u->x.streams = st->unext;
	if (st->unext)
		st->unext->uprev = st->uprev;
	st->uprev = st->unext = NULL;
	u->x.n_streams--;
	st->u = NULL;
}

/* A response made here (no upstream to answer): status only, end of stream. */
static void respond_local(struct h2_stream *st, const char *status)
{
	nghttp2_nv nv = {.name = (uint8_t *)":status",
			 .value = (uint8_t *)status,
			 .namelen = 7,
			 .valuelen = strlen(status)};

	st->resp_started = true;
	st->resp_eof = true;
	nghttp2_submit_response(st->d->x.s, st->did, &nv, 1, NULL);
	h2_dirty(&st->d->x);
}

/*
 * The client's side of st has ended (closed, reset, or its session went:
 * in_session false). What it sent and we still hold is consumed on the
 * connection (its stream needs no window any more); an upstream stream
 * still open is cancelled unless it finishes on its own.
 */
static void down_gone(struct h2_stream *st, uint32_t code, bool in_session)
{
	struct h2_down *d = st->d;

	if (in_session && st->req.len)
		nghttp2_session_consume_connection(d->x.s, st->req.len);
	unlink_down(st);
	if (!st->u) {
		stream_free(st);
		return;
	}
	if (code || !st->req_eof || !st->resp_eof) {
		nghttp2_submit_rst_stream(st->u->x.s, NGHTTP2_FLAG_NONE, st->uid,
					  code ? code : NGHTTP2_CANCEL);
		h2_dirty(&st->u->x);
	}
}

/*
 * The upstream side of st has ended. code 0: it finished (what it sent still
 * goes to the client from our buffer); else the client's stream is reset
 * with the same code, or answered 502 when no response head went yet.
 */
static void up_gone(struct h2_stream *st, uint32_t code, bool in_session)
{
	struct h2_up *u = st->u;

	if (in_session && st->resp.len)
		nghttp2_session_consume_connection(u->x.s, st->resp.len);
	unlink_up(st);
	if (!st->d) {
		stream_free(st);
		return;
	}
	if (code || !st->resp_eof) {
		if (!st->resp_started) {
			/* the subset was chosen and failed: its row shows the 502 */
			l7_count_code(st->d->x.p->l, st->subset_id, 502);
			respond_local(st, "502");
		} else {
			nghttp2_submit_rst_stream(st->d->x.s, NGHTTP2_FLAG_NONE, st->did,
						  code ? code : NGHTTP2_INTERNAL_ERROR);
			h2_dirty(&st->d->x);
		}
		return;
	}
	if (st->down_prd)
		nghttp2_session_resume_data(st->d->x.s, st->did);
	h2_dirty(&st->d->x);
}

void h2_down_streams_gone(struct h2_down *d)
{
	while (d->x.streams)
		down_gone(d->x.streams, NGHTTP2_CANCEL, false);
}

void h2_up_streams_gone(struct h2_up *u, uint32_t code)
{
	while (u->x.streams)
		up_gone(u->x.streams, code, false);
}

/* ---- bodies: read by the session that sends them ---- */

/* The request body, to upstream; consumed on the client's session as it goes. */
static ssize_t req_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
			nghttp2_data_source *src, void *ud)
{
	struct h2_stream *st = src->ptr;
	size_t n = buf_take(&st->req, buf, len);

	if (!n && !st->req_eof)
		return NGHTTP2_ERR_DEFERRED;
	if (n && st->d) {
		nghttp2_session_consume(st->d->x.s, st->did, n);
		h2_dirty(&st->d->x);
	}
	if (!st->req.len && st->req_eof) {
		*fl |= NGHTTP2_DATA_FLAG_EOF;
		if (st->req_tr) {
			nghttp2_nv nv[H2_MAX_NV];
			size_t k = hdrs_nv(&st->hd, nv);

			*fl |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(s, id, nv, k);
		}
	}
	return n;
}

/* The response body, to the client; consumed on the upstream session as it goes. */
static ssize_t resp_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
			 nghttp2_data_source *src, void *ud)
{
	struct h2_stream *st = src->ptr;
	size_t n = buf_take(&st->resp, buf, len);

	if (!n && !st->resp_eof)
		return NGHTTP2_ERR_DEFERRED;
	if (n && st->u) {
		nghttp2_session_consume(st->u->x.s, st->uid, n);
		h2_dirty(&st->u->x);
	}
	if (!st->resp.len && st->resp_eof) {
		*fl |= NGHTTP2_DATA_FLAG_EOF;
		if (st->resp_tr) {
			nghttp2_nv nv[H2_MAX_NV];
			size_t k = hdrs_nv(&st->hu, nv);

			*fl |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(s, id, nv, k);
		}
	}
	return n;
}

/* ---- routing ---- */

/*
 * The request head as the HTTP/1 path's matcher reads one: :method,
 * :path as the target, :authority as Host (unless the request has a host
 * field), every regular field. False when it does not fit (more fields than
 * SL_HTTP_MAX_HEADERS): then, as for an HTTP/1 head too big to parse,
 * routes that match on HTTP are skipped.
 */
static bool head_of(const struct h2_hdrs *h, struct sl_http_head *out)
{
	const char *auth = NULL;
	size_t auth_len = 0, i;
	bool host = false;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < h->n; i++) {
		const char *v = h->a + h->e[i].vo;

		if (hdr_is(h, i, ":method")) {
			out->method = v;
			out->method_len = h->e[i].vl;
		} else if (hdr_is(h, i, ":path")) {
			out->target = v;
			out->target_len = h->e[i].vl;
		} else if (hdr_is(h, i, ":authority")) {
			auth = v;
			auth_len = h->e[i].vl;
		} else if (h->a[h->e[i].no] != ':') {
			if (out->n_hdr == SL_HTTP_MAX_HEADERS)
				return false;
			host |= hdr_is(h, i, "host");
			out->hdr[out->n_hdr++] = (struct sl_http_hdr){
			    .name = h->a + h->e[i].no,
			    .name_len = h->e[i].nl,
			    .value = v,
			    .value_len = h->e[i].vl,
			};
		}
	}
	if (auth && !host) {
		if (out->n_hdr == SL_HTTP_MAX_HEADERS)
			return false;
		out->hdr[out->n_hdr++] = (struct sl_http_hdr){
		    .name = "host", .name_len = 4, .value = auth, .value_len = auth_len};
	}
	return out->method && out->target;
}

/*
 * The connection's tuple with its port varied per stream: with affinity
 * "connection" each stream is then hashed on its own, as each new
 * connection is on the kernel path (affinity client-ip hashes the client's
 * address only, so all its streams stay together, as its connections do).
 */
static struct sl_l7_tuple stream_tuple(const struct h2_down *d, int32_t id)
{
	struct sl_l7_tuple t = d->c->t;
	uint32_t mix = d->nonce + (uint32_t)id * 0x9e3779b1u;

	t.sport ^= (uint16_t)(mix ^ (mix >> 16));
	return t;
}

static void route(struct h2_pool *p, struct h2_stream *st)
{
	struct sl_l7 *l = p->l;
	struct h2_down *d = st->d;
	struct sl_l7_tuple t = stream_tuple(d, st->did);
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = req_read};
	struct sl_http_head head;
	struct sl_l7_choice ch;
	nghttp2_nv nv[H2_MAX_NV];
	struct sl_stats *row;
	struct h2_up *u;
	int32_t uid;
	size_t n;
	int res;

	res = sl_l7_pick(&l->m, l->cache, &t, head_of(&st->hd, &head) ? &head : NULL, &ch);
	if (res == SL_L7_PICK_NO_ENDPOINT && (row = l7_row(l, ch.subset_id)))
		ADD(row->no_endpoint, 1);
	if (res != SL_L7_PICK_OK) {
		l7_count(l, SL_L7_C_NO_ROUTE, 1);
		respond_local(st, "503"); /* Envoy's "no healthy upstream" */
		return;
	}
	l7_count(l, ch.header_route ? SL_L7_C_HEADER_ROUTE : SL_L7_C_DEFAULT_ROUTE, 1);
	st->subset_id = ch.subset_id;
	u = h2_up_get(p, ch.family, ch.addr, ch.port);
	if (!u) {
		l7_count(l, SL_L7_C_CONNECT_FAILED, 1);
		l7_count_code(l, st->subset_id, 503);
		respond_local(st, "503");
		return;
	}
	n = hdrs_nv(&st->hd, nv);
	st->up_prd = !st->req_eof;
	uid = nghttp2_submit_request(u->x.s, NULL, nv, n, st->up_prd ? &prd : NULL, st);
	if (uid < 0) {
		respond_local(st, "503");
		return;
	}
	link_up(st, u, uid);
	/* the head went into nghttp2's own copy: the block takes trailers now */
	st->hd.n = st->hd.used = 0;
	h2_dirty(&u->x);
}

/* ---- the client's session (nghttp2 server) ---- */

static int down_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2_down *d = ud;
	struct h2_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->did = f->hd.stream_id;
	st->subset_id = SL_SUBSET_NONE;
	st->begun_us = l7_now_us();
	link_down(st, d);
	nghttp2_session_set_stream_user_data(s, st->did, st);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct h2_sess *x = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!st || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	/* too many or too big: this stream is reset, the others go on */
	if (hdrs_add(x->kind == H2_DOWN ? &st->hd : &st->hu, name, namelen, value, valuelen))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int down_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2_down *d = ud;
	struct h2_stream *st;
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;

	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		st->req_eof = end;
		route(d->x.p, st);
		return 0;
	}
	if (f->hd.type == NGHTTP2_HEADERS)
		st->req_tr = true; /* trailers: nghttp2 lets them come with END_STREAM only */
	if (end || st->req_tr) {
		st->req_eof = true;
		if (st->u && st->up_prd) {
			nghttp2_session_resume_data(st->u->x.s, st->uid);
			h2_dirty(&st->u->x);
		}
	}
	return 0;
}

static int down_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		     void *ud)
{
	struct h2_down *d = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	struct sl_stats *row;

	if (!st || !st->u || !st->up_prd) {
		/* nobody to take it: its window opens at once */
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	if (buf_put(&st->req, data, len)) {
		nghttp2_session_consume(s, id, len);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if ((row = l7_row(d->x.p->l, st->subset_id)))
		ADD(row->bytes_in, len);
	nghttp2_session_resume_data(st->u->x.s, st->uid);
	h2_dirty(&st->u->x);
	return 0;
}

static int down_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);

	if (st && st->d)
		down_gone(st, code, true);
	return 0;
}

/* ---- an upstream session (nghttp2 client) ---- */

static int status_of(const struct h2_hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (hdr_is(h, i, ":status") && h->e[i].vl == 3)
			return atoi(h->a + h->e[i].vo);
	return 0;
}

/* The final response head: on to the client, counted. */
static void respond(struct h2_up *u, struct h2_stream *st, bool end)
{
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = resp_read};
	nghttp2_nv nv[H2_MAX_NV];
	size_t n;

	/* request head to response head: the kernel's measure, per stream */
	l7_observe_request(u->x.p->l, st->subset_id, status_of(&st->hu), l7_now_us() - st->begun_us);
	st->resp_eof = end;
	if (!st->d)
		return;
	n = hdrs_nv(&st->hu, nv);
	st->down_prd = !end;
	st->resp_started = true;
	if (nghttp2_submit_response(st->d->x.s, st->did, nv, n, end ? NULL : &prd)) {
		nghttp2_submit_rst_stream(st->d->x.s, NGHTTP2_FLAG_NONE, st->did,
					  NGHTTP2_INTERNAL_ERROR);
		nghttp2_submit_rst_stream(u->x.s, NGHTTP2_FLAG_NONE, st->uid, NGHTTP2_CANCEL);
	}
	h2_dirty(&st->d->x);
}

static int up_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2_up *u = ud;
	struct h2_stream *st;
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;

	if (f->hd.type == NGHTTP2_GOAWAY) {
		/* streams above its last id are closed by nghttp2 (REFUSED_STREAM) */
		u->goaway = true;
		return 0;
	}
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && !st->resp_final) {
		int code = status_of(&st->hu);

		if (code >= 100 && code < 200) {
			/* informational: not passed on (no 100-continue through here) */
			st->hu.n = st->hu.used = 0;
			return 0;
		}
		st->resp_final = true;
		respond(u, st, end);
		st->hu.n = st->hu.used = 0;
		return 0;
	}
	if (f->hd.type == NGHTTP2_HEADERS)
		st->resp_tr = true;
	if (end || st->resp_tr) {
		st->resp_eof = true;
		if (st->d && st->down_prd) {
			nghttp2_session_resume_data(st->d->x.s, st->did);
			h2_dirty(&st->d->x);
		}
	}
	return 0;
}

static int up_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	struct h2_up *u = ud;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	struct sl_stats *row;

	if (!st || !st->d || !st->down_prd) {
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	if (buf_put(&st->resp, data, len)) {
		nghttp2_session_consume(s, id, len);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if ((row = l7_row(u->x.p->l, st->subset_id)))
		ADD(row->bytes_out, len);
	nghttp2_session_resume_data(st->d->x.s, st->did);
	h2_dirty(&st->d->x);
	return 0;
}

static int up_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);

	if (st && st->u)
		up_gone(st, code, true);
	return 0;
}

int h2_callbacks(struct h2_pool *p)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&p->cb_down) || nghttp2_session_callbacks_new(&p->cb_up))
		return -ENOMEM;
	cb = p->cb_down;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, down_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, down_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, down_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, down_close);
	cb = p->cb_up;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, up_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, up_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, up_close);
	return 0;
}
