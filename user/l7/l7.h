/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The L7 step of header routing (docs/l7.md): listeners that sl_l7_lookup
 * hands marked connections to, a thread that reads each connection's first
 * request head, picks with l7_pick.h and relays with splice(2), and the hot
 * restart that passes every open socket to a successor over SCM_RIGHTS.
 */
#ifndef SLUICE_L7_H
#define SLUICE_L7_H

#include <stdbool.h>

#include "datapath/maps.h"
#include "l7/l7_opts.h"

struct sl_l7;

/*
 * Take over from a running predecessor (listeners and every relayed
 * connection) if one answers on handoff_path, else open fresh listeners;
 * publish them in sl_l7_listen and start the thread. maps must outlive it.
 */
int sl_l7_start(const struct sl_maps *maps, const struct sl_l7_opts *o, struct sl_l7 **out);
/* Readable once a successor has taken everything over (then: exit). */
int sl_l7_event_fd(const struct sl_l7 *l);
bool sl_l7_handed_over(const struct sl_l7 *l);
/*
 * Stop taking connections (sl_ingress DNATs new ones by weight from now on)
 * and relay the open ones until they end or ms have passed; then the
 * thread is gone and sl_l7_stop() closes what is left.
 */
void sl_l7_drain(struct sl_l7 *l, unsigned int ms);
/* Stop the thread and close everything: relayed connections end here. */
void sl_l7_stop(struct sl_l7 *l);

/* The default hand-over socket of a pin directory. */
void sl_l7_default_handoff(const char *pin_dir, char *buf, size_t len);

#endif /* SLUICE_L7_H */
