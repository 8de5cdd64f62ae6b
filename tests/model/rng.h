/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xorshift64*: fast, and one seed replays the same sequence. For the
 * frame generators of tests/model/test_model.c and tests/flood/synflood.c.
 */
#ifndef SLUICE_TESTS_RNG_H
#define SLUICE_TESTS_RNG_H

#include <stdint.h>

static uint64_t rng_state = 1;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ULL | 1;
}

static inline uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

#endif /* SLUICE_TESTS_RNG_H */
