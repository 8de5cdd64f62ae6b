// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "observe/dashboard.h"
#include "dashboard_html.h"

const char *sl_dashboard_html(size_t *len)
{
	*len = sl_dashboard_page_len;
	return (const char *)sl_dashboard_page;
}
