/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes client's objects without the network (kube_event.c): a
 * watch event line or a list's items into the store of one kind, and the
 * stores rendered as the YAML stream config.c reads. kube.c does the
 * transfers, the threads and the locking; everything here is pure, so
 * tests/fuzz/fuzz_kube_event.c can feed it whatever a server might send.
 */
#ifndef SLUICE_KUBE_EVENT_H
#define SLUICE_KUBE_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Which of a watch's event types. */
enum sl_kube_ev {
	SL_KUBE_EV_ADDED = 0, /* ADDED and MODIFIED: the object as it is now */
	SL_KUBE_EV_DELETED,
	SL_KUBE_EV_BOOKMARK,
	SL_KUBE_EV_ERROR, /* a Status: the watch is over */
	SL_KUBE_EV_OTHER, /* a type this client does not know: ignored */
};

/* One line of a watch: {"type": "...", "object": {...}}. */
struct sl_kube_event {
	json_object *root; /* owns everything below */
	enum sl_kube_ev type;
	const char *type_name; /* as sent */
	json_object *obj;      /* the object, or the Status of an ERROR */
	const char *rv;	       /* the object's resourceVersion, or NULL */
	int code;	       /* ERROR: the Status's code, 0 without one */
	const char *message;   /* ERROR: the Status's message, "" without one */
};

/*
 * Decode one line. 0, or -EINVAL when it is not an event: not JSON, not an
 * object, "type" not a string or "object" not an object. Free with
 * sl_kube_event_free() either way.
 */
int sl_kube_event_decode(const char *line, size_t len, struct sl_kube_event *ev);
void sl_kube_event_free(struct sl_kube_event *ev);

/*
 * Apply an ADDED/MODIFIED or DELETED event to store (keyed "namespace/name",
 * objects of kind api_version/kind). True when the store changed.
 */
bool sl_kube_event_apply(json_object *store, const char *api_version, const char *kind,
			 const struct sl_kube_event *ev);

/*
 * A list's response body into a new store (*store), and its
 * resourceVersion and continue token (each "" without one). 0, or -EINVAL
 * when it is not a list (no "items" array); items that are not objects are
 * skipped.
 */
int sl_kube_list_decode(const char *body, size_t len, const char *api_version, const char *kind,
			json_object *store, char *rv, size_t rv_len, char *cont, size_t cont_len);

/*
 * The stores, each one JSON object per line ("--- {...}") in a fixed
 * order (store by store, then by key), malloc'd; NULL without memory.
 */
char *sl_kube_render_stores(json_object *const *stores, size_t n, size_t *len);

#endif /* SLUICE_KUBE_EVENT_H */
