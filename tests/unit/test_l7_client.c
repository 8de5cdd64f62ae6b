// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/l7/l7_client.c: the per-client connection counts behind
 * --l7-max-per-client. The limit holds per address and family, a slot
 * comes back with an address's last connection, and the table stays right
 * through growth and through deletions in the middle of probe chains
 * (checked against a plain array over thousands of random operations).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "l7/l7_client.h"

static struct sl_l7_tuple v4(uint32_t a)
{
	struct sl_l7_tuple t = {.family = SL_AF_INET};

	t.saddr[0] = a;
	return t;
}

static void test_limit_per_address(void **state)
{
	struct l7_clients cs;
	struct sl_l7_tuple a = v4(1), b = v4(2), a6 = a;
	int i;

	(void)state;
	a6.family = SL_AF_INET6;
	assert_int_equal(l7_clients_init(&cs, 4), 0);
	for (i = 0; i < 3; i++)
		assert_true(l7_clients_take(&cs, &a, 3));
	assert_false(l7_clients_take(&cs, &a, 3));
	/* another address, or the same bits in the other family: their own share */
	assert_true(l7_clients_take(&cs, &b, 3));
	assert_true(l7_clients_take(&cs, &a6, 3));
	assert_int_equal(l7_clients_count(&cs, &a), 3);
	/* one ends: room for one more */
	l7_clients_put(&cs, &a);
	assert_true(l7_clients_take(&cs, &a, 3));
	/* limit 0: counted, never refused (connections taken over) */
	assert_true(l7_clients_take(&cs, &a, 0));
	assert_int_equal(l7_clients_count(&cs, &a), 4);
	while (l7_clients_count(&cs, &a))
		l7_clients_put(&cs, &a);
	l7_clients_put(&cs, &b);
	l7_clients_put(&cs, &a6);
	assert_int_equal(cs.used, 0);
	l7_clients_free(&cs);
}

#define N_ADDR 3000

static void test_random_against_array(void **state)
{
	static uint32_t want[N_ADDR];
	struct l7_clients cs;
	size_t cap0;
	int i, k;

	(void)state;
	srand(12);
	memset(want, 0, sizeof(want));
	assert_int_equal(l7_clients_init(&cs, 16), 0);
	cap0 = cs.cap;
	for (i = 0; i < 200000; i++) {
		struct sl_l7_tuple t;

		k = rand() % N_ADDR;
		t = v4(0x0a000000 + k);
		if (rand() % 2) {
			bool ok = l7_clients_take(&cs, &t, 5);

			assert_int_equal(ok, want[k] < 5);
			want[k] += ok;
		} else if (want[k]) {
			l7_clients_put(&cs, &t);
			want[k]--;
		}
		if (i % 997 == 0)
			for (k = 0; k < N_ADDR; k++) {
				t = v4(0x0a000000 + k);
				assert_int_equal(l7_clients_count(&cs, &t), want[k]);
			}
	}
	assert_true(cs.cap > cap0);
	assert_true(2 * cs.used <= cs.cap);
	l7_clients_free(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit_per_address),
	    cmocka_unit_test(test_random_against_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
