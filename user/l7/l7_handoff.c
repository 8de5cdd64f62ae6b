// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Hot restart of the L7 step: a successor connects to the hand-over socket
 * and receives the listeners and every connection, each as its file
 * descriptors (the sockets and the pipes with whatever bytes they hold) plus
 * its state, over SCM_RIGHTS. Nothing is re-read or re-sent; the relay goes
 * on from where it stopped, and the listeners never leave sl_l7_listen.
 * Calls l7_conn.h (the state it sends and rebuilds) and l7_relay.h (to get
 * what it took moving again); nothing of the step's public API (l7.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/ioctl.h>
#include <sys/un.h>

#include "l7/h2.h"
#include "l7/l7_conn.h"
#include "l7/l7_h1.h"
#include "l7/l7_handoff.h"
#include "l7/l7_pool.h"
#include "l7/l7_relay.h"
#include "lib/log.h"

static void ho_init(struct ho_msg *m, enum ho_type type)
{
	memset(m, 0, sizeof(*m));
	m->magic = HO_MAGIC;
	m->version = HO_VERSION;
	m->type = type;
}

static int ho_send(int s, const struct ho_msg *m, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * HO_MAX_FDS)] = {};
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != sizeof(*m))
		return errno ? -errno : -EIO;
	return 0;
}

/* Close the descriptors a message brought, from the keep-th on. */
static void close_fds(int *fds, int *nfds, int keep)
{
	while (*nfds > keep)
		close(fds[--*nfds]);
}

int l7_ho_check(const struct ho_msg *m, size_t len, int nfds, int msg_flags)
{
	if (!len)
		return -ECONNRESET;
	if (len != sizeof(*m) || m->magic != HO_MAGIC || m->version != HO_VERSION ||
	    (msg_flags & MSG_CTRUNC) || nfds < 0 || nfds > HO_MAX_FDS || m->nfds != (uint32_t)nfds)
		return -EPROTO;
	return 0;
}

static int ho_recv(int s, struct ho_msg *m, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * HO_MAX_FDS)];
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;
	int err;

	*nfds = 0;
	n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			/* the kernel fits no more than cbuf holds; checked all the same */
			if (k < 0 || k > HO_MAX_FDS - *nfds)
				break;
			memcpy(fds + *nfds, CMSG_DATA(cm), sizeof(int) * k);
			*nfds += k;
		}
	err = l7_ho_check(m, n, *nfds, mh.msg_flags);
	if (err)
		close_fds(fds, nfds, 0);
	return err;
}

/* The next message must be of this type, with no descriptors. */
static int ho_expect(int s, enum ho_type type)
{
	int fds[HO_MAX_FDS], nfds, err;
	struct ho_msg m;

	err = ho_recv(s, &m, fds, &nfds);
	if (!err && (m.type != type || nfds)) {
		close_fds(fds, &nfds, 0);
		err = -EPROTO;
	}
	return err;
}

static void set_timeouts(int s, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Close our descriptors of every connection and of the listeners, and
 * nothing else: the sockets live on in the other process (no reset, no
 * counting).
 */
static void drop_one(struct sl_l7 *l)
{
	struct conn *c;
	unsigned int i;

	while ((c = l->conns)) {
		l->conns = c->next;
		for (i = 0; i < 2; i++) {
			l7_close_fd(&c->fd[i]);
			l7_close_fd(&c->h[i].pr);
			l7_close_fd(&c->h[i].pw);
		}
		free(c->h1);
		free(c);
	}
	if (l->sh)
		__atomic_fetch_sub(&l->sh->n_conns, l->n_conns, __ATOMIC_RELAXED);
	l->n_conns = 0;
	for (i = 0; i < SL_L7_LISTEN_MAX; i++)
		l7_close_fd(&l->lfd[i]);
	for (i = 0; i < l->n_xlfd; i++)
		l7_close_fd(&l->xlfd[i]);
	l->n_xlfd = l->n_xsets = 0;
}

/* every thread's (the others are parked, or not started yet) */
static void drop_copies(struct sl_l7 *l)
{
	struct sl_l7 *w;

	for (w = l; w; w = w->next_w)
		drop_one(w);
}

/* Predecessor: a successor asked. Everything goes, or nothing does. */
void l7_handoff_serve(struct sl_l7 *l)
{
	struct ho_msg m = {.magic = HO_MAGIC, .version = HO_VERSION};
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int s, fds[HO_MAX_FDS], nfds, err;

	s = accept4(l->hfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	/* the socket file is root's 0600 already; the peer must be us, too */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.uid != geteuid()) {
		pr_warn("l7: hand-over refused to pid %d (uid %d)\n", (int)cr.pid, (int)cr.uid);
		close(s);
		return;
	}
	set_timeouts(s, 5000);
	err = ho_recv(s, &m, fds, &nfds);
	if (err || m.type != HO_HELLO || l->ho_sock >= 0) {
		close(s);
		return;
	}
	l7_listeners_poll(l, false);
	l->ho_sock = s;
	l->ho_pid = m.pid;
	l7_handoff_continue(l);
}

void l7_handoff_continue(struct sl_l7 *l)
{
	struct ho_msg m;
	int s = l->ho_sock, fds[HO_MAX_FDS], nfds, i, err = 0;
	uint64_t now = l7_now_ms();
	size_t sent = 0, total = 0;
	struct conn *c, *next;
	struct sl_l7 *w;
	bool backend;

	if (s < 0)
		return;
	l->ho_sock = -1;
	/* the other threads stop where they are: their state is read from here */
	l7_workers_park(l);
	for (w = l; w; w = w->next_w) {
		l7_h2_handover(w); /* not passed on: see h2.h */
		total += w->n_conns;
		l7_listeners_poll(w, false);
		l7_pool_expire(w, 0);
	}
	pr_info("l7: handing over to pid %u: %zu connections\n", l->ho_pid, total);

	/* one message per thread's listeners, the leader's (the published ones) first */
	for (w = l; w && !err; w = w->next_w) {
		ho_init(&m, HO_LISTENERS);
		for (i = 0, nfds = 0; i < SL_L7_LISTEN_MAX; i++)
			if (w->lfd[i] >= 0) {
				m.listen_mask |= 1U << i;
				fds[nfds++] = w->lfd[i];
			}
		m.nfds = nfds;
		if (nfds)
			err = ho_send(s, &m, fds, nfds);
	}
	for (w = l; w && !err; w = w->next_w)
		for (c = w->conns; c && !err; c = c->next, sent++) {
			ho_init(&m, HO_CONN);
			m.state = c->state;
			m.subset_id = c->subset_id;
			m.broken = c->broken;
			m.reset_counted = c->reset_counted;
			m.t = c->t;
			/* 0 means none: one already due is due in 1 ms */
			m.deadline_in = !c->deadline	    ? 0
					: c->deadline > now ? (int64_t)(c->deadline - now)
							    : 1;
			nfds = 0;
			fds[nfds++] = c->fd[CLIENT];
			/* per request: an upstream connection only while a request is in flight */
			backend = c->state == C_H1 ? l7_h1_export(c, &m.h1) : c->state != C_HEAD;
			m.has_backend = backend;
			if (backend)
				fds[nfds++] = c->fd[BACKEND];
			if (c->state == C_RELAY || c->state == C_H1)
				for (i = 0; i < 2; i++) {
					fds[nfds++] = c->h[i].pr;
					fds[nfds++] = c->h[i].pw;
					m.in_pipe[i] = c->h[i].in_pipe;
					m.eof[i] = c->h[i].eof;
					m.shut[i] = c->h[i].shut;
					m.src_err[i] = c->h[i].src_err;
					m.dropped[i] = c->h[i].dropped;
				}
			m.nfds = nfds;
			err = ho_send(s, &m, fds, nfds);
		}
	if (!err) {
		ho_init(&m, HO_END);
		err = ho_send(s, &m, NULL, 0);
	}
	err = err ?: ho_expect(s, HO_ACK);
	if (err) {
		close(s);
		/* the successor is gone: what it got died with it; carry on */
		pr_warn("l7: hand-over failed after %zu connections: %s; keeping them\n", sent,
			strerror(-err));
		for (w = l; w; w = w->next_w)
			l7_listeners_poll(w, true);
		/* their next requests may be waiting already: no new edge will say so */
		for (c = l->conns; c; c = next) {
			next = c->next;
			if (c->state == C_H1)
				l7_h1_event(l, c, CLIENT, 0);
		}
		/* (the other threads' are kicked by a wake-up that finds nothing: see l7.c) */
		l7_workers_resume(l);
		return;
	}
	/* Ours are copies now: closing them leaves the successor's open. */
	l7_count(l, SL_L7_C_HANDED_OVER, sent);
	drop_copies(l);
	ho_init(&m, HO_BYE);
	/* if it is lost, so is the successor (a crash): nothing to take back */
	ho_send(s, &m, NULL, 0);
	close(s);
	l7_close_fd(&l->hfd);
	l->handed_over = true;
	pr_info("l7: handed over %zu connections\n", sent);
}

/*
 * Is what a CONN message says about its pipes true? Each pipe holds as many
 * bytes as the message says: fewer and the relay would wait for the rest
 * forever; more and the rest would go to whichever connection gets the
 * pipe next from the pool.
 */
static bool pipes_hold(const struct ho_msg *m, const int *fds, int backend)
{
	struct stat st;
	int i, n;

	fds += backend - 1; /* the pipes follow the client's and the backend's sockets */
	for (i = 0; i < 2; i++) {
		if (fstat(fds[2 + 2 * i], &st) || !S_ISFIFO(st.st_mode) ||
		    fstat(fds[3 + 2 * i], &st) || !S_ISFIFO(st.st_mode) ||
		    ioctl(fds[2 + 2 * i], FIONREAD, &n) || (uint64_t)n != m->in_pipe[i])
			return false;
	}
	return true;
}

int l7_handoff_take_msg(struct sl_l7 *l, const struct ho_msg *m, int *fds, int nfds, uint64_t now)
{
	struct conn *c;
	int i, k, backend, piped;

	if (m->type == HO_END) {
		close_fds(fds, &nfds, 0);
		return 1;
	}
	if (m->type == HO_LISTENERS) {
		bool first = true;

		for (i = 0; i < SL_L7_LISTEN_MAX; i++)
			if ((m->listen_mask & (1U << i)) && l->lfd[i] >= 0)
				first = false;
		if (first) {
			for (i = 0, k = 0; i < SL_L7_LISTEN_MAX; i++)
				if ((m->listen_mask & (1U << i)) && k < nfds)
					l->lfd[i] = fds[k++];
			close_fds(fds, &nfds, k);
			return 0;
		}
		/* another thread's of the predecessor: for one of ours (l7.c) */
		if (l->n_xsets == SL_L7_THREADS_MAX) {
			close_fds(fds, &nfds, 0);
			return 0;
		}
		l->xmask[l->n_xsets] = 0;
		for (i = 0, k = 0; i < SL_L7_LISTEN_MAX; i++)
			if ((m->listen_mask & (1U << i)) && k < nfds) {
				l->xmask[l->n_xsets] |= 1U << i;
				l->xlfd[l->n_xlfd++] = fds[k++];
			}
		l->n_xsets++;
		close_fds(fds, &nfds, k);
		return 0;
	}
	/* a state this build does not know would be relayed with no pipes */
	piped = m->state == C_RELAY || m->state == C_H1;
	backend = m->state == C_H1 ? m->has_backend == 1 : m->state != C_HEAD;
	if (m->type != HO_CONN ||
	    (m->state != C_HEAD && m->state != C_CONNECTING && m->state != C_RELAY &&
	     m->state != C_H1) ||
	    nfds != 1 + backend + 4 * piped || (piped && !pipes_hold(m, fds, backend)) ||
	    (m->t.family != SL_AF_INET && m->t.family != SL_AF_INET6)) {
		close_fds(fds, &nfds, 0);
		return -EPROTO;
	}
	c = l7_conn_new(l);
	if (!c) {
		close_fds(fds, &nfds, 0);
		return -ENOMEM;
	}
	c->state = m->state;
	c->subset_id = m->subset_id;
	c->broken = m->broken & (1U << CLIENT | 1U << BACKEND);
	c->reset_counted = m->reset_counted;
	c->t = m->t;
	c->deadline = m->deadline_in > 0 ? now + m->deadline_in : 0;
	c->fd[CLIENT] = fds[0];
	if (backend)
		c->fd[BACKEND] = fds[1];
	if (piped)
		for (i = 0; i < 2; i++) {
			c->h[i].pr = fds[1 + backend + 2 * i];
			c->h[i].pw = fds[2 + backend + 2 * i];
			c->h[i].in_pipe = m->in_pipe[i];
			c->h[i].eof = m->eof[i];
			c->h[i].shut = m->shut[i];
			c->h[i].src_err = m->src_err[i];
			c->h[i].dropped = m->dropped[i];
		}
	if (m->state == C_H1 && l7_h1_import(c, &m->h1, backend)) {
		/* taken back out, uncounted here and in the shared count alike */
		l7_conn_unlink(l, c);
		for (i = 0; i < 2; i++) {
			l7_close_fd(&c->fd[i]);
			l7_close_fd(&c->h[i].pr);
			l7_close_fd(&c->h[i].pw);
		}
		free(c);
		return -EPROTO;
	}
	return 0;
}

void l7_handoff_drop(struct sl_l7 *l)
{
	drop_copies(l);
}

/* Successor: 0 with everything taken, -ENOENT when nobody is there. */
int l7_handoff_take(struct sl_l7 *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ho_msg m = {.magic = HO_MAGIC, .version = HO_VERSION, .type = HO_HELLO};
	int s, fds[HO_MAX_FDS], nfds, err;
	uint64_t now = l7_now_ms();
	socklen_t crlen = sizeof(struct ucred);
	struct ucred cr = {.uid = (uid_t)-1};
	size_t got = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->o.handoff_path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(s);
		/* no file, or a file nobody listens on (a predecessor that crashed) */
		return err == -ENOENT || err == -ECONNREFUSED ? -ENOENT : err;
	}
	/* what it sends is published as our listeners: it must be us */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || cr.uid != geteuid()) {
		pr_warn("l7: %s is served by uid %d, not us: no hand-over\n", l->o.handoff_path,
			(int)cr.uid);
		close(s);
		return -EPERM;
	}
	set_timeouts(s, 10000);
	m.pid = getpid();
	err = ho_send(s, &m, NULL, 0);
	while (!err) {
		err = ho_recv(s, &m, fds, &nfds);
		err = err ?: l7_handoff_take_msg(l, &m, fds, nfds, now);
		if (err == 1) {
			err = 0;
			break;
		}
		if (!err && m.type == HO_CONN)
			got++;
	}
	if (!err) {
		ho_init(&m, HO_ACK);
		err = ho_send(s, &m, NULL, 0);
	}
	err = err ?: ho_expect(s, HO_BYE);
	close(s);
	if (err) {
		/*
		 * The predecessor keeps these (it carries on without an
		 * acknowledgement): close our copies, quietly. No reset, no
		 * counting: the connections are alive, and not ours.
		 */
		drop_copies(l);
		pr_warn("l7: taking over from the running sluice failed after %zu connections: "
			"%s; it keeps them, and new ones come here\n",
			got, strerror(-err));
		return err;
	}
	l7_count(l, SL_L7_C_TAKEN_OVER, got);
	pr_info("l7: took over %zu relayed connections\n", got);
	return 0;
}

/* Register what was taken over and get it moving again. */
void l7_resume_conns(struct sl_l7 *l)
{
	struct conn *c, *next;
	int err;

	for (c = l->conns; c; c = next) {
		next = c->next;
		/* held already: counted, even beyond a smaller limit of ours */
		l7_client_take(l, c, false);
		switch (c->state) {
		case C_HEAD:
			err = l7_add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET);
			if (!err)
				l7_on_head(l, c, 0);
			break;
		case C_CONNECTING:
			err = l7_add_fd(l, c, CLIENT, EPOLLIN | EPOLLRDHUP | EPOLLET);
			err = err ?: l7_add_fd(l, c, BACKEND, EPOLLOUT);
			break;
		case C_H1:
			err = l7_h1_resume(l, c);
			break;
		default:
			err = l7_add_fd(l, c, CLIENT, RELAY_EVENTS);
			err = err ?: l7_add_fd(l, c, BACKEND, RELAY_EVENTS);
			if (!err)
				l7_relay(l, c);
			break;
		}
		if (err)
			l7_conn_close(l, c, true);
	}
}

int l7_open_handoff(struct sl_l7 *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	struct stat st;
	mode_t old;
	int fd, err;

	if (strlen(l->o.handoff_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->o.handoff_path);
	snprintf(dir, sizeof(dir), "%s", l->o.handoff_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	/* whoever can connect gets every relayed socket: owner only */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 4)) {
		err = -errno;
		close(fd);
		return err;
	}
	l->hfd = fd;
	if (!stat(sa.sun_path, &st))
		l->hfd_ino = st.st_ino;
	return 0;
}
