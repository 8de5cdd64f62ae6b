/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Socket-level balancing: the cgroup programs and their pinned links. */
#ifndef SLUICE_SOCKLB_H
#define SLUICE_SOCKLB_H

#include <linux/types.h>

struct sluice_bpf;

/* sl_sock_connect4 and the three that count its connections (bpf/sluice.bpf.c) */
#define SL_SOCK_LB_PROGS 4

/* Program i of the four (loaded only with --socket-lb). */
struct bpf_program *sl_socklb_prog(struct sluice_bpf *skel, int i);

/*
 * Open cgroup v2 directory dir (its fd; its id in *id), or say what is
 * wrong with it, naming it as --socket-lb's: -errno.
 */
int sl_socklb_open_dir(const char *dir, __u64 *id);

/*
 * Attach the four to cgroup v2 directory dir through links pinned in
 * pin_dir, or swap skel's programs into the links an earlier run pinned
 * there for the same cgroup. All or none; errors name dir.
 */
int sl_socklb_attach(struct sluice_bpf *skel, const char *pin_dir, const char *dir);

/*
 * Remove the pinned links, if any (connect4 first): connect() goes back to
 * the packet path. A socket balanced before is no longer counted at its
 * close.
 */
int sl_socklb_off(const char *pin_dir);

#endif /* SLUICE_SOCKLB_H */
