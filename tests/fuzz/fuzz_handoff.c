// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The L7 step's hot-restart hand-over, successor side (l7/l7_handoff.h):
 * what a predecessor sends, checked and taken over message by message,
 * with real descriptors. Each record of the input is one message: a
 * control byte, then the message's bytes (a short tail is a short
 * message). Control byte: bits 0-2 the number of descriptors that ride
 * along, bit 3 make them sockets and pipes as a real CONN carries (else
 * /dev/null), bit 4 fill each pipe with as many bytes as the message says
 * it holds, bit 5 the control data came truncated (MSG_CTRUNC).
 * Checked: what was taken is a connection the relay can run (a known
 * state, its descriptors, pipes holding what they are said to hold), and
 * every descriptor received is either kept or closed, none leaked.
 *
 * SL_FUZZ_SEEDS=DIR build/fuzz/fuzz_handoff writes seed inputs (a whole
 * hand-over of each kind of connection) to DIR and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "l7/l7_conn.h"
#include "l7/l7_handoff.h"

#define MAX_OPEN 512

static int devnull = -1;
static int opened[MAX_OPEN], n_opened;

static void track(int fd)
{
	FUZZ_CHECK(fd >= 0 && n_opened < MAX_OPEN);
	opened[n_opened++] = fd;
}

/* The descriptors of one message, as a real one would carry them. */
static int make_fds(uint8_t ctl, const struct ho_msg *m, int *fds)
{
	int n = ctl & 7, i, p[2], sp[2];
	char junk[4096] = {0};

	for (i = 0; i < n; i++) {
		if (!(ctl & 8)) {
			fds[i] = dup(devnull);
		} else if (i < 2) {
			FUZZ_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp));
			close(sp[1]);
			fds[i] = sp[0];
		} else if (i % 2 == 0) {
			FUZZ_CHECK(!pipe2(p, O_NONBLOCK));
			/* fds[2..5]: the two pipes of a relayed connection */
			if ((ctl & 16) && i <= 5 && m->in_pipe[(i - 2) / 2] <= sizeof(junk))
				FUZZ_CHECK(write(p[1], junk, m->in_pipe[(i - 2) / 2]) >= 0);
			fds[i] = p[0];
			track(p[0]);
			if (i + 1 < n) {
				fds[++i] = p[1];
				track(p[1]);
			} else {
				close(p[1]);
			}
			continue;
		} else {
			fds[i] = dup(devnull);
		}
		track(fds[i]);
	}
	return n;
}

static void check_conns(struct sl_l7 *l)
{
	struct conn *c;
	size_t n = 0;
	int i, bytes;

	for (c = l->conns; c; c = c->next, n++) {
		FUZZ_CHECK(c->state == C_HEAD || c->state == C_CONNECTING || c->state == C_RELAY ||
			   c->state == C_H1);
		FUZZ_CHECK(c->fd[CLIENT] >= 0);
		/* per request: a backend only with a request in flight (its state says) */
		FUZZ_CHECK(c->state == C_H1 ? c->h1 != NULL
					    : (c->fd[BACKEND] >= 0) == (c->state != C_HEAD));
		FUZZ_CHECK(c->t.family == SL_AF_INET || c->t.family == SL_AF_INET6);
		FUZZ_CHECK(!(c->broken & ~3));
		for (i = 0; (c->state == C_RELAY || c->state == C_H1) && i < 2; i++) {
			FUZZ_CHECK(c->h[i].pr >= 0 && c->h[i].pw >= 0);
			FUZZ_CHECK(!ioctl(c->h[i].pr, FIONREAD, &bytes));
			FUZZ_CHECK((size_t)bytes == c->h[i].in_pipe);
		}
	}
	FUZZ_CHECK(n == l->n_conns);
}

static void write_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	FUZZ_CHECK(devnull >= 0);
	if (getenv("SL_FUZZ_SEEDS")) {
		write_seeds(getenv("SL_FUZZ_SEEDS"));
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_l7 *l = calloc(1, sizeof(*l));
	int fds[8], nfds, i, err = 0;
	struct ho_msg m;
	size_t len;

	FUZZ_CHECK(l);
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l->lfd[i] = -1;
	n_opened = 0;
	while (size && !err) {
		uint8_t ctl = data[0];

		len = size - 1 < sizeof(m) ? size - 1 : sizeof(m);
		memset(&m, 0, sizeof(m));
		memcpy(&m, data + 1, len);
		data += 1 + len;
		size -= 1 + len;
		nfds = make_fds(ctl, &m, fds);
		err = l7_ho_check(&m, len, nfds, (ctl & 32) ? MSG_CTRUNC : 0);
		if (err) {
			/* what ho_recv() does with a message it refuses */
			while (nfds)
				close(fds[--nfds]);
			break;
		}
		err = l7_handoff_take_msg(l, &m, fds, nfds, 1000);
		FUZZ_CHECK(err == 0 || err == 1 || err == -EPROTO);
		check_conns(l);
	}
	if (getenv("SL_FUZZ_VERBOSE"))
		fprintf(stderr, "%zu connections taken; last: %d\n", l->n_conns, err);
	l7_handoff_drop(l);
	for (i = 0; i < n_opened; i++)
		FUZZ_CHECK(fcntl(opened[i], F_GETFD) < 0 && errno == EBADF);
	free(l);
	return 0;
}

/* ---- seeds: the messages a real predecessor sends ---- */

static void put(FILE *f, uint8_t ctl, const struct ho_msg *m)
{
	fputc(ctl, f);
	fwrite(m, sizeof(*m), 1, f);
}

static void msg(struct ho_msg *m, enum ho_type type)
{
	memset(m, 0, sizeof(*m));
	m->magic = HO_MAGIC;
	m->version = HO_VERSION;
	m->type = type;
}

static void write_seeds(const char *dir)
{
	static const uint32_t states[] = {C_HEAD, C_CONNECTING, C_RELAY, C_H1};
	char path[4096];
	struct ho_msg m;
	size_t s;
	FILE *f;

	for (s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		snprintf(path, sizeof(path), "%s/seed-state%zu", dir, s);
		f = fopen(path, "w");
		FUZZ_CHECK(f);
		msg(&m, HO_LISTENERS);
		m.listen_mask = 3;
		m.nfds = 2;
		put(f, 2 | 8, &m);
		msg(&m, HO_CONN);
		m.state = states[s];
		m.nfds = 1 + (m.state != C_HEAD) + 4 * (m.state == C_RELAY || m.state == C_H1);
		m.subset_id = 3;
		m.deadline_in = 2500;
		m.t.family = SL_AF_INET;
		m.t.saddr[0] = htonl(0x0a000001);
		m.t.daddr[0] = htonl(0x0a60000a);
		m.t.sport = htons(40000);
		m.t.dport = htons(80);
		if (m.state == C_RELAY) {
			m.in_pipe[0] = 17;
			m.in_pipe[1] = 0;
			m.eof[1] = 1;
		}
		if (m.state == C_H1) {
			/* a request in flight: its upstream connection comes along */
			m.has_backend = 1;
			m.h1.flags = 1;
			m.h1.ep.family = SL_AF_INET;
			m.h1.skip[1] = 100;
			m.in_pipe[1] = 9;
		}
		put(f, m.nfds | 8 | 16, &m);
		msg(&m, HO_END);
		put(f, 0, &m);
		fclose(f);
	}
}
