// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes client's decoders (kube/kube_event.h), the way a watch
 * uses them, and what their output goes to. Each input line is one event
 * (or, for a line starting with 'L', a list's body) for the kind its
 * first digit names (0-4: Service, EndpointSlice, Pod, DestinationRule,
 * VirtualService; none: Service). Once every line is applied, the stores
 * are rendered and loaded as `run --kubernetes` does. Checked:
 *   - what decodes is an event of an object; what applies is in the store;
 *   - the rendered stream loads, and no object can get the whole stream
 *     rejected: an object is left out on its own, never the "File".
 */
#include <errno.h>
#include <string.h>

#include "config/config.h"
#include "config_check.h"
#include "fuzz.h"
#include "kube/kube_event.h"

static const struct {
	const char *api_version, *kind;
} kinds[] = {
    {"v1", "Service"},
    {"discovery.k8s.io/v1", "EndpointSlice"},
    {"v1", "Pod"},
    {"networking.istio.io/v1beta1", "DestinationRule"},
    {"networking.istio.io/v1beta1", "VirtualService"},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void one_line(json_object **stores, const char *line, size_t len)
{
	struct sl_kube_event ev;
	char rv[128], cont[1024];
	size_t k = 0;
	bool list = false;

	if (len && line[0] == 'L') {
		list = true;
		line++;
		len--;
	}
	if (len && line[0] >= '0' && line[0] < '0' + (int)N_KINDS) {
		k = line[0] - '0';
		line++;
		len--;
	}
	if (list) {
		json_object *store = json_object_new_object();

		if (!sl_kube_list_decode(line, len, kinds[k].api_version, kinds[k].kind, store, rv,
					 sizeof(rv), cont, sizeof(cont))) {
			FUZZ_CHECK(strlen(rv) < sizeof(rv) && strlen(cont) < sizeof(cont));
			json_object_put(stores[k]);
			stores[k] = store;
		} else {
			json_object_put(store);
		}
		return;
	}
	if (!sl_kube_event_decode(line, len, &ev)) {
		FUZZ_CHECK(json_object_is_type(ev.obj, json_type_object));
		FUZZ_CHECK(ev.type_name);
		FUZZ_CHECK(ev.type != SL_KUBE_EV_ERROR || ev.message);
		if (sl_kube_event_apply(stores[k], kinds[k].api_version, kinds[k].kind, &ev))
			FUZZ_CHECK(ev.type == SL_KUBE_EV_ADDED || ev.type == SL_KUBE_EV_DELETED);
	}
	sl_kube_event_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *stores[N_KINDS];
	const char *p = (const char *)data, *end = p + size, *nl;
	struct sl_config_buf b = {.name = "kubernetes"};
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	char *text;
	size_t i;
	int err;

	for (i = 0; i < N_KINDS; i++)
		stores[i] = json_object_new_object();
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		one_line(stores, p, nl - p);
	}
	text = sl_kube_render_stores(stores, N_KINDS, &b.len);
	FUZZ_CHECK(text);
	b.data = text;
	sl_diag_init(&diag);
	err = sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ISOLATE | SL_LOAD_ALLOW_EMPTY, &cfg,
				     &diag, NULL);
	fuzz_check_load(err, cfg, &diag);
	FUZZ_CHECK(!err);
	for (i = 0; i < cfg->n_rejected; i++)
		FUZZ_CHECK(strcmp(cfg->rejected[i].kind, "File"));
	sl_config_free(cfg);
	sl_diag_free(&diag);
	free(text);
	for (i = 0; i < N_KINDS; i++)
		json_object_put(stores[i]);
	return 0;
}
