/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One line of a Kubernetes watch stream decoded, without the network or
 * the store (kube.c does those): pure, so tests/fuzz drives it with lines
 * nobody wrote. The server, or whatever answers in its place, decides every
 * byte: nothing is assumed about the JSON beyond what is checked.
 */
#ifndef SLUICE_KUBE_EVENT_H
#define SLUICE_KUBE_EVENT_H

#include <stddef.h>

#include <json-c/json.h>

enum sl_kube_ev {
	SL_KEV_BAD,	/* not an event ({"type": string, "object": object}) */
	SL_KEV_PUT,	/* ADDED or MODIFIED: text is the object, stripped */
	SL_KEV_DELETED, /* key is gone */
	SL_KEV_ERROR,	/* a Status object: code (410: list again) and msg */
	SL_KEV_OTHER,	/* BOOKMARK, or a type sluice does not act on */
};

struct sl_kube_event {
	enum sl_kube_ev what;
	char type[16];	/* the event's type as sent (truncated), for the log */
	char key[512];	/* "namespace/name" */
	char rv[128];	/* the object's resourceVersion; "" if it has none */
	char *text;	/* SL_KEV_PUT: malloc'd (strip.h); NULL without memory */
	size_t len;
	int code;	/* SL_KEV_ERROR */
	char msg[256];
};

/*
 * Decode the watch line (NUL-terminated) of an object of kind (e.g. "Pod")
 * in api_version into ev; ev->what says what it is. Free with
 * sl_kube_event_clear().
 */
void sl_kube_event_decode(const char *line, const char *api_version, const char *kind,
			  struct sl_kube_event *ev);
void sl_kube_event_clear(struct sl_kube_event *ev);

/* An object's store key, "namespace/name" ("" for what it lacks). */
void sl_kube_obj_key(json_object *obj, char *buf, size_t len);

#endif /* SLUICE_KUBE_EVENT_H */
