// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice top: per-service, per-subset rates, shares and weights, live.
 *
 * Every refresh reads the same counters as `status` and divides the change
 * since the previous read by the real time between the two reads
 * (CLOCK_MONOTONIC), so a slow refresh never inflates a rate. The screen is
 * built as plain text lines first and only then drawn, so the curses view,
 * the batch view (not a terminal, or --count) and the layout share one path.
 * Plain ASCII and no mouse: it has to work over ssh in an 80x24 terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "cli/cli.h"
#include "observe/status_json.h"
#include "datapath/counters.h"

#define TOP_COLS       256 /* longest line built; drawing cuts to the screen */
#define TOP_HEAD_LINES 2   /* fixed at the top; the rest scrolls */
/* Walking a large conntrack map costs; past this, count it less often. */
#define TOP_CT_SLOW_NS	  (100ULL * 1000000)
#define TOP_CT_SLOW_EVERY 10

enum top_attr {
	TOP_PLAIN,
	TOP_TITLE,   /* service names */
	TOP_COLHEAD, /* column headers */
};

struct top_line {
	char text[TOP_COLS];
	enum top_attr attr;
	/* a cell to draw as an alert (5xx going on), [alert_at, +alert_len) */
	int alert_at, alert_len;
};

struct top_screen {
	struct top_line head[TOP_HEAD_LINES];
	struct top_line *body;
	size_t n_body, cap_body;
};

/* One read of the maps and when it was taken. */
struct top_sample {
	struct sl_status st;
	uint64_t mono_ns;
	bool valid;
};

struct top_opts {
	double interval; /* seconds */
	long count;	 /* refreshes before exiting; 0 = until q or a signal */
};

struct top_ctx {
	struct sl_maps maps;
	struct top_opts o;
	struct top_sample prev, cur;
	unsigned int refreshes;
	int ct_every; /* count conntrack every this many refreshes */
	int ct_last;
	char msg[128]; /* shown in the footer: the last read error */
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	top_stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t delta(uint64_t before, uint64_t after)
{
	/* A counter that went back was reset (new maps): no rate, not a huge one. */
	return after >= before ? after - before : 0;
}

/*
 * Rates, counts and byte rates in at most 5 characters: "0", "9.5", "950",
 * "9.50K", "95.0K", "950K", "9.50M" ... (SI, powers of 1000).
 */
static const char *human(char *buf, size_t len, double v, bool integer)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (!(v > 0)) /* also NaN */
		return "0";
	while (v >= 999.5 && u < (int)sizeof(units) - 2) {
		v /= 1000;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, integer || v >= 9.95 ? "%.0f" : "%.1f", v);
	else if (v < 9.995)
		snprintf(buf, len, "%.2f%c", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
	return buf;
}

/* Without libm: v is never negative here. */
static double round_to(double v, double unit)
{
	return (double)(long long)(v / unit + 0.5) * unit;
}

static const char *pct(char *buf, size_t len, double v)
{
	double d = v - round_to(v, 1);

	if (v >= 99.95)
		snprintf(buf, len, "100%%");
	else if (d < 0.05 && d > -0.05)
		snprintf(buf, len, "%.0f%%", v);
	else
		snprintf(buf, len, "%.1f%%", v);
	return buf;
}

/* ------------------------------------------------------------ the numbers */

struct top_subset_rates {
	bool have_rates;     /* the subset was in the previous read too */
	bool have_weight;    /* the default route has a nonzero total weight */
	bool have_observed;  /* the service opened connections in the interval */
	double weight_pct;   /* configured share of new connections */
	double observed_pct; /* observed share over the interval */
	double new_s, pkts_in_s, pkts_out_s, bytes_in_s, bytes_out_s, resets_s;
	double http_s[5]; /* 1xx .. 5xx */
	uint64_t active;
};

static const struct sl_status_subset *prev_subset(const struct sl_status *prev,
						  const struct sl_status_service *s,
						  const struct sl_status_subset *sub)
{
	const struct sl_status_service *ps = prev ? sl_status_find(prev, s->name) : NULL;
	size_t j;

	/* Subset ids are stable across applies: the row is the same counter. */
	for (j = 0; ps && j < ps->n_subsets; j++)
		if (ps->subsets[j].subset_id == sub->subset_id)
			return &ps->subsets[j];
	return NULL;
}

/* Rates of every subset of s; r has s->n_subsets entries. */
static void service_rates(const struct sl_status *cur, const struct sl_status *prev, double dt,
			  const struct sl_status_service *s, struct top_subset_rates *r)
{
	uint64_t wsum = 0, opened = 0, d_opened[SL_MAX_SUBSETS] = {};
	size_t j, k;

	for (j = 0; j < s->n_subsets; j++)
		wsum += s->subsets[j].weight;
	for (j = 0; j < s->n_subsets; j++) {
		const struct sl_status_subset *sub = &s->subsets[j];
		const struct sl_status_subset *p = prev_subset(prev, s, sub);
		const struct sl_stats *a = p ? &p->stats : NULL, *b = &sub->stats;

		memset(&r[j], 0, sizeof(r[j]));
		r[j].have_weight = wsum > 0;
		r[j].weight_pct = wsum ? 100.0 * sub->weight / wsum : 0;
		r[j].active = delta(b->conns_closed, b->conns_opened);
		if (!a || !(dt > 0))
			continue;
		r[j].have_rates = true;
		d_opened[j] = delta(a->conns_opened, b->conns_opened);
		opened += d_opened[j];
		r[j].new_s = d_opened[j] / dt;
		r[j].pkts_in_s = delta(a->packets_in, b->packets_in) / dt;
		r[j].pkts_out_s = delta(a->packets_out, b->packets_out) / dt;
		r[j].bytes_in_s = delta(a->bytes_in, b->bytes_in) / dt;
		r[j].bytes_out_s = delta(a->bytes_out, b->bytes_out) / dt;
		r[j].resets_s = delta(a->backend_resets, b->backend_resets) / dt;
		for (k = 0; k < 5; k++)
			r[j].http_s[k] = delta(a->http_responses[k], b->http_responses[k]) / dt;
	}
	for (j = 0; opened && j < s->n_subsets; j++) {
		r[j].have_observed = r[j].have_rates;
		r[j].observed_pct = 100.0 * d_opened[j] / opened;
	}
}

static double global_rate(const struct sl_status *prev, const struct sl_status *cur, int idx,
			  double dt)
{
	return delta(prev->global[idx], cur->global[idx]) / dt;
}

static double elapsed_s(const struct top_ctx *c)
{
	if (!c->prev.valid)
		return 0;
	return (c->cur.mono_ns - c->prev.mono_ns) / 1e9;
}

/* ------------------------------------------------------------ the text */

static void line_set(struct top_line *l, enum top_attr attr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void line_set(struct top_line *l, enum top_attr attr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	l->attr = attr;
	l->alert_at = l->alert_len = 0;
}

static struct top_line *body_add(struct top_screen *scr)
{
	if (scr->n_body == scr->cap_body) {
		size_t cap = scr->cap_body ? 2 * scr->cap_body : 64;
		struct top_line *b = realloc(scr->body, cap * sizeof(*b));

		if (!b)
			return NULL;
		scr->body = b;
		scr->cap_body = cap;
	}
	return &scr->body[scr->n_body++];
}

/*
 * One layout for the header and the rows, 78 columns: it fits 80 with room
 * for the override mark after the weight.
 */
#define ROW_FMT	 "%-9.9s %5s%c %5s %6s %6s %5s %5s %5s %5s %5s %5s %5s"
#define HEAD_FMT "%-9s %6s %5s %6s %6s %11s %11s %11s %5s"
#define COL_5XX	 67 /* where the 5xx cell starts in ROW_FMT */

static int render_service(struct top_screen *scr, const struct sl_status *cur,
			  const struct sl_status *prev, double dt,
			  const struct sl_status_service *s)
{
	struct top_subset_rates r[SL_MAX_SUBSETS];
	char b[12][16];
	struct top_line *l;
	size_t j;

	service_rates(cur, prev, dt, s, r);
	if (!(l = body_add(scr)))
		return -ENOMEM;
	line_set(l, TOP_TITLE, "service %s (affinity %s)%s", s->name,
		 s->flags & SL_SVC_AFFINITY_CLIENT_IP ? "client-ip" : "connection",
		 s->overridden ? "  * weights overridden by `sluice weights`" : "");
	if (!(l = body_add(scr)))
		return -ENOMEM;
	line_set(l, TOP_COLHEAD, HEAD_FMT, "", "", "SEEN", "NEW", "", "PACKETS/s  ", "BYTES/s  ",
		 "HTTP/s   ", "");
	if (!(l = body_add(scr)))
		return -ENOMEM;
	line_set(l, TOP_COLHEAD, HEAD_FMT, "SUBSET", "WEIGHT", "SPLIT", "CONN/s", "ACTIVE",
		 "IN   OUT", "IN   OUT", "2xx   5xx", "RST/s");
	for (j = 0; j < s->n_subsets; j++) {
		const struct top_subset_rates *x = &r[j];
		const char *na = x->have_rates ? NULL : "-";

		if (!(l = body_add(scr)))
			return -ENOMEM;
		line_set(l, TOP_PLAIN, ROW_FMT, s->subsets[j].name,
			 x->have_weight ? pct(b[0], 16, x->weight_pct) : "-",
			 s->overridden ? '*' : ' ',
			 x->have_observed ? pct(b[1], 16, x->observed_pct) : "-",
			 na ?: human(b[2], 16, x->new_s, false), human(b[3], 16, x->active, true),
			 na ?: human(b[4], 16, x->pkts_in_s, false),
			 na ?: human(b[5], 16, x->pkts_out_s, false),
			 na ?: human(b[6], 16, x->bytes_in_s, false),
			 na ?: human(b[7], 16, x->bytes_out_s, false),
			 na ?: human(b[8], 16, x->http_s[1], false),
			 na ?: human(b[9], 16, x->http_s[4], false),
			 na ?: human(b[10], 16, x->resets_s, false));
		if (x->http_s[4] > 0) {
			l->alert_at = COL_5XX;
			l->alert_len = 5;
		}
	}
	if (!(l = body_add(scr)))
		return -ENOMEM;
	line_set(l, TOP_PLAIN, "%s", "");
	return 0;
}

static int render(struct top_screen *scr, const struct top_ctx *c)
{
	const struct sl_status *cur = &c->cur.st, *prev = c->prev.valid ? &c->prev.st : NULL;
	double dt = elapsed_s(c);
	char when[32] = "never", b[6][16], ct[24] = "?";
	time_t t = cur->state.applied_ns / 1000000000ULL;
	struct tm tm;
	size_t i;
	int err;

	if (cur->state.generation && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	if (c->ct_last >= 0)
		snprintf(ct, sizeof(ct), "%d", c->ct_last);
	line_set(&scr->head[0], TOP_PLAIN,
		 "sluice top - generation %" PRIu64 ", applied %s, conntrack %s",
		 (uint64_t)cur->state.generation, when, ct);
	if (prev && dt > 0) {
		line_set(&scr->head[1], TOP_PLAIN,
			 "datapath/s: new %s  l7 %s  established %s  reply %s  pass %s  dropped %s",
			 human(b[0], 16, global_rate(prev, cur, SL_G_NEW_CONN, dt), false),
			 /* new connections handed to the L7 step: not in "new" */
			 human(b[5], 16, global_rate(prev, cur, SL_G_L7_LOCAL, dt), false),
			 human(b[1], 16, global_rate(prev, cur, SL_G_ESTABLISHED, dt), false),
			 human(b[2], 16, global_rate(prev, cur, SL_G_REPLY, dt), false),
			 human(b[3], 16, global_rate(prev, cur, SL_G_PASS, dt), false),
			 human(b[4], 16,
			       global_rate(prev, cur, SL_G_NO_ENDPOINT, dt) +
				   global_rate(prev, cur, SL_G_NAT_FAIL, dt),
			       false));
	} else {
		line_set(&scr->head[1], TOP_PLAIN, "datapath/s: measuring...");
	}
	scr->n_body = 0;
	if (!cur->n_services) {
		struct top_line *l = body_add(scr);

		if (!l)
			return -ENOMEM;
		line_set(l, TOP_PLAIN, "(no services in the running configuration)");
	}
	for (i = 0; i < cur->n_services; i++) {
		err = render_service(scr, cur, prev, dt, &cur->services[i]);
		if (err)
			return err;
	}
	return 0;
}

/* ------------------------------------------------------------ reading */

static int take_sample(struct top_ctx *c)
{
	struct top_sample s = {};
	uint64_t t0;
	int err;

	err = sl_tables_read_status(&c->maps, &s.st);
	if (err)
		return err;
	s.mono_ns = mono_ns();
	s.valid = true;
	if (c->refreshes % c->ct_every == 0) {
		t0 = mono_ns();
		c->ct_last = sl_tables_count_conntrack(&c->maps);
		if (c->ct_every == 1 && mono_ns() - t0 > TOP_CT_SLOW_NS)
			c->ct_every = TOP_CT_SLOW_EVERY;
	}
	s.st.ct_entries = c->ct_last;
	c->refreshes++;
	if (c->prev.valid)
		sl_status_free(&c->prev.st);
	c->prev = c->cur;
	c->cur = s;
	return 0;
}

/* ------------------------------------------------------------ JSON */

/* Three decimals, printed as such (not as the nearest binary double's 17 digits). */
static json_object *jrate(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.3f", round_to(v, 0.001));
	return json_object_new_double_s(round_to(v, 0.001), buf);
}

static json_object *top_json(const struct top_ctx *c)
{
	const struct sl_status *cur = &c->cur.st, *prev = &c->prev.st;
	json_object *o = json_object_new_object(), *dp = json_object_new_object();
	json_object *svcs = json_object_new_array();
	double dt = elapsed_s(c);
	char name[8];
	size_t i, j, k;

	json_object_object_add(o, "interval", jrate(dt));
	json_object_object_add(o, "generation", json_object_new_uint64(cur->state.generation));
	json_object_object_add(o, "conntrack_entries", json_object_new_int(c->ct_last));
	for (k = 0; k < SL_G_MAX; k++)
		json_object_object_add(dp, sl_global_name(k), jrate(global_rate(prev, cur, k, dt)));
	json_object_object_add(o, "datapath_per_s", dp);
	for (i = 0; i < cur->n_services; i++) {
		const struct sl_status_service *s = &cur->services[i];
		struct top_subset_rates r[SL_MAX_SUBSETS];
		json_object *so = json_object_new_object(), *subs = json_object_new_array();
		double new_s = 0;

		service_rates(cur, prev, dt, s, r);
		json_object_object_add(so, "name", json_object_new_string(s->name));
		json_object_object_add(so, "overridden", json_object_new_boolean(s->overridden));
		for (j = 0; j < s->n_subsets; j++) {
			json_object *x = json_object_new_object(), *h = json_object_new_object();

			new_s += r[j].new_s;
			json_object_object_add(x, "name",
					       json_object_new_string(s->subsets[j].name));
			json_object_object_add(x, "weight",
					       json_object_new_int64(s->subsets[j].weight));
			json_object_object_add(x, "weight_pct",
					       r[j].have_weight ? jrate(r[j].weight_pct) : NULL);
			json_object_object_add(x, "observed_pct",
					       r[j].have_observed ? jrate(r[j].observed_pct)
								  : NULL);
			json_object_object_add(x, "connections_active",
					       json_object_new_uint64(r[j].active));
			if (!r[j].have_rates) {
				/* new since the previous read: no rates yet */
				json_object_put(h);
				json_object_array_add(subs, x);
				continue;
			}
			json_object_object_add(x, "connections_per_s", jrate(r[j].new_s));
			json_object_object_add(x, "packets_in_per_s", jrate(r[j].pkts_in_s));
			json_object_object_add(x, "packets_out_per_s", jrate(r[j].pkts_out_s));
			json_object_object_add(x, "bytes_in_per_s", jrate(r[j].bytes_in_s));
			json_object_object_add(x, "bytes_out_per_s", jrate(r[j].bytes_out_s));
			json_object_object_add(x, "backend_resets_per_s", jrate(r[j].resets_s));
			for (k = 0; k < 5; k++) {
				snprintf(name, sizeof(name), "%zuxx", k + 1);
				json_object_object_add(h, name, jrate(r[j].http_s[k]));
			}
			json_object_object_add(x, "http_responses_per_s", h);
			json_object_array_add(subs, x);
		}
		json_object_object_add(so, "connections_per_s", jrate(new_s));
		json_object_object_add(so, "subsets", subs);
		json_object_array_add(svcs, so);
	}
	json_object_object_add(o, "services", svcs);
	return o;
}

/* ------------------------------------------------------------ the loops */

/* Sleep until deadline (monotonic ns) unless a signal asks to stop. */
static void sleep_until(uint64_t deadline)
{
	uint64_t now;
	struct timespec ts;

	while (!top_stop && (now = mono_ns()) < deadline) {
		ts.tv_sec = (deadline - now) / 1000000000ULL;
		ts.tv_nsec = (deadline - now) % 1000000000ULL;
		nanosleep(&ts, NULL);
	}
}

/* -j, or not a terminal: one JSON line or one text frame per refresh. */
static int run_batch(struct top_ctx *c)
{
	uint64_t step = c->o.interval * 1e9, next = c->cur.mono_ns + step;
	struct top_screen scr = {};
	long n = 0;
	size_t i;
	int err = 0;

	while (!top_stop && (!c->o.count || n < c->o.count)) {
		sleep_until(next);
		if (top_stop)
			break;
		next += step;
		err = take_sample(c);
		if (err) {
			sl_error("cannot read the maps: %s", strerror(-err));
			break;
		}
		if (cli.json) {
			sl_json_print(top_json(c));
		} else {
			err = render(&scr, c);
			if (err)
				break;
			if (n)
				printf("\n");
			for (i = 0; i < TOP_HEAD_LINES; i++)
				printf("%s\n", scr.head[i].text);
			printf("\n");
			for (i = 0; i < scr.n_body; i++)
				printf("%s\n", scr.body[i].text);
		}
		fflush(stdout);
		n++;
	}
	free(scr.body);
	return err;
}

static int color_alert; /* a color pair for alerts, 0 if none */

static void draw_line(int y, const struct top_line *l)
{
	int len = strlen(l->text), attr = 0;

	if (l->attr == TOP_TITLE)
		attr = A_BOLD;
	else if (l->attr == TOP_COLHEAD)
		attr = A_REVERSE;
	/* Column headers span the width so they read as a bar. */
	if (l->attr == TOP_COLHEAD) {
		attron(attr);
		mvhline(y, 0, ' ', COLS);
		attroff(attr);
	}
	attron(attr);
	mvaddnstr(y, 0, l->text, len < COLS ? len : COLS);
	attroff(attr);
	if (l->alert_len && l->alert_at < COLS) {
		int at = l->alert_at, n = l->alert_len;

		attron(A_BOLD | (color_alert ? COLOR_PAIR(color_alert) : A_STANDOUT));
		mvaddnstr(y, at, l->text + at, at + n <= COLS ? n : COLS - at);
		attroff(A_BOLD | (color_alert ? COLOR_PAIR(color_alert) : A_STANDOUT));
	}
}

static void draw(const struct top_ctx *c, const struct top_screen *scr, int *scroll)
{
	int rows = LINES - TOP_HEAD_LINES - 2, y, max_scroll, i;
	char foot[TOP_COLS], when[16];
	time_t now = time(NULL);
	struct tm tm;
	struct top_line fl;

	if (rows < 0)
		rows = 0;
	max_scroll = (int)scr->n_body > rows ? (int)scr->n_body - rows : 0;
	if (*scroll > max_scroll)
		*scroll = max_scroll;
	if (*scroll < 0)
		*scroll = 0;
	erase();
	for (i = 0; i < TOP_HEAD_LINES && i < LINES; i++)
		draw_line(i, &scr->head[i]);
	for (y = 0; y < rows && *scroll + y < (int)scr->n_body; y++)
		draw_line(TOP_HEAD_LINES + 1 + y, &scr->body[*scroll + y]);

	if (LINES > TOP_HEAD_LINES) {
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
		if (c->msg[0])
			snprintf(foot, sizeof(foot), " %s  %s  q quit", when, c->msg);
		else if (max_scroll)
			snprintf(foot, sizeof(foot),
				 " %s every %.3gs  q quit  j/k up/down  lines %d-%d of %zu", when,
				 c->o.interval, *scroll + 1, *scroll + y, scr->n_body);
		else
			snprintf(foot, sizeof(foot), " %s every %.3gs  q quit", when,
				 c->o.interval);
		line_set(&fl, TOP_COLHEAD, "%s", foot);
		draw_line(LINES - 1, &fl);
	}
	refresh();
}

static int run_curses(struct top_ctx *c)
{
	uint64_t step = c->o.interval * 1e9, next = mono_ns() + step, now, wait_ms;
	struct top_screen scr = {};
	SCREEN *term;
	int ch, scroll = 0, err = 0, page;

	term = newterm(NULL, stdout, stdin);
	if (!term) {
		sl_error("cannot drive this terminal (TERM=%s); use -j for JSON lines",
			 getenv("TERM") ?: "");
		return -ENOTTY;
	}
	set_term(term);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	if (has_colors() && start_color() == OK) {
		use_default_colors();
		if (init_pair(1, COLOR_RED, -1) == OK)
			color_alert = 1;
	}

	err = render(&scr, c);
	while (!err && !top_stop) {
		draw(c, &scr, &scroll);
		now = mono_ns();
		if (now >= next) {
			next += step;
			if (next <= now) /* suspended, or a slow read */
				next = now + step;
			err = take_sample(c);
			if (err) {
				/* Keep the last numbers on screen; say why they stopped. */
				snprintf(c->msg, sizeof(c->msg), "read failed: %s", strerror(-err));
				err = 0;
			} else {
				c->msg[0] = 0;
				err = render(&scr, c);
			}
			continue;
		}
		/* Short waits: a signal that ncurses restarts the read after still stops us. */
		wait_ms = (next - now + 999999) / 1000000;
		timeout(wait_ms < 250 ? (int)wait_ms : 250);
		ch = getch();
		page = LINES - TOP_HEAD_LINES - 2 > 1 ? LINES - TOP_HEAD_LINES - 2 : 1;
		switch (ch) {
		case 'q':
		case 'Q':
			top_stop = 1;
			break;
		case 'j':
		case KEY_DOWN:
			scroll++;
			break;
		case 'k':
		case KEY_UP:
			scroll--;
			break;
		case ' ':
		case KEY_NPAGE:
			scroll += page;
			break;
		case 'b':
		case KEY_PPAGE:
			scroll -= page;
			break;
		case 'g':
		case KEY_HOME:
			scroll = 0;
			break;
		case 'G':
		case KEY_END:
			scroll = (int)scr.n_body;
			break;
		case KEY_RESIZE: /* draw() reads the new LINES/COLS */
		default:
			break;
		}
	}
	endwin();
	delscreen(term);
	free(scr.body);
	return err;
}

static int usage(void)
{
	sl_error("usage: sluice top [--interval SEC] [--count N | --once]");
	return SL_EXIT_INVALID;
}

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = {
	    {"interval", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'n'},
	    {"once", no_argument, NULL, '1'},
	    {},
	};
	char *end;
	int opt;

	o->interval = 1;
	o->count = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:n:", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->interval >= 0.1) ||
			    o->interval > 3600) {
				sl_error("--interval '%s': seconds from 0.1 to 3600", optarg);
				return SL_EXIT_INVALID;
			}
			break;
		case 'n':
			errno = 0;
			o->count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->count < 1) {
				sl_error("--count '%s': a number of refreshes, at least 1", optarg);
				return SL_EXIT_INVALID;
			}
			break;
		case '1':
			o->count = 1;
			break;
		default:
			return usage();
		}
	}
	return optind == argc ? 0 : usage();
}

int cmd_top(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct top_ctx c = {.ct_every = 1, .ct_last = -1};
	bool batch;
	int err;

	if (parse_args(argc, argv, &c.o))
		return SL_EXIT_INVALID;
	batch = cli.json || c.o.count || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO);

	/* Everything that can fail for a plain reason fails before curses starts. */
	err = sl_maps_open_pinned(&c.maps, cli.pin_dir);
	if (err) {
		sl_error("sluice is not loaded in %s (%s): start it with `sluice run`", cli.pin_dir,
			 strerror(-err));
		return SL_EXIT_SYSTEM;
	}
	err = take_sample(&c);
	if (err) {
		sl_error("cannot read the maps: %s", strerror(-err));
		sl_maps_close(&c.maps);
		return SL_EXIT_SYSTEM;
	}

	/* No SA_RESTART: a signal wakes getch() and nanosleep() to stop. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	err = batch ? run_batch(&c) : run_curses(&c);

	if (c.prev.valid)
		sl_status_free(&c.prev.st);
	if (c.cur.valid)
		sl_status_free(&c.cur.st);
	sl_maps_close(&c.maps);
	return err ? SL_EXIT_SYSTEM : SL_EXIT_OK;
}
