/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the L7 step: its state (struct sl_l7), its connections and
 * listeners, and the helpers on them (l7_conn.c) that the thread (l7.c),
 * the listeners (l7_accept.c), the relay (l7_relay.c) and the hot restart
 * (l7_handoff.c) share. Needs nothing of the step's public API (l7.h).
 */
#ifndef SLUICE_L7_CONN_H
#define SLUICE_L7_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/epoll.h>

#include "datapath/maps.h"
#include "l7/l7_client.h"
#include "l7/l7_opts.h"
#include "l7/l7_pick.h"
#include "sluice_abi.h"

#define L7_PIPE_POOL	256 /* empty pipe pairs kept for reuse */
#define L7_MAX_PEEKS	32  /* reads of an incomplete head before it is given up */
#define L7_FDS_PER_CONN 6   /* two sockets, two pipes */
/*
 * Receive buffer of both relayed sockets (SO_RCVBUFFORCE: not capped by
 * rmem_max; the kernel doubles it, 4 MiB each). Setting it turns autotuning
 * off, which let one slow client park up to tcp_rmem[2] on the node (32 MiB
 * on 6.x kernels; 12-25 MB seen for a 1 MB/s reader) and which resets
 * TCP_WINDOW_CLAMP as it grows, so a clamp does not hold. The window left
 * (2.5-3.5 MB) still covers 10 Gbit/s at 2 ms.
 *
 * A socket gets it only once the other side has taken L7_RCVBUF_EARN bytes
 * of what it received (its direction of the relay moves): until then its
 * buffer is L7_RCVBUF_START (128 KiB once doubled). A client that never
 * reads takes less than that (its own buffer plus our L7_NOTSENT_LOWAT),
 * so its backend's bytes wait at the backend, not in 4 MiB on the node. A
 * window clamp alone would not do: the window counts from the last byte
 * received, not the last byte read, so a clamped socket still fills its
 * whole buffer. The small buffer is set after the SYN, whose window scale
 * is then chosen for tcp_rmem[2], so the full window is still possible.
 */
#define L7_RCVBUF	(2 << 20)
#define L7_RCVBUF_START (64 << 10)
#define L7_RCVBUF_EARN	(512 << 10)
/*
 * A client that stops reading must not park a whole receive buffer on the
 * node. Unsent bytes in a relayed socket's send queue stop at
 * TCP_NOTSENT_LOWAT (plus the one pipe being written): sent, unacknowledged
 * bytes are bounded by the peer's window, and a peer that does not read
 * closes it, so its send queue stays this small (tcp_wmem[2], 4 MiB, without).
 * Throughput does not suffer: only the backlog behind the wire is limited.
 */
#define L7_NOTSENT_LOWAT (128 << 10)

/*
 * C_H2: an HTTP/2 client connection, every stream its own (h2.h); C_H1:
 * HTTP/1.x routed per request (l7_h1.c); C_RELAY is also where an Upgrade
 * or CONNECT of such a connection ends up, as a spliced tunnel.
 */
enum cstate { C_HEAD = 0, C_CONNECTING, C_RELAY, C_H2, C_H1 };
enum { C2B = 0, B2C = 1 };
enum { CLIENT = 0, BACKEND = 1 };

struct half {
	int pr, pw;	/* the pipe */
	size_t in_pipe; /* bytes in it */
	bool eof;	/* read 0 from the source */
	bool shut;	/* shutdown(SHUT_WR) done on the destination */
	bool src_err;	/* reading the source failed (a reset): nothing more comes */
	bool dropped;	/* its destination is broken: no longer pumped */
	bool earned;	/* its source has the whole L7_RCVBUF */
	size_t out;	/* bytes written to the destination, until earned */
};

struct conn;
struct h1;

/* What an epoll event is about: a connection's socket, or one of ours. */
struct ref {
	struct conn *c; /* NULL: listener, hand-over socket or wake-up */
	int which;
};

struct conn {
	struct conn *prev, *next;
	enum cstate state;
	bool dead; /* closed while events of this batch may still name it */
	int fd[2]; /* CLIENT, BACKEND */
	struct ref ref[2];
	struct half h[2];
	uint32_t subset_id;
	uint64_t deadline; /* ms, CLOCK_MONOTONIC; 0: none */
	struct sl_l7_tuple t;
	uint8_t broken;	    /* bit CLIENT, bit BACKEND: that socket failed (reset) */
	bool reset_counted; /* backend_resets counted for this connection */
	uint8_t heads;	    /* times the head was peeked without being complete */
	bool client_held;   /* counted in sl_l7.clients (l7_clients_put at close) */
	struct h1 *h1;	    /* C_H1: the request being routed (l7_h1.c) */
	struct h2_down *h2; /* C_H2: its session and streams (h2.h) */
};

/* Exact HTTP codes, summed here and written to sl_l7_codes now and then. */
#define CODE_PENDING 256

/*
 * What the L7 step's threads share (l7.c). Each thread is a struct sl_l7 of
 * its own (epoll set, connections, listeners in one SO_REUSEPORT group,
 * pipes, upstream pool, compiled matches); these are the step's as a whole.
 */
struct l7_shared {
	pthread_mutex_t lock;	   /* all of the below */
	struct l7_clients clients; /* connections held per client address */
	size_t n_conns;		   /* of every thread */
	unsigned int max_conns;	   /* of every thread together */
	bool published;		   /* the leader's listeners are in sl_l7_listen */
	struct sl_l7 *leader;	   /* thread 0: hot restart, sl_l7_listen */
};

struct sl_l7 {
	struct sl_maps m;
	struct sl_l7_opts o;
	int ep, wake, done;
	int lfd[SL_L7_LISTEN_MAX];
	int hfd;
	unsigned long hfd_ino; /* of the hand-over socket file we bound */
	struct ref lref[SL_L7_LISTEN_MAX], href, wref;
	pthread_t th;
	bool th_started;
	struct sl_stats *stats; /* mmap of sl_l7_stats */
	size_t stats_len;
	struct sl_l7_counters *cnt; /* mmap of sl_l7_counters */
	size_t cnt_len;
	struct sl_l7_cache *cache;
	struct l7_clients clients; /* connections held per client address */
	struct conn *conns, *dead;
	size_t n_conns;
	bool published; /* listeners in sl_l7_listen */
	bool starved;	/* out of descriptors: listeners out of epoll (starve()) */
	bool handed_over;
	bool stopping;
	/* sl_l7_drain(): CLOCK_MONOTONIC ms to give up at; 0: stop at once */
	uint64_t drain_until;
	bool draining;
	uint64_t limit_said; /* when the limit was last logged */
	char *buf;	     /* head_max bytes of peeked request */
	/* empty pipes of closed connections, for the next ones (pipe_get()) */
	int pipes[L7_PIPE_POOL][2];
	size_t n_pipes;
	struct {
		struct sl_http_code_key k;
		uint64_t n;
	} codes[CODE_PENDING];
	size_t n_codes;
	uint64_t codes_flushed;
	/* idle upstream connections of per-request routing (l7_pool.c) */
	struct l7_up *pool;
	size_t n_pool;
	struct h2_pool *h2; /* HTTP/2 upstream sessions, made at the first h2 client */
	/* the successor's socket while a hand-over is under way (l7_handoff.c) */
	int ho_sock;
	uint32_t ho_pid;
	/* threads: NULL in a lone instance (tests), else shared by all */
	struct l7_shared *sh;
	struct sl_l7 *next_w; /* the next thread (the leader's list) */
	unsigned int idx;
	/* listeners a predecessor sent beyond our own: for the other threads */
	int xlfd[SL_L7_THREADS_MAX * SL_L7_LISTEN_MAX];
	unsigned int n_xlfd, n_xsets;
	uint32_t xmask[SL_L7_THREADS_MAX];
	void *(*thread_fn)(void *);	 /* l7.c's loop: to park and restart the others */
	unsigned int pipe_cap, pool_cap; /* this thread's share of the pools */
};

#define ADD(field, v) __atomic_fetch_add(&(field), (uint64_t)(v), __ATOMIC_RELAXED)

/*
 * Both sockets stay registered edge-triggered for reading and writing, and
 * every event of a connection pumps both directions until each waits for
 * something (EAGAIN): no interest to keep in step, no epoll_ctl per state
 * change, and no wake-ups for a condition that lasts (a peer's FIN while
 * our pipe waits for a slow writer).
 */
#define RELAY_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

uint64_t l7_now_ms(void);
/* CLOCK_MONOTONIC in microseconds: request timing (response time) */
uint64_t l7_now_us(void);

/* Counters: the step's own (sl_l7_counters) and the subsets' rows. */
void l7_count(struct sl_l7 *l, int idx, int64_t d);
/* The subset's row in sl_l7_stats; NULL for no subset. */
struct sl_stats *l7_row(struct sl_l7 *l, uint32_t subset_id);
/* l7.c: map at least the first rows of sl_l7_stats (the mapping grows). */
int l7_map_stats(struct sl_l7 *l, size_t rows);
/* Write the exact HTTP codes counted so far to sl_l7_codes. */
void l7_flush_codes(struct sl_l7 *l);
/* One response of a subset by its exact code (class and sl_l7_codes). */
void l7_count_code(struct sl_l7 *l, uint32_t subset_id, unsigned int code);
/*
 * One request routed per request has ended with status (0: none came)
 * after duration_us: every per-request counter of the subset goes here.
 */
void l7_observe_request(struct sl_l7 *l, uint32_t subset_id, unsigned int status,
			uint64_t duration_us);

/* Connections. */
struct conn *l7_conn_new(struct sl_l7 *l);
/*
 * In and out of one thread's list (l->conns, l->n_conns) alone; the
 * shared count is the caller's (moving between threads leaves it).
 */
void l7_conn_list_add(struct sl_l7 *l, struct conn *c);
void l7_conn_list_del(struct sl_l7 *l, struct conn *c);
/* Out of l->conns, and out of both connection counts that l7_conn_new raised. */
void l7_conn_unlink(struct sl_l7 *l, struct conn *c);
/* reset: abort both sides with RST; counts the close in the subset's row */
void l7_conn_close(struct sl_l7 *l, struct conn *c, bool reset);
void l7_close_fd(int *fd);
/* Make a close abort the connection (RST): SO_LINGER 0. */
void l7_rst(int fd);
int l7_add_fd(struct sl_l7 *l, struct conn *c, int which, uint32_t ev);
int l7_set_ev(struct sl_l7 *l, struct conn *c, int which, uint32_t ev);
/* The two pipes of a connection that starts relaying. */
int l7_make_pipes(struct sl_l7 *l, struct conn *c);
/* Count c against its client address's share: false if that is used up. */
bool l7_client_take(struct sl_l7 *l, struct conn *c, bool limit);

/*
 * The other threads (the leader's list) stop their loops, for a hand-over
 * that reads all of their state; or start them again, when it failed.
 */
void l7_workers_park(struct sl_l7 *l);
void l7_workers_resume(struct sl_l7 *l);

/* Listeners: in sl_l7_listen or not, in the epoll set or not, the limit. */
int l7_publish(struct sl_l7 *l, bool on);
void l7_listeners_poll(struct sl_l7 *l, bool on);
void l7_shed(struct sl_l7 *l);
bool l7_say_now(struct sl_l7 *l);
void l7_check_limit(struct sl_l7 *l);

#endif /* SLUICE_L7_CONN_H */
