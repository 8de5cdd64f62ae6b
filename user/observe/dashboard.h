/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The dashboard page, embedded in the binary (user/observe/dashboard.html). */
#ifndef SLUICE_DASHBOARD_H
#define SLUICE_DASHBOARD_H

#include <stddef.h>

/* The whole page: self-contained, it fetches only /api/v1/stats. */
const char *sl_dashboard_html(size_t *len);

#endif /* SLUICE_DASHBOARD_H */
