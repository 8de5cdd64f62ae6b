/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Directories only their owner may enter: the pin directory (conntrack, the
 * hash seed, the tables) and /run/sluice (the hand-over socket, which gives
 * whoever connects every relayed connection).
 */
#ifndef SLUICE_PRIVATE_DIR_H
#define SLUICE_PRIVATE_DIR_H

/*
 * mkdir -p, each directory created 0700; a last component that exists
 * already, is ours and lets group or others in is narrowed to 0700. One
 * that is not a directory, or (a symlink) not ours, is an error. Negative
 * errno.
 */
int sl_private_dir(const char *dir);

#endif /* SLUICE_PRIVATE_DIR_H */
