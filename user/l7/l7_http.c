// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x framing on nodejs/http-parser (l7_http.h). The library finds
 * where heads, bodies and chunks end and refuses the ambiguous shapes
 * request smuggling is made of (Content-Length with Transfer-Encoding, two
 * Content-Lengths, bad chunk sizes); this file adds what it lets through
 * and we do not: obsolete line folding, versions other than 1.0 and 1.1.
 *
 * The parser is paused at the end of each message, so the caller learns
 * exactly which bytes are this message's and which the next one's.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "l7/l7_http.h"

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct sl_h1 *s = p->data;
	struct sl_http_head *h = s->head;

	if (!h)
		return 0;
	if (h->target && h->target + h->target_len != at)
		return -1; /* in pieces: cannot happen on one buffer */
	if (!h->target)
		h->target = at;
	h->target_len += n;
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
	struct sl_h1 *s = p->data;
	struct sl_http_head *h = s->head;
	struct sl_http_hdr *hd;

	if (!h || s->headers_done)
		return 0; /* trailers of a chunked body: not looked at */
	if (s->in_value || !h->n_hdr) {
		if (h->n_hdr == SL_HTTP_MAX_HEADERS) {
			s->too_many = true;
			return -1;
		}
		hd = &h->hdr[h->n_hdr++];
		memset(hd, 0, sizeof(*hd));
		hd->name = at;
		s->in_value = false;
	}
	hd = &h->hdr[h->n_hdr - 1];
	if (hd->name + hd->name_len != at)
		return -1;
	hd->name_len += n;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
	struct sl_h1 *s = p->data;
	struct sl_http_head *h = s->head;
	struct sl_http_hdr *hd;

	if (!h || s->headers_done || !h->n_hdr)
		return 0;
	hd = &h->hdr[h->n_hdr - 1];
	if (!s->in_value) {
		hd->value = at;
		hd->value_len = 0;
		s->in_value = true;
	}
	/* a folded value comes in pieces: refused (obs-fold) */
	if (hd->value + hd->value_len != at)
		return -1;
	hd->value_len += n;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct sl_h1 *s = p->data;

	s->headers_done = true;
	if (p->type == HTTP_REQUEST) {
		if (s->head)
			http_parser_pause(p, 1);
		return 0;
	}
	s->code = p->status_code;
	if (s->connect && s->code >= 200 && s->code < 300)
		return 2; /* a tunnel from here on */
	/* RFC 9112 6.3: no body, whatever Content-Length says (http-parser would read one) */
	if (s->code == 204 || s->code == 304 || (s->code >= 100 && s->code < 200 && s->code != 101))
		return 1;
	return s->no_body ? 1 : 0;
}

static int on_message_complete(http_parser *p)
{
	struct sl_h1 *s = p->data;

	s->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar: what a method or a field name is made of. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/*
 * What strict mode would check, which Debian's build (HTTP_PARSER_STRICT=0)
 * does not: "METHOD SP target SP HTTP/1.x" with one SP each, and field
 * names made of tchar up to the ':' (so "Transfer-Encoding : chunked", a
 * line that starts with SP or HTAB -- obsolete folding -- and a line
 * without ':' are refused). Runs on the bytes so far: -EINVAL as soon as
 * they cannot start a request line, -EBADMSG when a good request line is
 * followed by a bad header line, 0 while the request line is incomplete,
 * 1 once it is whole (and the header lines so far are good).
 */
static int shape(const char *b, size_t len)
{
	static const char ver[] = "HTTP/1.";
	size_t i = 0, k;

	while (i < len && is_tchar(b[i]))
		i++;
	if (i == len)
		return 0;
	if (!i || b[i++] != ' ')
		return -EINVAL;
	for (k = i; i < len && (unsigned char)b[i] > 0x20 && b[i] != 0x7f; i++)
		;
	if (i == len)
		return 0;
	if (i == k || b[i++] != ' ')
		return -EINVAL;
	for (k = 0; k < sizeof(ver) - 1; k++, i++) {
		if (i == len)
			return 0;
		if (b[i] != ver[k])
			return -EINVAL;
	}
	if (i == len)
		return 0;
	if (b[i] != '0' && b[i] != '1')
		return -EINVAL;
	if (++i < len && b[i] == '\r')
		i++;
	if (i == len)
		return 0;
	if (b[i++] != '\n')
		return -EINVAL;
	for (;;) {
		/* the empty line; a CR alone does not end the head (non-strict would) */
		if (i + 1 < len && b[i] == '\r' && b[i + 1] != '\n')
			return -EBADMSG;
		if (i == len || b[i] == '\r' || b[i] == '\n')
			return 1;
		for (k = i; i < len && is_tchar(b[i]); i++)
			;
		if (i == len)
			return 1;
		if (i == k || b[i] != ':')
			return -EBADMSG;
		/*
		 * To the end of the line: a CR in it must end it, with an LF
		 * after. Non-strict http-parser takes a CR alone as the end of
		 * the line and what follows as the next field's name.
		 */
		for (; i < len && b[i] != '\n'; i++)
			if (b[i] == '\r' && i + 1 < len && b[i + 1] != '\n')
				return -EBADMSG;
		if (i == len)
			return 1;
		i++;
	}
}

int sl_h1_request_head(struct sl_h1 *s, const char *buf, size_t len, struct sl_http_head *h)
{
	struct sl_h1 local;
	size_t n, i;
	int line;

	if (!s)
		s = &local;
	memset(s, 0, sizeof(*s));
	memset(h, 0, offsetof(struct sl_http_head, hdr));
	h->n_hdr = 0;
	h->head_len = 0;
	http_parser_init(&s->p, HTTP_REQUEST);
	s->p.data = s;
	s->head = h;
	line = shape(buf, len);
	if (line < 0)
		return line;
	n = http_parser_execute(&s->p, &settings, buf, len);
	if (HTTP_PARSER_ERRNO(&s->p) != HPE_PAUSED) {
		if (HTTP_PARSER_ERRNO(&s->p) == HPE_OK && n == len)
			return 0;
		return line == 1 ? -EBADMSG : -EINVAL;
	}
	/* paused on the head's last '\n', not yet taken: take it now */
	h->method = buf;
	h->method_len = strlen(http_method_str(s->p.method));
	if (memcmp(buf, http_method_str(s->p.method), h->method_len) || buf[h->method_len] != ' ')
		return -EINVAL;
	if (n >= len || buf[n] != '\n' || s->p.http_major != 1 || s->p.http_minor > 1)
		return -EBADMSG;
	h->head_len = n + 1;
	for (i = 0; i < h->n_hdr; i++)
		while (h->hdr[i].value_len && is_ows(h->hdr[i].value[h->hdr[i].value_len - 1]))
			h->hdr[i].value_len--;
	for (i = 0; i < h->n_hdr; i++)
		if (!h->hdr[i].value)
			h->hdr[i].value = h->hdr[i].name + h->hdr[i].name_len;
	http_parser_pause(&s->p, 0);
	s->head = NULL;
	http_parser_execute(&s->p, &settings, buf + n, 1);
	if (HTTP_PARSER_ERRNO(&s->p) != HPE_OK && HTTP_PARSER_ERRNO(&s->p) != HPE_PAUSED)
		return -EBADMSG; /* Content-Length with Transfer-Encoding, and the like */
	return 1;
}

int sl_http_parse_head(const char *buf, size_t len, struct sl_http_head *h)
{
	int res = sl_h1_request_head(NULL, buf, len, h);

	return res < 0 ? -EINVAL : res;
}

bool sl_h1_looks_http(const char *buf, size_t len)
{
	int line = shape(buf, len);

	return line == 1 || line == -EBADMSG;
}

void sl_h1_response_start(struct sl_h1 *s, bool head_req, bool connect)
{
	memset(s, 0, sizeof(*s));
	http_parser_init(&s->p, HTTP_RESPONSE);
	s->p.data = s;
	s->no_body = head_req;
	s->connect = connect;
}

ssize_t sl_h1_feed(struct sl_h1 *s, const char *buf, size_t len)
{
	size_t n;

	if (s->done || !len)
		return 0;
	n = http_parser_execute(&s->p, &settings, buf, len);
	switch (HTTP_PARSER_ERRNO(&s->p)) {
	case HPE_OK:
		return n == len ? (ssize_t)n : -EINVAL;
	case HPE_PAUSED:
		return n;
	default:
		return -EINVAL;
	}
}

int sl_h1_eof(struct sl_h1 *s)
{
	if (s->done)
		return 0;
	if (!s->headers_done)
		return -EPROTO;
	http_parser_execute(&s->p, &settings, NULL, 0);
	return s->done ? 0 : -EPROTO;
}

uint64_t sl_h1_body_left(const struct sl_h1 *s)
{
	if (s->done || !s->headers_done || (s->p.flags & F_CHUNKED) ||
	    s->p.content_length == UINT64_MAX)
		return 0;
	return s->p.content_length;
}

/* RFC 9112 6.3: a response with neither length nor chunked ends at close. */
bool sl_h1_until_eof(const struct sl_h1 *s)
{
	return s->headers_done && !s->done && s->p.type == HTTP_RESPONSE &&
	       !(s->p.flags & (F_CHUNKED | F_SKIPBODY)) && s->p.content_length == UINT64_MAX;
}

bool sl_h1_keep_alive(const struct sl_h1 *s)
{
	return s->done && !s->p.upgrade && http_should_keep_alive(&s->p);
}

bool sl_h1_upgrade(const struct sl_h1 *s)
{
	return s->done && s->p.upgrade;
}

bool sl_h1_is_head(const struct sl_h1 *s)
{
	return s->p.method == HTTP_HEAD;
}

bool sl_h1_is_connect(const struct sl_h1 *s)
{
	return s->p.method == HTTP_CONNECT;
}
