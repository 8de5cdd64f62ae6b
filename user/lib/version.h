/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_VERSION_H
#define SLUICE_VERSION_H

/* The build may pass -DSLUICE_VERSION=...; this is the fallback. */
#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

#endif /* SLUICE_VERSION_H */
