// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/l7/l7_http.c: HTTP/1.x framing for per-request routing. Where a
 * request's head and body end (Content-Length, chunked, none), where a
 * response ends (length, chunked, HEAD, 204/304, 1xx before the final one,
 * close-delimited, 101 and CONNECT tunnels), keep-alive, and the request
 * smuggling shapes that must be refused (-EBADMSG: the step answers 400).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "l7/l7_http.h"

static int head(struct sl_h1 *s, const char *req, struct sl_http_head *h)
{
	return sl_h1_request_head(s, req, strlen(req), h);
}

static void test_request_without_body(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n";
	struct sl_http_head h;
	struct sl_h1 s;

	assert_int_equal(head(&s, req, &h), 1);
	assert_int_equal(h.head_len, strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_true(s.done);
	assert_true(sl_h1_keep_alive(&s));
	assert_int_equal(sl_h1_body_left(&s), 0);
}

static void test_request_content_length(void **state)
{
	static const char req[] = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET";
	struct sl_http_head h;
	struct sl_h1 s;

	assert_int_equal(head(&s, req, &h), 1);
	assert_false(s.done);
	assert_int_equal(sl_h1_body_left(&s), 10);
}

static void test_request_chunked_ends_exactly(void **state)
{
	static const char req[] = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET / ";
	struct sl_http_head h;
	struct sl_h1 s;
	const char *body;
	ssize_t n;

	assert_int_equal(head(&s, req, &h), 1);
	assert_int_equal(sl_h1_body_left(&s), 0);
	body = req + h.head_len;
	n = sl_h1_feed(&s, body, strlen(body));
	assert_true(s.done);
	assert_int_equal(n, strlen(body) - strlen("GET / "));
	/* the same, one byte at a time */
	assert_int_equal(head(&s, req, &h), 1);
	for (n = 0; !s.done; n++)
		assert_int_equal(sl_h1_feed(&s, body + n, 1), 1);
	assert_int_equal(n, strlen(body) - strlen("GET / "));
}

static void test_smuggling_shapes_refused(void **state)
{
	static const char *const bad[] = {
	    "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 6\r\nContent-Length: 6\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nX-A: a\r\n\tfolded\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
	    "GET / HTTP/1.1\r\nx:\n\rs\r\n\r\n",
	    /* a CR alone inside a value: non-strict http-parser starts a field there */
	    "GET / HTTP/1.1\r\nX-A: a\rHost evil: b\r\n\r\n",
	    "GET / HTTP/1.1\r\nX-A: a\r\xc4Host: b\r\n\r\n",
	};
	struct sl_http_head h;
	struct sl_h1 s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (head(&s, bad[i], &h) != -EBADMSG)
			fail_msg("not refused as a bad HTTP head: %s", bad[i]);
	/* not HTTP at all is another answer: relayed by the default route */
	assert_int_equal(head(&s, "\x16\x03\x01\x02\x00", &h), -EINVAL);
	assert_int_equal(head(&s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &h), -EINVAL);
}

static void test_bad_chunk_size(void **state)
{
	static const char req[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	struct sl_http_head h;
	struct sl_h1 s;

	assert_int_equal(head(&s, req, &h), 1);
	assert_true(sl_h1_feed(&s, req + h.head_len, strlen(req + h.head_len)) < 0);
	assert_int_equal(head(&s, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &h), 1);
	/* a size that overflows 64 bits */
	assert_true(sl_h1_feed(&s, "fffffffffffffffff\r\n", 19) < 0);
}

/* Feed resp whole to a fresh response parser: bytes taken. */
static ssize_t response(struct sl_h1 *s, const char *resp, bool head_req, bool connect)
{
	sl_h1_response_start(s, head_req, connect);
	return sl_h1_feed(s, resp, strlen(resp));
}

static void test_response_framing(void **state)
{
	static const char len[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1";
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "3\r\nabc\r\n0\r\n\r\nX";
	static const char nocontent[] = "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\nX";
	static const char head_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nX";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
	struct sl_h1 s;

	assert_int_equal(response(&s, len, false, false), strlen(len) - strlen("HTTP/1.1"));
	assert_true(s.done && s.code == 200 && sl_h1_keep_alive(&s));
	assert_int_equal(response(&s, chunked, false, false), strlen(chunked) - 1);
	assert_true(s.done);
	assert_int_equal(response(&s, nocontent, false, false), strlen(nocontent) - 1);
	assert_true(s.done && s.code == 204);
	/* a response to HEAD has no body, whatever its Content-Length */
	assert_int_equal(response(&s, head_resp, true, false), strlen(head_resp) - 1);
	assert_true(s.done);
	/* 100 Continue is a message of its own; the final response follows */
	assert_int_equal(response(&s, cont, false, false), strlen("HTTP/1.1 100 Continue\r\n\r\n"));
	assert_true(s.done && s.code == 100 && !sl_h1_upgrade(&s));
}

static void test_response_until_close(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n\r\nsome body";
	struct sl_h1 s;

	assert_int_equal(response(&s, resp, false, false), strlen(resp));
	assert_false(s.done);
	assert_true(sl_h1_until_eof(&s));
	assert_int_equal(sl_h1_eof(&s), 0);
	assert_true(s.done);
	assert_false(sl_h1_keep_alive(&s));
	/* cut short: an error, not a response */
	sl_h1_response_start(&s, false, false);
	assert_true(sl_h1_feed(&s, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 42) > 0);
	assert_int_equal(sl_h1_eof(&s), -EPROTO);
}

static void test_tunnels(void **state)
{
	static const char ws[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n\r\n\x81\x02hi";
	static const char conn_ok[] = "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03";
	static const char upg_req[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\n\r\n\x81";
	struct sl_http_head h;
	struct sl_h1 s;
	ssize_t n;

	n = response(&s, ws, false, false);
	assert_true(s.done && sl_h1_upgrade(&s) && !sl_h1_keep_alive(&s));
	/* the head, perhaps without its last LF: what follows is the tunnel's */
	assert_true(n >= (ssize_t)strlen(ws) - 5 && n <= (ssize_t)strlen(ws) - 4);
	n = response(&s, conn_ok, false, true);
	assert_true(s.done && sl_h1_upgrade(&s));
	assert_true(n <= (ssize_t)strlen(conn_ok) - 2);
	assert_int_equal(head(&s, upg_req, &h), 1);
	assert_true(s.done && sl_h1_upgrade(&s));
	assert_int_equal(h.head_len, strlen(upg_req) - 1);
}

static void test_http10_closes(void **state)
{
	struct sl_http_head h;
	struct sl_h1 s;

	assert_int_equal(head(&s, "GET / HTTP/1.0\r\n\r\n", &h), 1);
	assert_false(sl_h1_keep_alive(&s));
	assert_int_equal(head(&s, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h), 1);
	assert_false(sl_h1_keep_alive(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_without_body),
	    cmocka_unit_test(test_request_content_length),
	    cmocka_unit_test(test_request_chunked_ends_exactly),
	    cmocka_unit_test(test_smuggling_shapes_refused),
	    cmocka_unit_test(test_bad_chunk_size),
	    cmocka_unit_test(test_response_framing),
	    cmocka_unit_test(test_response_until_close),
	    cmocka_unit_test(test_tunnels),
	    cmocka_unit_test(test_http10_closes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
