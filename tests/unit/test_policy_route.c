// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/datapath/policy_route.c against the real kernel: install, query and remove
 * the fwmark rule and the local route, checked both through the module and
 * through `ip` (a second opinion that does not share our netlink code), and
 * a marked packet actually delivered to a transparent socket.
 *
 * Needs root. main() first moves the whole process into a network namespace
 * of its own, so the host's rules are never touched even if a test goes
 * wrong; each test then runs in a further fresh namespace (setup) and comes
 * back (teardown), which drops that namespace and everything in it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "datapath/policy_route.h"

#define IP_BIN "/usr/sbin/ip"

#define RULE_LINE  "92:\tfrom all fwmark 0x5c0000/0xff0000 lookup 1473"
#define ROUTE_LINE "local default dev lo"

/* The namespace main() made: every test's own one is left for this one. */
static int base_ns = -1;

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

static int setup(void **state)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	return lo_up() ? -1 : 0;
}

static int teardown(void **state)
{
	if (setns(base_ns, CLONE_NEWNET)) {
		fprintf(stderr, "setns: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Run `ip ARGS...` (no shell), its stdout into out. Returns its exit
 * status, or -1 when it could not run or did not exit.
 */
static int run_ip(char *out, size_t len, const char *const args[])
{
	const char *argv[16] = {"ip"};
	int pipefd[2], status, devnull, i;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	for (i = 0; args[i]; i++) {
		assert_true(i + 2 < (int)(sizeof(argv) / sizeof(argv[0])));
		argv[i + 1] = args[i];
	}
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (!pid) {
		dup2(pipefd[1], STDOUT_FILENO);
		/* Its errors (a table never used) are expected and only noise. */
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execv(IP_BIN, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < len) {
		n = read(pipefd[0], out + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define IP(out, ...) run_ip(out, sizeof(out), (const char *const[]){__VA_ARGS__, NULL})

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* How many of ours `ip` lists, per family: rules, then routes. */
static void ip_counts(int *rule4, int *rule6, int *route4, int *route6)
{
	char out[8192];

	assert_int_equal(IP(out, "-4", "rule", "show"), 0);
	*rule4 = count(out, RULE_LINE);
	assert_int_equal(IP(out, "-6", "rule", "show"), 0);
	*rule6 = count(out, RULE_LINE);
	/* A table never used is an error for `ip route show table`. */
	*route4 = IP(out, "-4", "route", "show", "table", "1473") ? 0 : count(out, ROUTE_LINE);
	*route6 = IP(out, "-6", "route", "show", "table", "1473") ? 0 : count(out, ROUTE_LINE);
}

static void assert_state(bool rule4, bool route4, bool rule6, bool route6)
{
	struct sl_policy_route st;
	char buf[160];

	assert_int_equal(sl_policy_route_query(&st), 0);
	if (st.rule4 != rule4 || st.route4 != route4 || st.rule6 != rule6 || st.route6 != route6)
		fail_msg("want %d%d%d%d, have %s", rule4, route4, rule6, route6,
			 sl_policy_route_str(&st, buf, sizeof(buf)));
}

static void assert_ip_counts(int rule4, int route4, int rule6, int route6)
{
	int r4, r6, t4, t6;

	ip_counts(&r4, &r6, &t4, &t6);
	assert_int_equal(r4, rule4);
	assert_int_equal(t4, route4);
	assert_int_equal(r6, rule6);
	assert_int_equal(t6, route6);
}

static void test_clean_netns_has_none(void **state)
{
	assert_state(false, false, false, false);
	assert_ip_counts(0, 0, 0, 0);
}

static void test_install_adds_all_four(void **state)
{
	char out[8192];

	assert_int_equal(sl_policy_route_install(), 0);
	assert_state(true, true, true, true);
	assert_ip_counts(1, 1, 1, 1);

	/* What an operator sees: the documented protocol and scope. */
	assert_int_equal(IP(out, "-4", "rule", "show"), 0);
	assert_non_null(strstr(out, RULE_LINE " proto static"));
	assert_int_equal(IP(out, "-4", "route", "show", "table", "1473"), 0);
	assert_non_null(strstr(out, "local default dev lo proto static scope host"));
	assert_int_equal(IP(out, "-6", "route", "show", "table", "1473"), 0);
	assert_non_null(strstr(out, "local default dev lo proto static"));
}

static void test_install_twice_is_idempotent(void **state)
{
	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(sl_policy_route_install(), 0);
	assert_state(true, true, true, true);
	assert_ip_counts(1, 1, 1, 1);
}

static void test_install_adds_only_what_is_missing(void **state)
{
	char out[256];

	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(
	    IP(out, "-4", "route", "del", "local", "default", "dev", "lo", "table", "1473"), 0);
	assert_int_equal(IP(out, "-6", "rule", "del", "fwmark", "0x5c0000/0xff0000", "lookup",
			    "1473", "pref", "92"),
			 0);
	assert_state(true, false, false, true);

	assert_int_equal(sl_policy_route_install(), 0);
	assert_state(true, true, true, true);
	assert_ip_counts(1, 1, 1, 1);
}

/* The same recipe typed by hand (no protocol) counts as ours, once. */
static void test_hand_made_recipe_counts(void **state)
{
	char out[256];

	assert_int_equal(IP(out, "-4", "rule", "add", "fwmark", "0x5c0000/0xff0000", "lookup",
			    "1473", "pref", "92"),
			 0);
	assert_int_equal(
	    IP(out, "-4", "route", "add", "local", "default", "dev", "lo", "table", "1473"), 0);
	assert_state(true, true, false, false);

	assert_int_equal(sl_policy_route_install(), 0);
	assert_ip_counts(1, 1, 1, 1);

	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
	assert_ip_counts(0, 0, 0, 0);
}

static void test_remove(void **state)
{
	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
	assert_ip_counts(0, 0, 0, 0);
	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
}

static void test_remove_in_clean_netns(void **state)
{
	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
}

/* Duplicates (an old iproute2 added without NLM_F_EXCL) all go. */
static void test_remove_takes_duplicates(void **state)
{
	char out[256];

	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(IP(out, "-4", "rule", "add", "fwmark", "0x5c0000/0xff0000", "lookup",
			    "1473", "pref", "92", "protocol", "kernel"),
			 0);
	assert_int_equal(IP(out, "-6", "route", "add", "local", "default", "dev", "lo", "table",
			    "1473", "metric", "2000"),
			 0);
	assert_ip_counts(2, 1, 1, 2);

	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
	assert_ip_counts(0, 0, 0, 0);
}

static void test_remove_leaves_foreign_rules(void **state)
{
	static const char *const fams[] = {"-4", "-6"};
	char out[8192];
	int i;

	assert_int_equal(sl_policy_route_install(), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(IP(out, fams[i], "rule", "add", "fwmark", "0x1/0xff", "lookup",
				    "100", "pref", "1000"),
				 0);
		/* Ours but for the priority: not ours. */
		assert_int_equal(IP(out, fams[i], "rule", "add", "fwmark", "0x5c0000/0xff0000",
				    "lookup", "1473", "pref", "93"),
				 0);
	}
	assert_int_equal(
	    IP(out, "-4", "route", "add", "local", "default", "dev", "lo", "table", "100"), 0);

	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
	for (i = 0; i < 2; i++) {
		assert_int_equal(IP(out, fams[i], "rule", "show"), 0);
		assert_int_equal(count(out, "1000:\tfrom all fwmark 0x1/0xff lookup 100"), 1);
		assert_int_equal(count(out, "93:\tfrom all fwmark 0x5c0000/0xff0000 lookup 1473"),
				 1);
		assert_int_equal(count(out, RULE_LINE), 0);
	}
	assert_int_equal(IP(out, "-4", "route", "show", "table", "100"), 0);
	assert_int_equal(count(out, ROUTE_LINE), 1);
}

/*
 * The same rule narrowed by iif is not ours, and is left alone: a delete
 * that names our protocol cannot take it.
 */
static void test_narrower_rule_is_not_ours(void **state)
{
	char out[8192];

	assert_int_equal(IP(out, "-4", "rule", "add", "iif", "lo", "fwmark", "0x5c0000/0xff0000",
			    "lookup", "1473", "pref", "92"),
			 0);
	assert_state(false, false, false, false);

	assert_int_equal(sl_policy_route_install(), 0);
	assert_state(true, true, true, true);

	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
	assert_int_equal(IP(out, "-4", "rule", "show"), 0);
	assert_int_equal(count(out, "92:\tfrom all fwmark 0x5c0000/0xff0000 iif lo lookup 1473"),
			 1);
}

/*
 * With our protocol too and listed first, it is what the kernel would
 * delete for ours: remove refuses, for that family only.
 */
static void test_remove_refuses_ambiguous_delete(void **state)
{
	char out[256];

	assert_int_equal(IP(out, "-4", "rule", "add", "iif", "lo", "fwmark", "0x5c0000/0xff0000",
			    "lookup", "1473", "pref", "92", "protocol", "static"),
			 0);
	assert_int_equal(sl_policy_route_install(), 0);

	assert_int_equal(sl_policy_route_remove(), -EBUSY);
	assert_state(true, true, false, false);

	assert_int_equal(IP(out, "-4", "rule", "del", "iif", "lo", "fwmark", "0x5c0000/0xff0000",
			    "lookup", "1473", "pref", "92"),
			 0);
	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
}

/*
 * Something else at 0.0.0.0/0 in the table: install says so, and takes
 * back its rule rather than send marked packets into that route.
 */
static void test_foreign_route_in_the_way(void **state)
{
	char out[256];

	assert_int_equal(IP(out, "-4", "route", "add", "unreachable", "default", "table", "1473"),
			 0);
	assert_int_equal(sl_policy_route_install(), -EEXIST);
	assert_state(false, false, false, false);
	assert_ip_counts(0, 0, 0, 0);
}

/*
 * Rules that send other packets to our table: the local route would make
 * those local (all unmarked traffic, for "not fwmark"). Nothing is added.
 * "not fwmark" at our priority is also what the kernel calls the same rule
 * as ours when it says EEXIST.
 */
static void test_unsafe_rule_in_the_way(void **state)
{
	static const char *const rules[][8] = {
	    {"not", "fwmark", "0x5c0000/0xff0000", "pref", "92"},
	    {"fwmark", "0x5c/0xff", "pref", "200"},
	    {"fwmark", "0x5c0000/0xf00000", "pref", "200"},
	    {"from", "all", "pref", "300"},
	};
	const char *argv[16];
	char out[256];
	int i, j, n;

	for (i = 0; i < (int)(sizeof(rules) / sizeof(rules[0])); i++) {
		n = 0;
		argv[n++] = "-4";
		argv[n++] = "rule";
		argv[n++] = "add";
		for (j = 0; rules[i][j]; j++)
			argv[n++] = rules[i][j];
		argv[n++] = "lookup";
		argv[n++] = "1473";
		argv[n] = NULL;
		assert_int_equal(run_ip(out, sizeof(out), argv), 0);

		assert_int_equal(sl_policy_route_install(), -EEXIST);
		assert_state(false, false, false, false);
		assert_ip_counts(0, 0, 0, 0);

		argv[2] = "del";
		assert_int_equal(run_ip(out, sizeof(out), argv), 0);
	}
	assert_int_equal(sl_policy_route_install(), 0);
	assert_state(true, true, true, true);
}

/*
 * The route is there, and "not fwmark" with our protocol at our priority:
 * the kernel calls that the same rule as ours (its comparison ignores the
 * flags) and says EEXIST, which is checked, not believed.
 */
static void test_rule_eexist_is_checked(void **state)
{
	char out[256];

	assert_int_equal(
	    IP(out, "-4", "route", "add", "local", "default", "dev", "lo", "table", "1473"), 0);
	assert_int_equal(IP(out, "-4", "rule", "add", "not", "fwmark", "0x5c0000/0xff0000",
			    "lookup", "1473", "pref", "92", "protocol", "static"),
			 0);
	assert_int_equal(sl_policy_route_install(), -EEXIST);
	assert_state(false, true, false, false);
}

static int write_file(const char *path, const char *s)
{
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	close(fd);
	return err;
}

static void test_ipv6_disabled_on_lo(void **state)
{
	struct sl_policy_route st;
	char buf[160];

	if (write_file("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1"))
		skip();
	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(sl_policy_route_query(&st), 0);
	assert_string_equal(sl_policy_route_str(&st, buf, sizeof(buf)),
			    "fwmark 0x5c0000/0xff0000 -> table 1473 (local): ipv4 rule+route, "
			    "ipv6 missing");
	/* The IPv6 rule was taken back when its route could not follow. */
	assert_ip_counts(1, 1, 0, 0);
	assert_int_equal(sl_policy_route_remove(), 0);
	assert_state(false, false, false, false);
}

static void test_str(void **state)
{
	struct sl_policy_route st = {.rule4 = true, .route4 = true, .rule6 = true, .route6 = true};
	char buf[160], small[16];

	assert_string_equal(sl_policy_route_str(&st, buf, sizeof(buf)),
			    "fwmark 0x5c0000/0xff0000 -> table 1473 (local): ipv4 rule+route, "
			    "ipv6 rule+route");
	st = (struct sl_policy_route){.rule4 = true, .route6 = true};
	assert_string_equal(sl_policy_route_str(&st, buf, sizeof(buf)),
			    "fwmark 0x5c0000/0xff0000 -> table 1473 (local): ipv4 rule only "
			    "(route missing), ipv6 route only (rule missing)");
	st = (struct sl_policy_route){};
	assert_string_equal(sl_policy_route_str(&st, buf, sizeof(buf)),
			    "fwmark 0x5c0000/0xff0000 -> table 1473 (local): ipv4 missing, "
			    "ipv6 missing");
	assert_ptr_equal(sl_policy_route_str(&st, small, sizeof(small)), small);
	assert_string_equal(small, "fwmark 0x5c0000");
}

/*
 * A marked datagram to an address this namespace does not have reaches a
 * transparent socket bound to it: rule -> table 1473 -> local -> lo. Without
 * the mark (and before install) there is no route at all.
 */
static void send_marked(int family, const struct sockaddr *dst, socklen_t dlen)
{
	int rx, tx, one = 1, mark = SL_L7_FWMARK, lvl, opt;
	struct pollfd pfd;
	char buf[16];

	lvl = family == AF_INET ? SOL_IP : SOL_IPV6;
	opt = family == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT;
	rx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx >= 0);
	assert_int_equal(setsockopt(rx, lvl, opt, &one, sizeof(one)), 0);
	assert_int_equal(bind(rx, dst, dlen), 0);

	tx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(tx >= 0);

	assert_int_equal(sendto(tx, "x", 1, 0, dst, dlen), -1);
	assert_int_equal(errno, ENETUNREACH);
	assert_int_equal(setsockopt(tx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
	assert_int_equal(sendto(tx, "x", 1, 0, dst, dlen), -1);
	assert_int_equal(errno, ENETUNREACH);

	assert_int_equal(sl_policy_route_install(), 0);
	assert_int_equal(sendto(tx, "marked", 6, 0, dst, dlen), 6);
	pfd = (struct pollfd){.fd = rx, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), 6);
	assert_memory_equal(buf, "marked", 6);

	mark = 0x1c0000; /* another value under the mask */
	assert_int_equal(setsockopt(tx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
	assert_int_equal(sendto(tx, "x", 1, 0, dst, dlen), -1);
	assert_int_equal(errno, ENETUNREACH);

	close(tx);
	close(rx);
}

static void test_marked_packet_delivered_v4(void **state)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};

	inet_pton(AF_INET, "198.51.100.1", &dst.sin_addr);
	send_marked(AF_INET, (struct sockaddr *)&dst, sizeof(dst));
}

static void test_marked_packet_delivered_v6(void **state)
{
	struct sockaddr_in6 dst = {.sin6_family = AF_INET6, .sin6_port = htons(9)};

	inet_pton(AF_INET6, "2001:db8::1", &dst.sin6_addr);
	send_marked(AF_INET6, (struct sockaddr *)&dst, sizeof(dst));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_clean_netns_has_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_adds_all_four, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_twice_is_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_adds_only_what_is_missing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hand_made_recipe_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_in_clean_netns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_takes_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_leaves_foreign_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_narrower_rule_is_not_ours, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_refuses_ambiguous_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_route_in_the_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsafe_rule_in_the_way, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_eexist_is_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_disabled_on_lo, setup, teardown),
	    cmocka_unit_test(test_str),
	    cmocka_unit_test_setup_teardown(test_marked_packet_delivered_v4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_marked_packet_delivered_v6, setup, teardown),
	};

	if (geteuid()) {
		fprintf(stderr, "test_policy_route: must run as root (network namespaces)\n");
		return 2;
	}
	if (access(IP_BIN, X_OK)) {
		fprintf(stderr, "test_policy_route: %s: %s\n", IP_BIN, strerror(errno));
		return 2;
	}
	/* Never the host's namespace, whatever happens below. */
	if (unshare(CLONE_NEWNET) || lo_up()) {
		fprintf(stderr, "test_policy_route: own network namespace: %s\n", strerror(errno));
		return 2;
	}
	base_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (base_ns < 0) {
		fprintf(stderr, "test_policy_route: /proc/self/ns/net: %s\n", strerror(errno));
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
