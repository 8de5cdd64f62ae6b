/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluice ABI: every struct, limit and name that crosses the kernel/user
 * boundary. Included by the BPF programs and by the loader; nothing here is
 * declared anywhere else.
 *
 * Byte order: addresses and ports are kept in network order, as they sit in
 * the packet (bpftool prints them as host integers: port 80 shows as 20480).
 * IPv4 addresses use addr[0] and leave addr[1..3] zero.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/* Limits. */
#define SL_MAX_SUBSETS	    8	    /* subsets (versions) per service */
#define SL_MAX_ROUTES	    8	    /* routes per service */
/*
 * The table sizes below are the most `run --max-services` may ask for, and
 * its default; a smaller N sizes every table from it at load (keys and
 * endpoints 4N per slot, N counter rows) and writers read the sizes back
 * from the maps (struct sl_maps).
 */
#define SL_MAX_SERVICES	    65536   /* (VIP, port, proto) keys per table slot */
#define SL_MAX_ENDPOINTS    (4 * SL_MAX_SERVICES)  /* endpoints per table slot */
#define SL_MAX_SUBSET_IDS   SL_MAX_SERVICES	    /* stable subset ids (counter rows, per CPU) */
#define SL_MIN_SERVICES	    64	    /* the smallest --max-services */
#define SL_MAX_SRC_PREFIXES 65536   /* source-match prefixes per slot */
#define SL_CT_SIZE	    262144  /* confirmed connections (default; `run --ct-max`) */
#define SL_CT_NEW_MIN	    1024    /* unconfirmed connections: ct-max / 4, at least this */
#define SL_CT_NEW_OF(max)   ((max) / 4 > SL_CT_NEW_MIN ? (max) / 4 : SL_CT_NEW_MIN)
#define SL_MAX_WEIGHT	    1000000 /* keeps weight sums far from u32 overflow */
#define SL_NAME_LEN	    64	    /* service name, NUL included */
#define SL_FILTER_WORDS	    4096    /* 2^18 bits in each address filter */
#define SL_SUBSET_NAME_LEN  32	    /* subset name, NUL included */
#define SL_L7_SPEC_LEN	    2048    /* one route's HTTP match, as text */
#define SL_MAX_L7_SPECS	    4096    /* distinct HTTP matches in force */
#define SL_MAX_IFACES	    16384   /* interfaces sluice is attached to (sl_ifaces) */

/*
 * Configuration tables are double-buffered: every table a new connection
 * reads is keyed (or indexed) by a slot, 0 or 1. The loader writes the
 * inactive slot, flips sl_state.active_slot in one 4-byte store, waits for
 * an RCU grace period and only then may touch the old slot again. A packet
 * reads active_slot once, so it sees one whole configuration or the other.
 */
#define SL_SLOTS 2

/* Pinned names (map and program names as the kernel shows them). */
#define SL_PIN_DIR_DEFAULT "/sys/fs/bpf/sluice"
#define SL_MAP_STATE	   "sl_state"
#define SL_MAP_IFACES	   "sl_ifaces"
#define SL_MAP_SOCK_LB	   "sl_sock_lb"
#define SL_MAP_SERVICES	   "sl_services"
#define SL_MAP_ENDPOINTS   "sl_endpoints"
#define SL_MAP_SRC_MATCH   "sl_src_match"
#define SL_MAP_CONNTRACK   "sl_conntrack"
#define SL_MAP_REVNAT	   "sl_revnat"
#define SL_MAP_CT_NEW	   "sl_ct_new"
#define SL_MAP_REVNAT_NEW  "sl_revnat_new"
#define SL_MAP_SVC_INDEX   "sl_svc_index"
#define SL_MAP_STATS	   "sl_stats"
#define SL_MAP_GLOBAL	   "sl_global"
#define SL_MAP_SUBSETS	   "sl_subset_names"
#define SL_MAP_SVC_NAMES   "sl_svc_names"
#define SL_MAP_VIP_FILTER  "sl_vip_filter"
#define SL_MAP_BE_FILTER   "sl_be_filter"
#define SL_MAP_HTTP_CODES  "sl_http_codes"
#define SL_MAP_RCU	   "sl_rcu_barrier"
#define SL_MAP_L7_LISTEN   "sl_l7_listen"
#define SL_MAP_L7_SPECS	   "sl_l7_specs"
#define SL_MAP_L7_STATS	   "sl_l7_stats"
#define SL_MAP_L7_CODES	   "sl_l7_codes"
#define SL_MAP_L7_COUNT	   "sl_l7_counters"
#define SL_PROG_INGRESS	   "sl_ingress"
#define SL_PROG_EGRESS	   "sl_egress"
#define SL_PROG_L7_LOOKUP  "sl_l7_lookup"
#define SL_LINK_L7_LOOKUP  "sl_l7_lookup_link" /* the sk_lookup link, pinned */

enum sl_family {
	SL_AF_INET = 4,
	SL_AF_INET6 = 6,
};

/* sl_state: ARRAY of one. */
struct sl_state {
	__u32 active_slot;   /* 0 or 1 */
	__u32 hash_seed;     /* random per fresh load, kept across restarts */
	__u64 generation;    /* bumped on every flip, for status */
	__u64 applied_ns;    /* CLOCK_REALTIME of the last flip */
	__u64 config_digest; /* of the last config file applied (FNV-1a) */
	/*
	 * What the running datapath was loaded with (struct sl_dp_cfg), for
	 * `status` and `down`, which have no `run` flags to go by.
	 */
	__u32 l7_mark;
	__u32 l7_mark_mask;
	__u32 l7_table;
	__u32 ct_max;
};
_Static_assert(sizeof(struct sl_state) == 48, "sl_state size");

/* sl_services: HASH, one entry per (slot, VIP, port, protocol). */
struct sl_svc_key {
	__u32 slot;
	__be32 addr[4];
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* enum sl_family */
};
_Static_assert(sizeof(struct sl_svc_key) == 24, "sl_svc_key size");

/*
 * sl_svc_index: HASH, the (VIP, port) keys of each service by name, so a
 * writer that changes one service (`sluice weights`) finds its entries
 * without reading the whole table. Written by apply; the programs never
 * read it. Its values are sl_svc_keys with slot 0.
 */
struct sl_svc_ref {
	char name[SL_NAME_LEN];
	__u32 idx; /* 0 .. the service's keys - 1 */
};
_Static_assert(sizeof(struct sl_svc_ref) == SL_NAME_LEN + 4, "sl_svc_ref size");

/* sl_service.flags */
#define SL_SVC_AFFINITY_CLIENT_IP (1U << 0) /* hash the client address only */
#define SL_SVC_SRC_MATCH	  (1U << 1) /* some route matches on source */
#define SL_SVC_L7		  (1U << 2) /* TCP: through the L7 step (docs/l7.md) */
/*
 * Why SL_SVC_L7, when no route matches on the HTTP request: the port is
 * declared HTTP/2 or gRPC, or the service opted in to per-request splits.
 */
#define SL_SVC_L7_HTTP2	      (1U << 3)
#define SL_SVC_L7_GRPC	      (1U << 4)
#define SL_SVC_L7_PER_REQUEST (1U << 5)
/*
 * Declared not HTTP (Kubernetes: tcp, tls, https, mongo, mysql, redis...,
 * Istio's protocol selection): replies are not read for a status line, so
 * TLS and database traffic pay no read per segment (bpf/http.h).
 */
#define SL_SVC_NO_HTTP (1U << 6)

/* sl_route.flags */
#define SL_ROUTE_MATCH_CIDR   (1U << 0) /* route needs a sourceCIDRs hit */
#define SL_ROUTE_MATCH_LABELS (1U << 1) /* route needs a sourceLabels hit */
#define SL_ROUTE_OVERRIDDEN   (1U << 2) /* weights set by `sluice weights` */
#define SL_ROUTE_MATCH_DST    (1U << 3) /* matches on port or destination subnet */
#define SL_ROUTE_SKIP	      (1U << 4) /* ...which this VIP and port do not meet */
#define SL_ROUTE_NEEDS_L7     (1U << 5) /* matches on the HTTP request: the kernel skips it */

struct sl_route {
	__u32 flags;
	__u32 total_weight; /* sum of weight[]; 0 means nothing to pick */
	/*
	 * SL_ROUTE_NEEDS_L7 only: key of the route's HTTP match in
	 * sl_l7_specs (a digest of its text), 0 when it matches on something
	 * sluice cannot evaluate (then it never matches).
	 */
	__u32 l7_spec;
	__u32 pad;
	__u32 weight[SL_MAX_SUBSETS]; /* by the service's subset index */
};
_Static_assert(sizeof(struct sl_route) == 48, "sl_route size");

struct sl_service {
	__u32 svc_id;	    /* stable id, row in sl_svc_names */
	__u32 flags;	    /* SL_SVC_* */
	__be16 target_port; /* default backend port for this service port */
	__u16 n_subsets;
	__u16 n_routes;
	__u16 pad;
	__u32 subset_id[SL_MAX_SUBSETS]; /* stable id, row in sl_stats */
	__u32 ep_base[SL_MAX_SUBSETS];	 /* first index in sl_endpoints */
	__u32 ep_count[SL_MAX_SUBSETS];	 /* endpoints of this VIP's family */
	struct sl_route routes[SL_MAX_ROUTES];
};
_Static_assert(sizeof(struct sl_service) == 16 + 3 * 4 * SL_MAX_SUBSETS + 48 * SL_MAX_ROUTES,
	       "sl_service size");

/* sl_endpoints: ARRAY of SL_SLOTS * SL_MAX_ENDPOINTS; a slot owns one half. */
struct sl_endpoint {
	__be32 addr[4];
	__be16 port; /* 0: use the service's target_port */
	__u8 family;
	__u8 pad;
	__u32 pad2;
};
_Static_assert(sizeof(struct sl_endpoint) == 24, "sl_endpoint size");

/*
 * sl_src_match: LPM_TRIE. For every prefix that some route of the service
 * names (directly as sourceCIDRs, or as the address of a workload that
 * carries the route's sourceLabels), the routes whose sources contain that
 * prefix. Longest-prefix match then yields every route matching the client.
 */
struct sl_src_key {
	__u32 prefixlen; /* SL_SRC_KEY_FIXED_BITS + CIDR length */
	__u32 slot;
	__u32 svc_id;
	__u32 family;
	__be32 addr[4];
};
#define SL_SRC_KEY_FIXED_BITS 96
_Static_assert(sizeof(struct sl_src_key) == 32, "sl_src_key size");

struct sl_src_routes {
	__u32 cidr_routes;  /* bit r: route r's sourceCIDRs contain the client */
	__u32 label_routes; /* bit r: route r's sourceLabels match the client */
};

/*
 * The members of struct sl_ct_key below. The datapath's parsed packet
 * (bpf/parse.h, struct sl_pkt) begins with the same ones, in a union with
 * the key itself, so that a packet is its own lookup key (the pattern of
 * the kernel's struct_group_tagged()).
 */
#define SL_CT_KEY_MEMBERS                                                                          \
	__be32 saddr[4];                                                                           \
	__be32 daddr[4];                                                                           \
	__be16 sport;                                                                              \
	__be16 dport;                                                                              \
	__u8 proto;                                                                                \
	__u8 family;                                                                               \
	__u8 pad[2]

/*
 * Connection tracking (docs/conntrack.md). Forward entries (client -> VIP,
 * keyed by the packet's tuple as the client sent it) say which backend;
 * reverse entries (backend -> client, keyed by the reply's tuple as the
 * backend sends it) say which VIP to restore. Each direction has two maps:
 *   sl_ct_new / sl_revnat_new   LRU_HASH: unconfirmed connections (a TCP
 *                               SYN, or a UDP flow the backend has not yet
 *                               answered). A flood of spoofed SYNs evicts
 *                               only these.
 *   sl_conntrack / sl_revnat    HASH, --ct-max entries: confirmed ones (the
 *                               client's first ACK; the backend's first UDP
 *                               reply). Never evicted: `sluice run` removes
 *                               closed entries after --ct-closed-timeout and
 *                               idle ones after --ct-idle-timeout.
 */
struct sl_ct_key {
	SL_CT_KEY_MEMBERS;
};
_Static_assert(sizeof(struct sl_ct_key) == 40, "sl_ct_key size");

/* sl_ct_entry.flags */
#define SL_CT_CLOSED  (1U << 0) /* FIN or RST seen, counted as closed */
#define SL_CT_LOCAL   (1U << 1) /* to the node's L7 listener (addr is SL_L7_LOCAL*), marked */
#define SL_CT_HAIRPIN (1U << 2) /* client is its own backend: source NATed to the hairpin address */
#define SL_CT_NO_ROOM (1U << 3) /* unconfirmed: sl_conntrack was full (counted once); retried each tick */
/*
 * Response time (bpf/rt.h): on a forward entry, waiting for the client's
 * first payload byte; on a reverse entry, for the backend's. Only a packet
 * of an entry with this bit reads the clock. A high bit, clear of the
 * others' growth.
 */
#define SL_CT_RT_WAIT (1U << 15)
/*
 * Opened with the fast path on (SL_DP_FAST_PATH): its packets may be
 * redirected past the node's stack, and its replies reverse-NATed at TC
 * ingress of the backend's interface (when sluice is attached there).
 */
#define SL_CT_FAST (1U << 4)
/*
 * Its rollout was aborted with --abort-reset (`sluice rollout`): the
 * client's next packet is answered with a TCP RST (bpf/reset.h), so the
 * client sees a reset instead of draining on the aborted subset. Set by the
 * controller on forward TCP entries only.
 */
#define SL_CT_ABORT_RESET (1U << 5)
/* A connection to a port with SL_SVC_NO_HTTP: its replies are not read for a status line. */
#define SL_CT_NO_HTTP (1U << 6)

/* sl_ct_entry.subset_id of a connection with no subset (yet): no counter row. */
#define SL_SUBSET_NONE 0xffffffffU

/*
 * UDP has no close: a flow idle this long (in 2^30 ns ticks, ~64 s) is a
 * new flow on its next datagram, so a client with a fixed source port
 * follows weight and endpoint changes instead of staying put forever.
 */
#define SL_CT_UDP_IDLE_TICKS 60

struct sl_ct_entry {
	__be32 addr[4]; /* forward: backend; reply: VIP */
	__be16 port;	/* forward: backend port; reply: VIP port */
	/*
	 * The client port as the backend sees it (forward), or as the client
	 * sent it (reply). Equal to the client's own port unless two of its
	 * connections would have met at one backend tuple (sl_g ct_port_remap).
	 */
	__be16 nat_port;
	__u8 family;
	__u8 pad[3];
	__u32 subset_id;
	__u32 flags;	 /* SL_CT_* */
	__u32 last_seen; /* forward entry: bpf_ktime_get_coarse_ns() >> 30 */
	/* forward entry: the interface the connection came in on (the client's); reply: 0 */
	__u32 ifindex;
};
_Static_assert(sizeof(struct sl_ct_entry) == 40, "sl_ct_entry size");

/*
 * Load-time settings of the programs (their .rodata, `sluice run` flags).
 * Addresses in network order, IPv4 in [0].
 */
struct sl_dp_cfg {
	__u32 l7_mark;	    /* fwmark for local delivery (--l7-mark) */
	__u32 l7_mark_mask; /* the bits of the mark that are ours */
	/*
	 * The L7 step's connections are DNATed to this address (and the
	 * VIP's port) before netfilter sees them, so kube-proxy's rules for
	 * the VIP never match them; never configured on any interface.
	 */
	__be32 l7_local4[4];
	__be32 l7_local6[4];
	/* source of hairpin connections (a pod to itself through a VIP) */
	__be32 hairpin4[4];
	__be32 hairpin6[4];
	__u32 flags; /* SL_DP_* */
	__u32 pad;
};
_Static_assert(sizeof(struct sl_dp_cfg) == 80, "sl_dp_cfg size");

/* sl_dp_cfg.flags */
#define SL_DP_SRC_CHECK (1U << 0) /* a new connection's source must route back via its interface */
/*
 * Fast path (docs/fastpath.md): a translated packet whose next hop is behind
 * an interface sluice is attached to (sl_ifaces) is redirected straight to
 * it, past routing, netfilter and the node's conntrack. `run` sets it unless
 * --no-fast-path; a plain load (packet tests) leaves it off.
 */
#define SL_DP_FAST_PATH (1U << 1)

/*
 * sl_ifaces: HASH, ifindex -> SL_IFACE_* for every interface `run` attached
 * both programs to (in its network namespace): the fast path's targets.
 */
#define SL_IFACE_ATTACHED (1U << 0) /* always set */
/*
 * A veth (or netkit) whose peer lives in another network namespace: a
 * pod's. The fast path hands it packets with bpf_redirect_peer(), straight
 * into the pod's ingress, past this side's egress and the backlog queue.
 */
#define SL_IFACE_PEER (1U << 1)

#define SL_L7_LOCAL4_DEFAULT "169.254.92.1"
#define SL_L7_LOCAL6_DEFAULT "fd5c:5c5c::1"
#define SL_HAIRPIN4_DEFAULT  "169.254.92.2"
#define SL_HAIRPIN6_DEFAULT  "fd5c:5c5c::2"

/*
 * sl_stats: PERCPU_ARRAY indexed by subset id. "in" is client -> backend,
 * "out" is backend -> client; packets are wire packets (GSO segments).
 */
struct sl_stats {
	__u64 conns_opened;
	__u64 conns_closed;
	__u64 packets_in;
	__u64 bytes_in;
	__u64 packets_out;
	__u64 bytes_out;
	__u64 backend_resets;
	__u64 no_endpoint; /* picked this subset but it had no endpoint */
	/*
	 * HTTP/1.x responses seen on the reply path, by status class: [0] is
	 * 1xx, [1] 2xx ... [4] 5xx. Exact codes go to sl_http_codes.
	 */
	__u64 http_responses[5];
	__u64 pad;
};
_Static_assert(sizeof(struct sl_stats) == 112, "sl_stats size");

/* sl_http_codes: PERCPU_HASH, responses by subset and exact status code. */
struct sl_http_code_key {
	__u32 subset_id;
	__u32 code; /* 100..599 */
};
#define SL_MAX_HTTP_CODES 8192

/* sl_global: PERCPU_ARRAY indexed by enum sl_global_idx. */
enum sl_global_idx {
	SL_G_PASS = 0,	      /* not service traffic, untouched */
	SL_G_NEW_CONN,	      /* conntrack entries created */
	SL_G_ESTABLISHED,     /* forward packets that hit conntrack */
	SL_G_REPLY,	      /* reply packets reverse-NATed */
	SL_G_FRAGMENT,	      /* IP fragments, passed untouched */
	SL_G_MALFORMED,	      /* truncated headers, passed untouched */
	SL_G_NO_ROUTE,	      /* no route matched, passed untouched */
	SL_G_NO_ENDPOINT,     /* subset had no endpoint, dropped */
	SL_G_CT_FULL,	      /* sl_conntrack full: stays in sl_ct_new (or dropped) */
	SL_G_PORT_REUSE,      /* SYN on a closed entry: picked afresh */
	SL_G_NAT_FAIL,	      /* a rewrite helper failed, dropped */
	SL_G_UDP_EXPIRED,     /* idle UDP flow: picked afresh */
	SL_G_REVNAT_RESTORED, /* reverse entry gone alone: rebuilt */
	SL_G_L7_LOCAL,	      /* connections handed to the L7 listener */
	SL_G_L7_FALLBACK,     /* ...that found none: weighted DNAT instead */
	SL_G_L7_ESTABLISHED,  /* packets of L7 connections marked for local delivery */
	SL_G_CT_MISS,	      /* TCP non-SYN of no known connection: left alone */
	SL_G_WRONG_IFACE,     /* packet of a connection, from another interface: dropped */
	SL_G_SRC_REJECTED,    /* new connection whose source does not route back there: dropped */
	SL_G_PORT_REMAP,      /* client port remapped: its tuple at the backend was taken */
	SL_G_CLASH_DROP,      /* ...and no free port was found: dropped */
	SL_G_HAIRPIN,	      /* connections of a pod to itself, source NATed */
	SL_G_CT_CONFIRMED,    /* connections moved from sl_ct_new to sl_conntrack */
	SL_G_REVNAT_FULL,     /* a lost reverse entry not put back: sl_revnat full */
	SL_G_HTTP_CODES_FULL, /* an exact HTTP code not counted: sl_http_codes full */
	SL_G_FAST_REDIRECT,   /* packets redirected past the node's stack (fast path) */
	SL_G_ABORT_RESET,     /* client packets answered with a RST: rollout aborted with reset */
	SL_G_MAX,
};

/*
 * sl_seg_ns (bpf/segtime.h; only in the `make bench-segments` build): ns
 * summed per segment of sl_client, each from the previous mark.
 */
enum sl_seg {
	SL_SEG_MARK = 0,    /* two marks back to back: the cost of one mark */
	SL_SEG_CT_FIND,	    /* the forward lookup, both stages */
	SL_SEG_NEW_CHECKS,  /* new connection: SYN only, source check */
	SL_SEG_CHOOSE,	    /* sl_choose: the service, the route, the endpoint */
	SL_SEG_OPEN,	    /* sl_ct_open: the clash check and both inserts */
	SL_SEG_NEW_FORWARD, /* sl_forward of the first packet */
	SL_SEG_EST_STATE,   /* established: interface, over, touch, counters */
	SL_SEG_EST_FORWARD, /* sl_forward: the rewrite and the subset row */
	SL_SEG_MAX,
};

/*
 * sl_vip_filter and sl_be_filter: ARRAY of SL_FILTER_WORDS __u64, one bit
 * per hash of (address, port, protocol) of every VIP (resp. backend) ever
 * configured since the datapath was loaded (sl_filter_bit()). A clear bit
 * proves a packet is not service traffic, before any hash-map lookup; bits
 * are only ever set, so established connections of a removed service keep
 * their NAT, and a stale bit costs only the normal lookups.
 */

/* sl_subset_names and sl_svc_names .in_use */
#define SL_ID_FREE    0
#define SL_ID_IN_USE  1
#define SL_ID_RETIRED 2 /* no longer configured; connections may still drain */

/* sl_subset_names: ARRAY indexed by subset id, so rows read by name. */
struct sl_subset_name {
	__u32 in_use;
	__u32 svc_id;
	char service[SL_NAME_LEN];
	char subset[SL_SUBSET_NAME_LEN];
};
_Static_assert(sizeof(struct sl_subset_name) == 8 + SL_NAME_LEN + SL_SUBSET_NAME_LEN,
	       "sl_subset_name size");

/* sl_svc_names: ARRAY indexed by service id. */
struct sl_svc_name {
	__u32 in_use;
	__u32 pad;
	char name[SL_NAME_LEN];
};

/*
 * Header routing (docs/l7.md). A new TCP connection to a service with
 * SL_SVC_L7 is DNATed to sl_dp_cfg.l7_local* and the VIP's port, remembered
 * as SL_CT_LOCAL, and its packets marked; the policy route (fwmark -> table
 * SL_L7_TABLE, a `local` route) delivers them to this node, and the
 * sk_lookup program sl_l7_lookup hands them to the L7 listener in
 * sl_l7_listen. The L7 step reads the VIP back from the reverse entry and
 * the request head, evaluates the routes (HTTP matches from sl_l7_specs),
 * picks with the kernel's hash and weights and relays. The defaults below
 * are `run --l7-mark` and `--l7-table`'s; the mark stays clear of
 * kube-proxy's (0x4000, 0x8000) and Cilium's (0xf00) bits, but not of
 * Calico's default mask 0xffff0000 (docs/conntrack.md).
 */
#define SL_L7_FWMARK	  0x5c0000U
#define SL_L7_FWMARK_MASK 0xff0000U
#define SL_L7_TABLE	  1473
#define SL_L7_RULE_PRIO	  92

/* sl_l7_listen: SOCKMAP, the listening socket of each family. */
enum sl_l7_listen_idx {
	SL_L7_LISTEN_INET = 0,
	SL_L7_LISTEN_INET6 = 1,
	SL_L7_LISTEN_MAX,
};

/* sl_l7_specs: HASH, l7_spec id -> the match as text (l7_match.h). */
struct sl_l7_spec {
	char text[SL_L7_SPEC_LEN];
};

/*
 * sl_l7_stats: ARRAY (mmapable) indexed by subset id, the L7 step's share of
 * the per-subset counters (atomic adds from userspace); readers add it to
 * sl_stats. sl_l7_codes: HASH, the same for exact HTTP codes.
 * sl_l7_counters: ARRAY (mmapable) of one struct sl_l7_counters.
 */
enum sl_l7_counter_idx {
	SL_L7_C_ACCEPTED = 0,	/* connections accepted from the listener */
	SL_L7_C_ACTIVE,		/* relayed now (a gauge) */
	SL_L7_C_HEADER_ROUTE,	/* decided by a route that matches on HTTP (per request for HTTP/1.x) */
	SL_L7_C_DEFAULT_ROUTE,	/* decided by a route without HTTP matches (likewise) */
	SL_L7_C_HEAD_TOO_BIG,	/* no end of head within the limit: default route */
	SL_L7_C_NOT_HTTP,	/* not an HTTP/1.x request: default route */
	SL_L7_C_HEAD_TIMEOUT,	/* no head in time: default route */
	SL_L7_C_NO_ROUTE,	/* no route matched: closed */
	SL_L7_C_CONNECT_FAILED, /* backend refused or unreachable: closed */
	SL_L7_C_OVER_LIMIT,	/* times the listener left sl_l7_listen (too many) */
	SL_L7_C_HANDED_OVER,	/* connections passed to a successor */
	SL_L7_C_TAKEN_OVER,	/* connections received from a predecessor */
	SL_L7_C_CLIENT_LIMIT,	/* refused: the client address held its share */
	SL_L7_C_IDLE_TIMEOUT,	/* relayed, no byte either way for too long: reset */
	SL_L7_C_CODES_FULL,	/* exact HTTP codes not counted: sl_l7_codes full */
	SL_L7_C_BAD_REQUEST,	/* answered 400 and closed: malformed or ambiguous head */
	SL_L7_C_MAX,
};

struct sl_l7_counters {
	__u64 c[16];
};
_Static_assert(SL_L7_C_MAX <= 16, "sl_l7_counters size");

/*
 * Response time (bpf/rt.h): per subset, a log2 histogram of the time from a
 * connection's first request byte (client -> backend payload) to its first
 * response byte, as the kernel sees them on the DNAT path (TCP only).
 *   sl_rt_hist     PERCPU_ARRAY by subset id, written by the datapath.
 *   sl_rt_hist_l7  ARRAY (mmapable) by subset id, the L7 step's per-request
 *                  durations (atomic adds from userspace, sl_rt_record()).
 *   sl_rt_pend     LRU_HASH: first-request time (bpf_ktime_get_ns) of a
 *                  connection waiting for its first response byte, keyed by
 *                  the reply tuple.
 * Readers add both histograms. bucket[i] counts durations d (microseconds)
 * with 2^(i-1) <= d < 2^i (bucket[0]: d < 1 us); the last one everything
 * from 2^(SL_RT_BUCKETS-2) us (~4.2 s) up.
 */
#define SL_MAP_RT_HIST	  "sl_rt_hist"
#define SL_MAP_RT_HIST_L7 "sl_rt_hist_l7"
#define SL_MAP_RT_PEND	  "sl_rt_pend"
#define SL_RT_BUCKETS	  24
#define SL_RT_PEND_SIZE	  65536

struct sl_rt_hist {
	__u64 count;
	__u64 sum_us;
	__u64 bucket[SL_RT_BUCKETS];
};
_Static_assert(sizeof(struct sl_rt_hist) == 16 + 8 * SL_RT_BUCKETS, "sl_rt_hist size");

/*
 * sl_rollout: ARRAY of SL_MAX_ROLLOUTS, the progressive rollouts `sluice
 * rollout` starts and `sluice run` drives (user/rollout/). Pinned, so a
 * rollout outlives a crash of `run`: the next `run` resumes it. Never read
 * by the datapath; here so that every command finds it pinned. Writers
 * (run's controller, the rollout command) serialise on the pin directory's
 * lock.
 */
#define SL_MAP_ROLLOUT	  "sl_rollout"
#define SL_MAX_ROLLOUTS	  16
#define SL_ROLLOUT_STEPS  16
#define SL_ROLLOUT_REASON 160

enum sl_rollout_phase {
	SL_RO_FREE = 0, /* slot unused */
	SL_RO_RUNNING,	/* judging and advancing */
	SL_RO_PAUSED,	/* holds its weights, judges nothing */
	SL_RO_ABORTED,	/* v2 at 0: done */
	SL_RO_PROMOTED, /* v2 at 100: done */
};

/* sl_rollout.flags */
#define SL_RO_DRY_RUN	     (1U << 0) /* judges and reports, never writes weights */
#define SL_RO_DEADLINE_ABORT (1U << 1) /* a step's deadline aborts (else pauses) */
#define SL_RO_FROM_CONFIG    (1U << 2) /* started by a `rollout:` block of the configuration */
#define SL_RO_ABORT_RESET    (1U << 3) /* an abort resets the canary's connections (SL_CT_ABORT_RESET) */

struct sl_rollout {
	char service[SL_NAME_LEN];
	char from[SL_SUBSET_NAME_LEN]; /* the baseline (v1) */
	char to[SL_SUBSET_NAME_LEN];   /* the canary (v2) */
	__u32 phase;		       /* enum sl_rollout_phase */
	__u32 flags;		       /* SL_RO_* */
	__u32 steps[SL_ROLLOUT_STEPS]; /* v2's percent at each step, rising, last is the end */
	__u32 n_steps;
	__u32 step;			/* index into steps[] in force (n_steps: not started) */
	__u32 dwell_ms;			/* a step's healthy time before the next */
	__u32 deadline_ms;		/* a step's longest time before its outcome */
	__u32 min_requests;		/* v2 requests in a window before it is judged */
	__u32 max_5xx_ppm;		/* v2 5xx ratio cap, parts per million (0: none) */
	__u32 max_reset_ppm;		/* v2 reset ratio cap, per connection (0: none) */
	__u32 max_p99_us;		/* v2 p99 response time cap (0: none) */
	__u32 failure_limit;		/* failed checks before abort */
	__u32 failures;			/* failed checks so far */
	__u64 started_ms;		/* CLOCK_REALTIME, the rollout */
	__u64 step_started_ms;		/* CLOCK_REALTIME, the step in force */
	__u64 healthy_ms;		/* healthy time accumulated in this step */
	__u64 updated_ms;		/* the last decision */
	__u64 seq;			/* bumped on every change, by anyone */
	__u64 spec_digest;		/* SL_RO_FROM_CONFIG: of the block it was started from */
	char reason[SL_ROLLOUT_REASON]; /* the last decision, explained */
};
_Static_assert(sizeof(struct sl_rollout) ==
		   128 + 12 * 4 + 4 * SL_ROLLOUT_STEPS + 48 + SL_ROLLOUT_REASON,
	       "sl_rollout size");

/*
 * sl_rollout_log: ARRAY of SL_ROLLOUT_LOG_LEN, a ring of the rollouts'
 * decisions (the one with the highest seq is the newest), for `rollout
 * status`, the dashboard's timeline and after a restart.
 */
#define SL_MAP_ROLLOUT_LOG "sl_rollout_log"
#define SL_ROLLOUT_LOG_LEN 256

enum sl_rollout_action {
	SL_RA_START = 0,
	SL_RA_ADVANCE,
	SL_RA_HOLD,   /* inconclusive, or healthy short of the dwell (logged on change) */
	SL_RA_FAILED, /* a failed check, under the limit */
	SL_RA_PAUSE,
	SL_RA_RESUME,
	SL_RA_ABORT,
	SL_RA_PROMOTE,
	SL_RA_REASSERT, /* its weights were changed under it (file, `weights`): written again */
	SL_RA_MAX,
};

struct sl_rollout_event {
	__u64 seq;     /* 1, 2, ...; 0: slot never written */
	__u64 time_ms; /* CLOCK_REALTIME */
	__u32 action;  /* enum sl_rollout_action */
	__u32 weight;  /* the canary's percent after it */
	__u64 n;       /* the canary's requests in the window judged */
	__u64 errors;  /* ...failed, for the gate named in reason */
	char service[SL_NAME_LEN];
	char reason[SL_ROLLOUT_REASON];
};
_Static_assert(sizeof(struct sl_rollout_event) == 40 + SL_NAME_LEN + SL_ROLLOUT_REASON,
	       "sl_rollout_event size");

/*
 * sl_sock_lb: SK_STORAGE, on each socket that sl_sock_connect4 sent
 * straight to a backend (`run --socket-lb`): what the packet path keeps in a
 * conntrack entry, for the counting programs of that cgroup.
 */
struct sl_sock_lb {
	__u32 subset_id;
	__u32 flags;   /* SL_CT_NO_HTTP, SL_CT_RT_WAIT (until the first request byte) */
	__u64 req_ns;  /* bpf_ktime_get_ns() of the first request byte, until its response */
};

#endif /* SLUICE_ABI_H */
