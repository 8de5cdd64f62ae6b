// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Hosts, as Istio reads them: which Service a VirtualService's or
 * DestinationRule's host, or a destination's, names; which Services a
 * wildcard covers; and Istio's own rule for what a host may look like
 * (ValidateWildcardDomain, pkg/config/validation/agent). Used by the
 * readers (the rule) and by k8s_build.c (the names); calls nothing but
 * libc.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/k8s_internal.h"

#define DNS1123_LABEL_MAX 63
#define DOMAIN_MAX	  255

/* [a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?, at most 63 long: Istio's labels.IsDNS1123Label. */
static bool dns_label(const char *s, size_t n)
{
	size_t i;

	if (!n || n > DNS1123_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool sl_k8s_dns_label(const char *s)
{
	return dns_label(s, strlen(s));
}

/* "*", or a label that may start with "*" or "*-": Istio's IsWildcardDNS1123Label. */
static bool wildcard_label(const char *s, size_t n)
{
	if (n == 1 && s[0] == '*')
		return true;
	if (n > DNS1123_LABEL_MAX)
		return false;
	if (n > 2 && s[0] == '*' && s[1] == '-')
		return dns_label(s + 2, n - 2);
	if (n > 1 && s[0] == '*')
		return dns_label(s + 1, n - 1);
	return dns_label(s, n);
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

bool sl_k8s_is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * Istio's ValidateWildcardDomain: a wildcard only in the first label, DNS
 * labels after it, a top-level domain that is not all digits, a trailing
 * dot allowed. NULL if valid, else why not (in buf).
 */
const char *sl_k8s_check_domain(const char *host, char *buf, size_t len)
{
	const char *p = host, *dot, *last;
	size_t n = strlen(host);

	if (n > DOMAIN_MAX) {
		snprintf(buf, len, "it is %zu characters long; a domain name has at most %d", n,
			 DOMAIN_MAX);
		return buf;
	}
	if (!n) {
		snprintf(buf, len, "it is empty");
		return buf;
	}
	dot = strchr(p, '.');
	if (!wildcard_label(p, dot ? (size_t)(dot - p) : n)) {
		snprintf(buf, len, "label '%.*s' is not a DNS label (or a wildcard one)",
			 (int)(dot ? dot - p : (long)n), p);
		return buf;
	}
	if (!dot)
		return NULL;
	last = strrchr(host, '.');
	/* the top-level domain: the last label, or the one before a trailing dot */
	if (!last[1]) {
		const char *q = last;

		while (q > dot && q[-1] != '.')
			q--;
		if (q < last && all_digits(q, last - q)) {
			snprintf(buf, len, "its top-level domain '%.*s' is all digits",
				 (int)(last - q), q);
			return buf;
		}
	} else if (all_digits(last + 1, strlen(last + 1))) {
		snprintf(buf, len, "its top-level domain '%s' is all digits", last + 1);
		return buf;
	}
	for (p = dot + 1; *p; p = dot + 1) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (!dns_label(p, n)) {
			snprintf(buf, len, "label '%.*s' is not a DNS label", (int)n, p);
			return buf;
		}
		if (!dot || !dot[1])
			break;
	}
	return NULL;
}

/* s ends with "." suffix (and has something before it). */
static bool ends_with_label(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx + 1 && !strcmp(s + ls - lx, suffix) && s[ls - lx - 1] == '.';
}

int sl_k8s_host_resolve(const char *host, const char *ns, struct khost_ref *ref)
{
	char buf[DOMAIN_MAX + 1], *dot;
	size_t n = strlen(host);
	bool suffix = false;

	memset(ref, 0, sizeof(*ref));
	if (n > DOMAIN_MAX) {
		ref->form = KH_EXTERNAL;
		return 0;
	}
	strcpy(buf, host);
	if (n && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (sl_k8s_is_ip(host)) {
		ref->form = KH_IP;
		snprintf(ref->fqdn, sizeof(ref->fqdn), "%s", host);
		return 0;
	}
	/*
	 * Istio's ResolveShortnameToFQDN: a name without a dot is completed
	 * with the rule's namespace and the cluster domain; anything with a
	 * dot is taken as written. "*" alone stays "*".
	 */
	if (!strchr(buf, '.') && strcmp(buf, "*"))
		snprintf(ref->fqdn, sizeof(ref->fqdn), "%s.%s.svc." SL_K8S_CLUSTER_DOMAIN, buf, ns);
	else
		snprintf(ref->fqdn, sizeof(ref->fqdn), "%s", buf);
	if (buf[0] == '*') {
		ref->form = KH_WILDCARD;
		return 0;
	}
	/*
	 * NAME (short), NAME.NAMESPACE, NAME.NAMESPACE.svc and
	 * NAME.NAMESPACE.svc.CLUSTER_DOMAIN: the names a pod's DNS search path
	 * gives a Service. NAME.NAMESPACE is also the shape of an external
	 * name (wikipedia.org): the caller decides by whether the Service is
	 * there.
	 */
	ref->form = KH_SERVICE;
	if (ends_with_label(buf, "svc." SL_K8S_CLUSTER_DOMAIN)) {
		buf[n - strlen(".svc." SL_K8S_CLUSTER_DOMAIN)] = '\0';
		ref->full = suffix = true;
	} else if (ends_with_label(buf, "svc")) {
		buf[n - strlen(".svc")] = '\0';
		suffix = true;
	} else if (strchr(buf, '.')) {
		ref->form = KH_NAME_NS;
	}
	dot = strchr(buf, '.');
	if ((ref->form == KH_NAME_NS || suffix) && !dot) {
		ref->form = KH_EXTERNAL; /* x.svc, x.svc.cluster.local: no namespace */
		return 0;
	}
	if (dot && strchr(dot + 1, '.')) {
		ref->form = KH_EXTERNAL;
		return 0;
	}
	if (dot)
		*dot = '\0';
	if (!dns_label(buf, strlen(buf)) || (dot && !dns_label(dot + 1, strlen(dot + 1)))) {
		ref->form = KH_EXTERNAL;
		return 0;
	}
	/* labels are at most 63 long */
	snprintf(ref->name, sizeof(ref->name), "%.63s", buf);
	snprintf(ref->ns, sizeof(ref->ns), "%.63s", dot ? dot + 1 : ns);
	return 0;
}

int sl_k8s_service_index(const struct sl_k8s *k, const char *name, const char *ns)
{
	size_t i;

	for (i = 0; i < k->n_svcs; i++)
		if (!strcmp(k->svcs[i].m.name, name) && !strcmp(k->svcs[i].m.ns, ns))
			return (int)i;
	return -1;
}

int sl_k8s_find_service(const struct sl_k8s *k, const char *host, const char *ns, char *why,
			size_t len)
{
	struct khost_ref ref;
	int si;

	sl_k8s_host_resolve(host, ns, &ref);
	switch (ref.form) {
	case KH_WILDCARD:
		snprintf(why, len, "a wildcard");
		return -2;
	case KH_IP:
		snprintf(why, len, "an IP address");
		return -2;
	case KH_EXTERNAL:
		snprintf(why, len, "a ServiceEntry or external host?");
		return -2;
	default:
		break;
	}
	si = sl_k8s_service_index(k, ref.name, ref.ns);
	if (si >= 0)
		return si;
	if (ref.form == KH_NAME_NS) {
		snprintf(why, len, "there is no Service %s in namespace %s: an external host?",
			 ref.name, ref.ns);
		return -2;
	}
	snprintf(why, len, "there is no Service %s in namespace %s", ref.name, ref.ns);
	return -1;
}

/* Istio's host.Name.Matches of a Service's full name against a wildcard (resolved). */
bool sl_k8s_wildcard_covers(const char *wild, const struct ksvc *svc)
{
	char fqdn[2 * DNS1123_LABEL_MAX + 32];
	size_t lf, lw = strlen(wild + 1);

	snprintf(fqdn, sizeof(fqdn), "%s.%s.svc." SL_K8S_CLUSTER_DOMAIN, svc->m.name, svc->m.ns);
	lf = strlen(fqdn);
	return lf >= lw && !strcmp(fqdn + lf - lw, wild + 1);
}

/* Istio's host.Name.Matches: equal, or one wildcard covers the other. */
bool sl_k8s_hosts_overlap(const char *a, const char *b)
{
	bool wa = a[0] == '*', wb = b[0] == '*';
	const char *lo, *sh;
	size_t ll, ls;

	if (!wa && !wb)
		return !strcmp(a, b);
	/* the suffix of the wildcard (of the shorter one when both are) ends the other */
	if (wa && wb) {
		lo = strlen(a) < strlen(b) ? b + 1 : a + 1;
		sh = strlen(a) < strlen(b) ? a + 1 : b + 1;
	} else {
		lo = wa ? b : a;
		sh = wa ? a + 1 : b + 1;
	}
	ll = strlen(lo);
	ls = strlen(sh);
	return ll >= ls && !strcmp(lo + ll - ls, sh);
}
