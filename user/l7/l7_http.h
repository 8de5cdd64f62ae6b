/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x framing for the L7 step (l7_http.c), on nodejs/http-parser
 * (Debian's libhttp-parser, docs/l7.md says why that one): a request's head
 * for the matcher (struct sl_http_head, l7_match.h), then where each request
 * and each response ends, so that every request on a kept connection can go
 * its own way. Pure userspace, no I/O, never allocates.
 */
#ifndef SLUICE_L7_HTTP_H
#define SLUICE_L7_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <http_parser.h>

#include "l7/l7_match.h"

/* One message being read: a request of a client or a response of a backend. */
struct sl_h1 {
	http_parser p;
	struct sl_http_head *head; /* a request's head is collected here */
	bool in_value;		   /* the last header callback was a value */
	bool headers_done;
	bool done;	   /* the message has ended */
	bool no_body;	   /* a response to HEAD */
	bool connect;	   /* a response to CONNECT: 2xx makes a tunnel */
	bool too_many;	   /* more than SL_HTTP_MAX_HEADERS */
	unsigned int code; /* a response's status, once its head is in */
};

/*
 * A request head from the start of buf, parsed afresh: 1 complete (then
 * h->head_len bytes; s, when given, is left where the body starts), 0 when
 * more bytes are needed, -EINVAL when it does not start with an HTTP/1.0
 * or 1.1 request line, -EBADMSG when it does but the head is bad or could
 * be read two ways: Content-Length with Transfer-Encoding, two
 * Content-Lengths, a Transfer-Encoding that does not end in chunked,
 * obsolete line folding, a bad header name, control characters, more than
 * SL_HTTP_MAX_HEADERS headers. (sl_http_parse_head() in l7_match.h is this
 * with -EINVAL for both.)
 */
int sl_h1_request_head(struct sl_h1 *s, const char *buf, size_t len, struct sl_http_head *h);
/* Do the bytes so far hold a whole HTTP/1.x request line? */
bool sl_h1_looks_http(const char *buf, size_t len);

/* Start reading a response to a request (head_req: it was HEAD; connect: CONNECT). */
void sl_h1_response_start(struct sl_h1 *s, bool head_req, bool connect);

/*
 * Bytes of buf that belong to the message being read (a request's body, a
 * response's head and body); s->done once it has ended, and then the rest of
 * buf belongs to the next one. -EINVAL for bytes that cannot be this
 * message: a bad chunk size, a response head out of order.
 */
ssize_t sl_h1_feed(struct sl_h1 *s, const char *buf, size_t len);

/* The sender closed: 0 when that ends the message (close-delimited), else -EPROTO. */
int sl_h1_eof(struct sl_h1 *s);

/*
 * The head is in and the body has not ended: bytes of a body of known
 * length still to come (0: chunked, or none), and whether a response's
 * body runs until the backend closes.
 */
uint64_t sl_h1_body_left(const struct sl_h1 *s);
bool sl_h1_until_eof(const struct sl_h1 *s);

/* After the message: may the connection carry another one? */
bool sl_h1_keep_alive(const struct sl_h1 *s);
/* After the message: the connection is now a tunnel (Upgrade, CONNECT). */
bool sl_h1_upgrade(const struct sl_h1 *s);
/* A request: is it HEAD, CONNECT, does it carry a body still to come? */
bool sl_h1_is_head(const struct sl_h1 *s);
bool sl_h1_is_connect(const struct sl_h1 *s);

#endif /* SLUICE_L7_HTTP_H */
