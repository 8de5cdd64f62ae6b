// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes watch-event decoder (kube/kube_event.h), as the watch of
 * one kind calls it with a line the API server sent. The first byte of the
 * input picks the kind (Service, EndpointSlice, Pod, DestinationRule,
 * VirtualService); the rest is the line. Checked, for an object that is
 * stored: its text is one line of printable ASCII, and rendered next to a
 * good Service as run renders the store, it leaves that Service loaded
 * (an isolated load: whatever is wrong with the object is left out with
 * it, never the stream). That is the property whose failure once left out
 * every object of a cluster for one label with a DEL in it.
 */
#include <stdbool.h>
#include <string.h>

#include "config/config.h"
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

#define GOOD_NS "sluice-fuzz-good"
static const char good[] =
    "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"good\", "
    "\"namespace\": \"" GOOD_NS "\"}, \"spec\": {\"clusterIP\": \"10.96.99.99\", "
    "\"selector\": {\"app\": \"good\"}, \"ports\": [{\"name\": \"http\", \"port\": 80}]}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void check_rendered(const char *text, size_t len)
{
	struct sl_config_buf b = {.name = "kubernetes"};
	struct sl_config *cfg = NULL;
	struct sl_diag diag;
	char *stream;
	size_t i, n;
	int err;

	for (i = 0; i < len; i++)
		FUZZ_CHECK(text[i] >= 0x20 && text[i] < 0x7f);
	/* the fuzzer may name the good Service's namespace too: no property then */
	if (memmem(text, len, GOOD_NS, strlen(GOOD_NS)))
		return;
	n = len + sizeof(good) + 16;
	stream = malloc(n);
	if (!stream)
		return;
	b.len = (size_t)snprintf(stream, n, "--- %.*s\n--- %s\n", (int)len, text, good);
	b.data = stream;
	sl_diag_init(&diag);
	err = sl_config_load_sources(NULL, 0, &b, 1, SL_LOAD_ISOLATE | SL_LOAD_ALLOW_EMPTY, &cfg,
				     &diag, NULL);
	FUZZ_CHECK(err == 0 && cfg);
	for (i = 0; i < cfg->n_rejected; i++)
		FUZZ_CHECK(strcmp(cfg->rejected[i].ns, GOOD_NS) && strcmp(cfg->rejected[i].kind, "File"));
	sl_config_free(cfg);
	sl_diag_free(&diag);
	free(stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_kube_event ev;
	char *line;
	size_t k;

	if (size < 1)
		return 0;
	k = data[0] % (sizeof(kinds) / sizeof(kinds[0]));
	line = strndup((const char *)data + 1, size - 1);
	if (!line)
		return 0;
	sl_kube_event_decode(line, kinds[k].api_version, kinds[k].kind, &ev);
	FUZZ_CHECK(ev.what >= SL_KEV_BAD && ev.what <= SL_KEV_OTHER);
	FUZZ_CHECK(memchr(ev.key, 0, sizeof(ev.key)) && memchr(ev.rv, 0, sizeof(ev.rv)));
	if (ev.what == SL_KEV_PUT && ev.text)
		check_rendered(ev.text, ev.len);
	sl_kube_event_clear(&ev);
	free(line);
	return 0;
}
