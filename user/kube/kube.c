// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A small Kubernetes API client: for each kind, list (paged), then watch
 * from the list's resourceVersion with bookmarks; a watch that ends is
 * resumed from the last resourceVersion seen; 410 Gone (the version is too
 * old: as an HTTP status or as an ERROR event) means list again; any other
 * failure is retried with a backoff (0.5 s doubling to 30 s). A kind the
 * cluster does not serve (404: Istio not installed) counts as empty and is
 * listed again every 30 s.
 *
 * One thread per kind, blocking libcurl transfers; the objects live in one
 * store under a mutex, keyed "namespace/name", stripped of the metadata
 * that changes without changing anything sluice reads (resourceVersion,
 * managedFields...), so a re-list that finds the same objects renders the
 * same bytes and is not applied again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "config/config.h"
#include "kube/kube.h"
#include "kube/kube_event.h"
#include "lib/log.h"

#define SA_DIR	       "/var/run/secrets/kubernetes.io/serviceaccount"
#define WATCH_TIMEOUT  290 /* seconds; the API server's own cap is longer */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define ABSENT_MS      30000

enum { K_SERVICE, K_SLICE, K_POD, K_DR, K_VS, N_KINDS };

static const struct {
	const char *path; /* collection, all namespaces */
	const char *api_version;
	const char *kind;
} kinds[N_KINDS] = {
    [K_SERVICE] = {"/api/v1/services", "v1", "Service"},
    [K_SLICE] = {"/apis/discovery.k8s.io/v1/endpointslices", "discovery.k8s.io/v1",
		 "EndpointSlice"},
    [K_POD] = {"/api/v1/pods", "v1", "Pod"},
    [K_DR] = {"/apis/networking.istio.io/v1beta1/destinationrules", "networking.istio.io/v1beta1",
	      "DestinationRule"},
    [K_VS] = {"/apis/networking.istio.io/v1beta1/virtualservices", "networking.istio.io/v1beta1",
	      "VirtualService"},
};

struct watcher {
	struct sl_kube *k;
	int kind;
	pthread_t thread;
	bool started;
	char rv[128]; /* resourceVersion to watch from */
	/* the transfer in progress */
	char *body; /* a list's body; a watch's partial line */
	size_t len;
	bool gone; /* 410 seen: list again */
};

struct sl_kube {
	char api[512];
	char token_file[512];
	char ca_file[512];
	int efd;
	volatile bool stop;
	pthread_mutex_t lock;
	json_object *store[N_KINDS]; /* "ns/name" -> object */
	bool synced[N_KINDS];
	struct sl_kube_stats stats;
	struct watcher w[N_KINDS];
};

static void notify(struct sl_kube *k)
{
	uint64_t one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0)
		pr_debug("kubernetes: eventfd: %s\n", strerror(errno));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct watcher *w = arg;
	char *b = realloc(w->body, w->len + size * n + 1);

	if (!b)
		return 0;
	w->body = b;
	memcpy(w->body + w->len, data, size * n);
	w->len += size * n;
	w->body[w->len] = '\0';
	return size * n;
}

/* One watch event: {"type": ..., "object": {...}}. false: stop this watch. */
static bool on_event(struct watcher *w, const char *line, size_t len)
{
	struct sl_kube *k = w->k;
	struct sl_kube_event ev;
	bool changed;

	if (sl_kube_event_decode(line, len, &ev)) {
		pr_warn("kubernetes: %s: cannot parse a watch event; watching again\n",
			kinds[w->kind].kind);
		sl_kube_event_free(&ev);
		return false;
	}
	if (ev.type == SL_KUBE_EV_ERROR) {
		if (ev.code == 410)
			w->gone = true;
		pr_info("kubernetes: %s: watch error %d: %s\n", kinds[w->kind].kind, ev.code,
			ev.message);
		sl_kube_event_free(&ev);
		return false;
	}
	if (ev.rv)
		snprintf(w->rv, sizeof(w->rv), "%s", ev.rv);
	pthread_mutex_lock(&k->lock);
	k->stats.events++;
	changed = sl_kube_event_apply(k->store[w->kind], kinds[w->kind].api_version,
				      kinds[w->kind].kind, &ev);
	pthread_mutex_unlock(&k->lock);
	if (ev.type == SL_KUBE_EV_OTHER)
		pr_debug("kubernetes: %s: event %s ignored\n", kinds[w->kind].kind, ev.type_name);
	pr_debug("kubernetes: %s %s rv %s\n", kinds[w->kind].kind, ev.type_name, w->rv);
	if (changed)
		notify(k);
	sl_kube_event_free(&ev);
	return true;
}

static size_t on_watch_data(char *data, size_t size, size_t n, void *arg)
{
	struct watcher *w = arg;
	char *nl, *line;

	if (!on_body(data, size, n, arg))
		return 0;
	/* Events are one JSON object per line. */
	while ((nl = memchr(w->body, '\n', w->len))) {
		*nl = '\0';
		line = w->body;
		if (*line && !on_event(w, line, (size_t)(nl - line)))
			return 0; /* aborts the transfer */
		w->len -= (size_t)(nl + 1 - w->body);
		memmove(w->body, nl + 1, w->len + 1);
	}
	return size * n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return ((struct watcher *)arg)->k->stop;
}

/* GET url; the body goes to w->body (or to the watch parser). HTTP status, or -1. */
static long get(struct watcher *w, const char *url, bool watch, CURLcode *res)
{
	struct sl_kube *k = w->k;
	struct curl_slist *hdrs = NULL;
	char *token = NULL, auth[8192];
	size_t tlen = 0;
	long status = -1;
	CURL *c;

	free(w->body);
	w->body = NULL;
	w->len = 0;
	/* Re-read every time: the kubelet rotates projected tokens. */
	if (!sl_read_file(k->token_file, &token, &tlen)) {
		while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
			token[--tlen] = '\0';
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	free(token);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	c = curl_easy_init();
	if (!c) {
		curl_slist_free_all(hdrs);
		*res = CURLE_OUT_OF_MEMORY;
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch ? on_watch_data : on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	if (watch) {
		/*
		 * A connection silent for longer than the watch may last (a
		 * dead peer) is dropped.
		 */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)WATCH_TIMEOUT + 60);
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	}
	*res = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return status;
}

/* Sleep up to ms, waking early when stopping. */
static void nap(struct sl_kube *k, long ms)
{
	while (ms > 0 && !k->stop) {
		long step = ms < 100 ? ms : 100;

		nanosleep(&(struct timespec){.tv_nsec = step * 1000000L}, NULL);
		ms -= step;
	}
}

/* List every object of the kind into a new store; 0, -ENOENT (not served) or -EIO. */
static int list(struct watcher *w)
{
	struct sl_kube *k = w->k;
	json_object *store = json_object_new_object();
	char url[2048], cont[1024] = "";
	CURLcode res;
	long status;

	do {
		snprintf(url, sizeof(url), "%s%s?limit=500%s%s", k->api, kinds[w->kind].path,
			 cont[0] ? "&continue=" : "", cont);
		status = get(w, url, false, &res);
		if (res != CURLE_OK || status != 200) {
			if (status == 404) {
				json_object_put(store);
				return -ENOENT;
			}
			pr_warn("kubernetes: listing %s: %s\n", kinds[w->kind].path,
				res != CURLE_OK ? curl_easy_strerror(res) : "HTTP error");
			if (res == CURLE_OK)
				pr_warn("kubernetes: HTTP %ld: %.200s\n", status,
					w->body ? w->body : "");
			json_object_put(store);
			return -EIO;
		}
		if (sl_kube_list_decode(w->body ? w->body : "", w->len, kinds[w->kind].api_version,
					kinds[w->kind].kind, store, w->rv, sizeof(w->rv), cont,
					sizeof(cont))) {
			pr_warn("kubernetes: listing %s: not a list\n", kinds[w->kind].path);
			json_object_put(store);
			return -EIO;
		}
	} while (cont[0] && !k->stop);

	pthread_mutex_lock(&k->lock);
	json_object_put(k->store[w->kind]);
	k->store[w->kind] = store;
	k->synced[w->kind] = true;
	k->stats.lists++;
	pthread_mutex_unlock(&k->lock);
	pr_info("kubernetes: listed %zu %s(s) at resourceVersion %s\n",
		(size_t)json_object_object_length(store), kinds[w->kind].kind, w->rv);
	notify(k);
	return 0;
}

static void *watch_kind(void *arg)
{
	struct watcher *w = arg;
	struct sl_kube *k = w->k;
	long backoff = BACKOFF_MIN_MS, status;
	bool need_list = true, absent_said = false;
	char url[2048];
	CURLcode res;
	int err;

	while (!k->stop) {
		if (need_list) {
			err = list(w);
			if (err == -ENOENT) {
				/* Not served (no Istio): nothing of that kind, for now. */
				if (!absent_said)
					pr_info(
					    "kubernetes: %s is not served (404): none, for now\n",
					    kinds[w->kind].path);
				absent_said = true;
				pthread_mutex_lock(&k->lock);
				if (!k->synced[w->kind] ||
				    json_object_object_length(k->store[w->kind])) {
					json_object_put(k->store[w->kind]);
					k->store[w->kind] = json_object_new_object();
					k->synced[w->kind] = true;
					pthread_mutex_unlock(&k->lock);
					notify(k);
				} else {
					pthread_mutex_unlock(&k->lock);
				}
				nap(k, ABSENT_MS);
				continue;
			}
			if (err) {
				pthread_mutex_lock(&k->lock);
				k->stats.errors++;
				pthread_mutex_unlock(&k->lock);
				nap(k, backoff);
				backoff =
				    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			need_list = false;
			backoff = BACKOFF_MIN_MS;
		}
		snprintf(
		    url, sizeof(url),
		    "%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
		    k->api, kinds[w->kind].path, WATCH_TIMEOUT, w->rv);
		w->gone = false;
		pthread_mutex_lock(&k->lock);
		k->stats.watches++;
		pthread_mutex_unlock(&k->lock);
		status = get(w, url, true, &res);
		if (k->stop)
			break;
		if (w->gone || status == 410) {
			pr_info("kubernetes: %s: resourceVersion %s is gone (410): listing again\n",
				kinds[w->kind].kind, w->rv);
			pthread_mutex_lock(&k->lock);
			k->stats.gone++;
			pthread_mutex_unlock(&k->lock);
			need_list = true;
			continue;
		}
		if (res == CURLE_OK && status == 200) {
			/* the server ended the watch (timeoutSeconds): resume at once */
			pr_debug("kubernetes: %s: watch ended; resuming at %s\n",
				 kinds[w->kind].kind, w->rv);
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		pr_info("kubernetes: %s: watch dropped (%s, HTTP %ld); again in %ld ms from "
			"resourceVersion %s\n",
			kinds[w->kind].kind, curl_easy_strerror(res), status, backoff, w->rv);
		pthread_mutex_lock(&k->lock);
		k->stats.errors++;
		pthread_mutex_unlock(&k->lock);
		nap(k, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		/* Forbidden, unauthorized...: the list says it more clearly. */
		if (status >= 400)
			need_list = true;
	}
	free(w->body);
	w->body = NULL;
	return NULL;
}

static void env_or(char *buf, size_t len, const char *env, const char *dflt)
{
	const char *v = getenv(env);

	snprintf(buf, len, "%s", v && *v ? v : dflt);
}

int sl_kube_start(struct sl_kube **out)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	struct sl_kube *k;
	int i, err;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (getenv("SLUICE_KUBE_API") && *getenv("SLUICE_KUBE_API")) {
		env_or(k->api, sizeof(k->api), "SLUICE_KUBE_API", "");
	} else if (host && *host) {
		/* an IPv6 host needs brackets in a URL */
		snprintf(k->api, sizeof(k->api),
			 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
			 port && *port ? port : "443");
	} else {
		pr_warn("Error: --kubernetes: not in a cluster (no KUBERNETES_SERVICE_HOST) and no "
			"SLUICE_KUBE_API\n");
		free(k);
		return -EINVAL;
	}
	while (strlen(k->api) && k->api[strlen(k->api) - 1] == '/')
		k->api[strlen(k->api) - 1] = '\0';
	env_or(k->token_file, sizeof(k->token_file), "SLUICE_KUBE_TOKEN_FILE", SA_DIR "/token");
	env_or(k->ca_file, sizeof(k->ca_file), "SLUICE_KUBE_CA_FILE", SA_DIR "/ca.crt");
	if (access(k->ca_file, R_OK)) {
		err = -errno;
		pr_warn("Error: --kubernetes: cannot read the CA certificate %s: %s\n", k->ca_file,
			strerror(-err));
		free(k);
		return err;
	}
	if (access(k->token_file, R_OK))
		pr_warn("kubernetes: no token in %s: requests go unauthenticated\n", k->token_file);
	k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->efd < 0) {
		err = -errno;
		free(k);
		return err;
	}
	pthread_mutex_init(&k->lock, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < N_KINDS; i++)
		k->store[i] = json_object_new_object();
	pr_info("kubernetes: watching %s as the service account in %s\n", k->api, k->token_file);
	for (i = 0; i < N_KINDS; i++) {
		k->w[i].k = k;
		k->w[i].kind = i;
		err = -pthread_create(&k->w[i].thread, NULL, watch_kind, &k->w[i]);
		if (err) {
			sl_kube_stop(k);
			return err;
		}
		k->w[i].started = true;
	}
	*out = k;
	return 0;
}

void sl_kube_stop(struct sl_kube *k)
{
	int i;

	if (!k)
		return;
	k->stop = true;
	for (i = 0; i < N_KINDS; i++)
		if (k->w[i].started)
			pthread_join(k->w[i].thread, NULL);
	for (i = 0; i < N_KINDS; i++)
		json_object_put(k->store[i]);
	close(k->efd);
	pthread_mutex_destroy(&k->lock);
	curl_global_cleanup();
	free(k);
}

int sl_kube_fd(const struct sl_kube *k)
{
	return k->efd;
}

void sl_kube_ack(struct sl_kube *k)
{
	uint64_t n;

	while (read(k->efd, &n, sizeof(n)) == sizeof(n))
		;
}

bool sl_kube_synced(struct sl_kube *k)
{
	bool all = true;
	int i;

	pthread_mutex_lock(&k->lock);
	for (i = 0; i < N_KINDS; i++)
		all = all && k->synced[i];
	pthread_mutex_unlock(&k->lock);
	return all;
}

char *sl_kube_render(struct sl_kube *k, size_t *len)
{
	char *buf;

	pthread_mutex_lock(&k->lock);
	buf = sl_kube_render_stores(k->store, N_KINDS, len);
	pthread_mutex_unlock(&k->lock);
	return buf;
}

void sl_kube_stats(struct sl_kube *k, struct sl_kube_stats *s)
{
	pthread_mutex_lock(&k->lock);
	*s = k->stats;
	pthread_mutex_unlock(&k->lock);
}
