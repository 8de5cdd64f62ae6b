// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Watch lines decoded (kube_event.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_event.h"
#include "kube/strip.h"

static const char *meta_str(json_object *obj, const char *key)
{
	json_object *md, *v;

	if (!json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_is_type(md, json_type_object) || !json_object_object_get_ex(md, key, &v))
		return NULL;
	return json_object_get_string(v);
}

void sl_kube_obj_key(json_object *obj, char *buf, size_t len)
{
	const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");

	snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
}

void sl_kube_event_decode(const char *line, const char *api_version, const char *kind,
			  struct sl_kube_event *ev)
{
	json_object *e = json_tokener_parse(line), *type, *obj, *code, *msg;
	const char *t, *rv;

	memset(ev, 0, sizeof(*ev));
	ev->what = SL_KEV_BAD;
	/* json-c asserts on an object call given another type: check first */
	if (!e || !json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    !json_object_object_get_ex(e, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object))
		goto out;
	t = json_object_get_string(type);
	snprintf(ev->type, sizeof(ev->type), "%s", t);
	if (!strcmp(t, "ERROR")) {
		/* a Status object: its message is top level, not in metadata */
		ev->what = SL_KEV_ERROR;
		if (json_object_object_get_ex(obj, "code", &code))
			ev->code = json_object_get_int(code);
		if (json_object_object_get_ex(obj, "message", &msg))
			snprintf(ev->msg, sizeof(ev->msg), "%s", json_object_get_string(msg) ?: "");
		goto out;
	}
	rv = meta_str(obj, "resourceVersion");
	snprintf(ev->rv, sizeof(ev->rv), "%s", rv ?: "");
	sl_kube_obj_key(obj, ev->key, sizeof(ev->key));
	if (!strcmp(t, "ADDED") || !strcmp(t, "MODIFIED")) {
		ev->what = SL_KEV_PUT;
		ev->text = sl_kube_strip(obj, api_version, kind, &ev->len);
	} else if (!strcmp(t, "DELETED")) {
		ev->what = SL_KEV_DELETED;
	} else {
		ev->what = SL_KEV_OTHER;
	}
out:
	json_object_put(e);
}

void sl_kube_event_clear(struct sl_kube_event *ev)
{
	free(ev->text);
	ev->text = NULL;
}
