// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A flood of TCP SYNs from random sources, for the SYN flood benchmark
 * (scripts/bench.sh section 7) and its smoke test (tests/e2e/test_syn_flood.sh).
 * Writes whole Ethernet frames to one interface with AF_PACKET (qdisc
 * bypassed, sendmmsg in batches), as fast as it can or at a given rate.
 * Every frame is a valid SYN (IPv4 and TCP checksums right, an MSS option)
 * from a random routable source address and port, so that it costs the
 * receiving stack what a real one costs: a backend answers each with a
 * SYN-ACK (or a cookie) that goes nowhere.
 *
 *   synflood -i IF -m DSTMAC -d DST -p PORT [-t SECONDS] [-r PPS] [-s SEED]
 *
 * Prints one JSON line: {"sent": N, "seconds": S, "pps": R}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../model/rng.h"

#define BATCH	  64
#define FRAME_LEN (14 + 20 + 24)

/*
 * A source that routes back through the flood's interface on the node
 * (its default route): no 0/8, 10/8 (the lab's own addresses), 127/8,
 * 169.254/16, 172.16/12, 192.168/16 or 224/3 (multicast and reserved,
 * which the kernel drops as martians before anyone could answer).
 */
static uint32_t random_source(void)
{
	uint32_t a;
	unsigned int o;

	for (;;) {
		a = rnd();
		o = a >> 24;
		if (o == 0 || o == 10 || o == 127 || o >= 224 || (a >> 16) == 0xa9fe ||
		    (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8)
			continue;
		return htonl(a);
	}
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const void *p, size_t n)
{
	const uint16_t *w = p;

	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	return s;
}

static void build(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t daddr,
		  uint16_t dport)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	uint32_t saddr = random_source(), s;
	uint16_t c;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + 24);
	*(uint16_t *)(ip + 4) = (uint16_t)rnd();
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	c = csum_fold(csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);

	memset(th, 0, 24);
	*(uint16_t *)th = htons(1024 + rnd() % 64512);
	*(uint16_t *)(th + 2) = dport;
	*(uint32_t *)(th + 4) = rnd();
	th[12] = 6 << 4;
	th[13] = 0x02; /* SYN */
	*(uint16_t *)(th + 14) = htons(64240);
	th[20] = 2; /* MSS 1460 */
	th[21] = 4;
	*(uint16_t *)(th + 22) = htons(1460);
	s = csum_add(0, ip + 12, 8);
	s += htons(IPPROTO_TCP) + htons(24);
	c = csum_fold(csum_add(s, th, 24));
	memcpy(th + 16, &c, 2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6
		   ? 0
		   : -1;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *dst = NULL;
	uint8_t dmac[6], smac[6], frames[BATCH][FRAME_LEN];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
	double secs = 5, rate = 0, t0, t;
	uint64_t sent = 0, seed = 1;
	uint16_t dport = htons(80);
	struct ifreq ifr = {0};
	struct in_addr daddr;
	int fd, opt, one = 1, i, n, have_mac = 0;

	while ((opt = getopt(argc, argv, "i:m:d:p:t:r:s:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'm':
			have_mac = !parse_mac(optarg, dmac);
			break;
		case 'd':
			dst = optarg;
			break;
		case 'p':
			dport = htons((uint16_t)atoi(optarg));
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (!ifname || !dst || !have_mac || inet_pton(AF_INET, dst, &daddr) != 1)
		goto usage;
	rng_seed(seed);

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("synflood: socket");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		perror("synflood: interface");
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFINDEX, &ifr)) {
		perror("synflood: interface");
		return 1;
	}
	sll.sll_ifindex = ifr.ifr_ifindex;
	/* straight to the driver: the flood measures the receiver, not our qdisc */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("synflood: bind");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		iov[i].iov_len = FRAME_LEN;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now();
	for (t = t0; t - t0 < secs; t = now()) {
		if (rate > 0 && sent > (t - t0) * rate) {
			usleep(100);
			continue;
		}
		for (i = 0; i < BATCH; i++)
			build(frames[i], dmac, smac, daddr.s_addr, dport);
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN) {
			perror("synflood: sendmmsg");
			return 1;
		}
		if (n > 0)
			sent += (uint64_t)n;
	}
	t = now() - t0;
	printf("{\"sent\": %llu, \"seconds\": %.3f, \"pps\": %.0f}\n", (unsigned long long)sent, t,
	       sent / t);
	close(fd);
	return 0;

usage:
	fprintf(stderr, "usage: synflood -i IF -m DSTMAC -d DST [-p PORT] [-t SECONDS] [-r PPS] "
			"[-s SEED]\n");
	return 2;
}
