/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `run --kubernetes`: list and watch Services, EndpointSlices, Pods,
 * VirtualServices and DestinationRules from the API server with the pod's
 * service account, keep them in memory, and hand them out as one YAML
 * stream that config.c reads exactly like files of the same objects.
 */
#ifndef SLUICE_KUBE_H
#define SLUICE_KUBE_H

#include <stdbool.h>
#include <stddef.h>

struct sl_kube;

/*
 * Where the API is and who we are, in-cluster: KUBERNETES_SERVICE_HOST/PORT
 * and /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}. Tests
 * (and out-of-cluster runs) override with SLUICE_KUBE_API (https://HOST:PORT),
 * SLUICE_KUBE_TOKEN_FILE and SLUICE_KUBE_CA_FILE. Starts one watcher thread
 * per kind; 0 or -errno (with the reason logged).
 */
int sl_kube_start(struct sl_kube **out);
void sl_kube_stop(struct sl_kube *k);

/* Readable (an eventfd) when the objects changed; sl_kube_ack() empties it. */
int sl_kube_fd(const struct sl_kube *k);
void sl_kube_ack(struct sl_kube *k);

/* Every kind has been listed at least once: the objects are a whole picture. */
bool sl_kube_synced(struct sl_kube *k);

/*
 * The objects now, as YAML documents (one JSON object per line, in a fixed
 * order: kind, then namespace/name), malloc'd; NULL without memory.
 */
char *sl_kube_render(struct sl_kube *k, size_t *len);

/* Counters for logs and tests: lists, watch (re)connects, 410 Gone, events. */
struct sl_kube_stats {
	unsigned long lists, watches, gone, events, errors;
};
void sl_kube_stats(struct sl_kube *k, struct sl_kube_stats *s);

#endif /* SLUICE_KUBE_H */
