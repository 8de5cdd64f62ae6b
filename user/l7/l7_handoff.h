/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Hot restart of the L7 step (l7_handoff.c). */
#ifndef SLUICE_L7_HANDOFF_H
#define SLUICE_L7_HANDOFF_H

#include <stdint.h>

#include "l7/l7_conn.h"
#include "l7/l7_h1.h"

#define HO_MAGIC   0x534c484f /* "SLHO" */
#define HO_VERSION 3

/*
 * HELLO (successor), LISTENERS, CONN..., END (predecessor), ACK (successor:
 * it has everything), BYE (predecessor: it has let go of everything). Only
 * with BYE does the successor use what it got; a predecessor that gave up
 * waiting for ACK sends none, so the two never both relay one socket.
 */
enum ho_type { HO_HELLO = 1, HO_LISTENERS, HO_CONN, HO_END, HO_ACK, HO_BYE };

/* One message; its descriptors ride along as SCM_RIGHTS. */
struct ho_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t nfds;
	uint32_t state;
	uint32_t subset_id;
	uint32_t listen_mask; /* HO_LISTENERS: which families follow, in order */
	uint8_t eof[2], shut[2], src_err[2], dropped[2];
	uint8_t broken, reset_counted;
	uint16_t pad;
	uint32_t pid;
	uint64_t in_pipe[2];
	int64_t deadline_in; /* ms left; 0: none */
	struct sl_l7_tuple t;
	/* C_H1: routed per request; a backend socket only with a request in flight */
	uint8_t has_backend;
	uint8_t pad2[7];
	struct l7_h1_wire h1;
};

#define HO_MAX_FDS L7_FDS_PER_CONN

/*
 * Predecessor: a successor knocked on the hand-over socket (serve), then
 * everything goes over (continue, which l7.c also calls after each batch of
 * events while sl_l7.ho_sock is set); then sl_l7.handed_over, or, when it
 * failed, the listeners are back.
 */
void l7_handoff_serve(struct sl_l7 *l);
void l7_handoff_continue(struct sl_l7 *l);
/* Successor: 0 with everything taken, -ENOENT when nobody is there. */
int l7_handoff_take(struct sl_l7 *l);
/* Register what was taken over and get it moving again. */
void l7_resume_conns(struct sl_l7 *l);
/* Listen for a successor on o.handoff_path. */
int l7_open_handoff(struct sl_l7 *l);

/*
 * The decoder, without the socket (tests/fuzz/fuzz_handoff.c feeds it).
 * l7_ho_check: is a received message (len bytes, nfds descriptors,
 * recvmsg()'s flags) well formed? 0, -ECONNRESET (len 0) or -EPROTO.
 * l7_handoff_take_msg: the successor's handling of a well-formed message;
 * it takes the descriptors over (keeps or closes them all). 1 at END, 0
 * when taken, -EPROTO when it breaks the protocol (a state, a count of
 * descriptors or pipe contents that do not add up), -ENOMEM.
 * l7_handoff_drop: close everything taken (the hand-over failed).
 */
int l7_ho_check(const struct ho_msg *m, size_t len, int nfds, int msg_flags);
int l7_handoff_take_msg(struct sl_l7 *l, const struct ho_msg *m, int *fds, int nfds, uint64_t now);
void l7_handoff_drop(struct sl_l7 *l);

#endif /* SLUICE_L7_HANDOFF_H */
