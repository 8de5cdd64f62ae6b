/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The datapath's maps. Pinned by name under the loader's pin directory. */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_state SEC(".maps");

/*
 * The coarse clock as last read on this CPU, and the jiffy it was read in
 * (conntrack.h). Not pinned: a cache, private to each load.
 */
struct sl_clock {
	__u64 jiffies;
	__u32 ticks;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_clock);
} sl_clock SEC(".maps");

/* The interfaces we are attached to (sluice_abi.h), for the fast path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ifaces SEC(".maps");

/* Values are replaced whole; NO_PREALLOC frees old values after RCU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, (SL_SLOTS * SL_MAX_SERVICES));
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_services SEC(".maps");

/* Read by writers only (sluice_abi.h); here so that every writer finds it pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_svc_ref);
	__type(value, struct sl_svc_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (SL_SLOTS * SL_MAX_ENDPOINTS));
	__type(key, __u32);
	__type(value, struct sl_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, (SL_SLOTS * SL_MAX_SRC_PREFIXES));
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sl_src_key);
	__type(value, struct sl_src_routes);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_src_match SEC(".maps");

/*
 * Conntrack (sluice_abi.h). The loader sizes all four from --ct-max before
 * loading; the confirmed tables are preallocated, so an insert there fails
 * only when the table is full, and nothing there is ever evicted.
 */
#define SL_CT_MAP(kind, size)                                                                      \
	struct {                                                                                   \
		__uint(type, kind);                                                                \
		__uint(max_entries, size);                                                         \
		__type(key, struct sl_ct_key);                                                     \
		__type(value, struct sl_ct_entry);                                                 \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                               \
	}

SL_CT_MAP(BPF_MAP_TYPE_HASH, SL_CT_SIZE) sl_conntrack SEC(".maps");
SL_CT_MAP(BPF_MAP_TYPE_HASH, SL_CT_SIZE) sl_revnat SEC(".maps");
SL_CT_MAP(BPF_MAP_TYPE_LRU_HASH, SL_CT_SIZE / 4) sl_ct_new SEC(".maps");
SL_CT_MAP(BPF_MAP_TYPE_LRU_HASH, SL_CT_SIZE / 4) sl_revnat_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__type(key, __u32);
	__type(value, struct sl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_G_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_MAX_HTTP_CODES);
	__type(key, struct sl_http_code_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_http_codes SEC(".maps");

/* Cheap "not service traffic" tests: see sluice_abi.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_vip_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_be_filter SEC(".maps");

/*
 * Names for the ids above, written by the loader, read by people. Mmapable:
 * a writer reads every row at memory speed, not a syscall per row.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_subset_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_subset_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_svc_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc_names SEC(".maps");

/* ---- header routing (sluice_abi.h, docs/l7.md) ---- */

/*
 * Sockets balanced at connect() (--socket-lb): their subset, kept with the
 * socket. Pinned, so that a restarted `run` still counts the packets and
 * the close of connections opened before it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_sock_lb);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_sock_lb SEC(".maps");

/* The L7 listeners; a socket leaves the map by itself when it is closed. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, SL_L7_LISTEN_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_l7_listen SEC(".maps");

/* Read by the L7 step only; here so that every writer finds it pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_L7_SPECS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct sl_l7_spec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_l7_specs SEC(".maps");

/* Written by the L7 step with atomic adds through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SUBSET_IDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_l7_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_HTTP_CODES);
	__type(key, struct sl_http_code_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_l7_codes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_l7_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_l7_counters SEC(".maps");

/* Progressive rollouts (sluice_abi.h): user space only; pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_ROLLOUTS);
	__type(key, __u32);
	__type(value, struct sl_rollout);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_rollout SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_ROLLOUT_LOG_LEN);
	__type(key, __u32);
	__type(value, struct sl_rollout_event);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_rollout_log SEC(".maps");

#endif /* SLUICE_BPF_MAPS_H */
