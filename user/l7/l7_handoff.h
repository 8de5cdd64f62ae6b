/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Hot restart of the L7 step (l7_handoff.c). */
#ifndef SLUICE_L7_HANDOFF_H
#define SLUICE_L7_HANDOFF_H

#include "l7/l7_conn.h"

/* Predecessor: a successor knocked on the hand-over socket. */
void l7_handoff_serve(struct sl_l7 *l);
/* Successor: 0 with everything taken, -ENOENT when nobody is there. */
int l7_handoff_take(struct sl_l7 *l);
/* Register what was taken over and get it moving again. */
void l7_resume_conns(struct sl_l7 *l);
/* Listen for a successor on o.handoff_path. */
int l7_open_handoff(struct sl_l7 *l);

#endif /* SLUICE_L7_HANDOFF_H */
