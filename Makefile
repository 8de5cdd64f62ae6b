# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice build. Quiet unless V=1.
#
#   make            build/sluice
#   make test       install deps, build, run every test (needs root)
#   make test-asan  the C tests under ASan, LeakSanitizer and UBSan (needs root)
#   make demo       the canary walk in network namespaces (needs root)
#   make bench      benchmarks (needs root); bench-rank: the ranking alone;
#                   bench-segments: per-packet time, segment by segment

BUILD   := build
CC      ?= gcc
CXX     ?= g++
CLANG   ?= clang
BPFTOOL ?= $(shell command -v bpftool || echo /usr/sbin/bpftool)
ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	   -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) $(EXTRA_CFLAGS)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -Wall -Wextra -Iinclude -Iuser $(EXTRA_CFLAGS)
# libcurl: run --kubernetes (HTTPS, streaming watches, one thread per kind);
# RE2 (through user/l7/re2_shim.cc) for Istio's regexes, hence libstdc++
RE2_LIBS := -lre2 -lstdc++
# nghttp2: HTTP/2 framing, flow control and HPACK for the L7 step (user/l7/h2_*.c);
# nodejs/http-parser for HTTP/1.x framing in the L7 step (docs/l7.md)
LDLIBS  := -lbpf -lelf -lz -lyaml -ljson-c -lmicrohttpd -lncursesw -lcurl -lpthread -lnghttp2 -lm $(RE2_LIBS) \
	   -lhttp_parser

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf -I/usr/include/$(MULTIARCH)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_HDRS  := $(wildcard bpf/*.h) include/sluice_abi.h
# user/ has one folder per concern (README "Layout"); every object lands at
# the same relative path under build/user/.
USER_SRCS := $(wildcard user/*/*.c)
# the one C++ file: the C API over RE2
USER_CXX_SRCS := $(wildcard user/*/*.cc)
USER_HDRS := $(wildcard user/*/*.h) include/sluice_abi.h include/sluice_hash.h
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS)) \
	     $(patsubst user/%.cc,$(BUILD)/user/%.o,$(USER_CXX_SRCS))
LIB_OBJS  := $(filter-out $(BUILD)/user/cli/main.o,$(USER_OBJS))
SKEL      := $(BUILD)/sluice.skel.h

TEST_BINS := $(BUILD)/tests/test_config $(BUILD)/tests/test_config_files $(BUILD)/tests/test_k8s $(BUILD)/tests/test_istio $(BUILD)/tests/test_pkt $(BUILD)/tests/test_conntrack $(BUILD)/tests/test_redirect $(BUILD)/tests/test_choice $(BUILD)/tests/test_atomic $(BUILD)/tests/test_inplace \
	     $(BUILD)/tests/test_http $(BUILD)/tests/test_l7_match $(BUILD)/tests/test_policy_route \
	     $(BUILD)/tests/test_l7 $(BUILD)/tests/test_kube $(BUILD)/tests/test_l7_client \
	     $(BUILD)/tests/test_l7_http $(BUILD)/tests/test_rollout

.DELETE_ON_ERROR:
.PHONY: all deps test test-bins test-asan asan-bins demo bench bench-rank bench-segments clean format

all: $(BUILD)/sluice

$(BUILD)/sluice.bpf.o: bpf/sluice.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BUILD)/empty.bpf.o: bpf/empty.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# bench_pkt's floors for a new connection (one and two LRU tables)
$(BUILD)/bench_flow.bpf.o: bpf/bench_flow.bpf.c bpf/parse.h include/sluice_abi.h \
		include/sluice_ct.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# another tool's filter, for tests/e2e/test_tc_neighbour.sh
$(BUILD)/next_filter.bpf.o: tests/e2e/next_filter.bpf.c | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BUILD)/sluice.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name sluice_bpf > $@

$(BUILD)/dashboard_html.h: user/observe/dashboard.html scripts/embed-file.py | $(BUILD)
	$(call msg,EMBED,$@)
	$(Q)scripts/embed-file.py $< sl_dashboard_page > $@

$(BUILD)/user/observe/dashboard.o: $(BUILD)/dashboard_html.h

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(SKEL) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/user/%.o: user/%.cc $(USER_HDRS) | $(BUILD)
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/sluice: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/test_config: tests/unit/test_config.c tests/unit/config_common.h tests/unit/diag_check.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_config_files: tests/unit/test_config_files.c tests/unit/config_common.h tests/unit/diag_check.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

# yaml_load.c against libyaml's own loader (reads the corpora: run from the top)
TEST_BINS += $(BUILD)/tests/test_yaml_load
$(BUILD)/tests/test_yaml_load: tests/unit/test_yaml_load.c tests/unit/diag_check.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_rollout: tests/unit/test_rollout.c tests/unit/config_common.h tests/unit/diag_check.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_k8s: tests/unit/test_k8s.c tests/unit/diag_check.h tests/unit/k8s_fixture.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

# The Kubernetes client against tests/e2e/kube_fake.py (python3, openssl)
$(BUILD)/tests/test_kube: tests/unit/test_kube.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_istio: tests/unit/test_istio.c tests/unit/diag_check.h tests/unit/k8s_fixture.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_l7_match: tests/unit/test_l7_match.c user/l7/l7_match.c user/l7/l7_match.h \
			      user/l7/l7_http.c user/l7/l7_http.h $(BUILD)/user/l7/re2_shim.o | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(RE2_LIBS) -lhttp_parser -lcmocka -o $@

$(BUILD)/tests/test_l7_http: tests/unit/test_l7_http.c user/l7/l7_http.c user/l7/l7_http.h \
			     user/l7/l7_match.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c,$^) -lhttp_parser -lcmocka -o $@

$(BUILD)/tests/test_l7_client: tests/unit/test_l7_client.c user/l7/l7_client.c user/l7/l7_client.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c,$^) -lcmocka -o $@

$(BUILD)/tests/test_policy_route: tests/unit/test_policy_route.c user/datapath/policy_route.c user/datapath/policy_route.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c,$^) -lcmocka -o $@

$(BUILD)/tests/test_pkt: tests/pkt/test_pkt.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -lm -o $@

$(BUILD)/tests/test_conntrack: tests/pkt/test_conntrack.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD)/tests/test_redirect: tests/pkt/test_redirect.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD)/tests/test_choice: tests/pkt/test_choice.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -lm -o $@

$(BUILD)/tests/test_http: tests/pkt/test_http.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD)/tests/test_l7: tests/pkt/test_l7.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD)/tests/test_atomic: tests/pkt/test_atomic.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -lpthread -o $@

$(BUILD)/tests/test_inplace: tests/pkt/test_inplace.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD)/tests/bench_pkt: tests/pkt/bench_pkt.c $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@

$(BUILD):
	$(Q)mkdir -p $(BUILD)/user $(BUILD)/tests

# bench_pkt and the empty program: the bench smoke test runs them.
test-bins: all $(TEST_BINS) $(BUILD)/tests/bench_pkt $(BUILD)/empty.bpf.o $(BUILD)/bench_flow.bpf.o \
	$(BUILD)/next_filter.bpf.o

deps:
	$(Q)scripts/install-deps.sh

# The README's test command. Installs what is missing first, so it works on
# a fresh machine.
test: deps
	$(Q)$(MAKE) --no-print-directory test-bins asan-bins
	$(Q)tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/empty.bpf.o $(BUILD)/bench_flow.bpf.o \
		$(BUILD)/tests/bench_pkt $(BUILD)/tests/synflood
	$(Q)scripts/bench.sh

# section 8 alone: the ranking (interleaved rounds, 95 % intervals); ~10 min
bench-rank: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SECTIONS=8 scripts/bench.sh

# bench_pkt with the packet path timed segment by segment (bpf/segtime.h):
# a build of its own, whose programs carry the clock reads
SEGTIME := build/segtime
bench-segments: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/empty.bpf.o $(BUILD)/bench_flow.bpf.o
	$(Q)$(MAKE) --no-print-directory BUILD=$(SEGTIME) BPF_EXTRA_CFLAGS=-DSL_SEGMENT_TIMING \
		EXTRA_CFLAGS=-DSL_SEGMENT_TIMING $(SEGTIME)/tests/bench_pkt
	$(Q)$(SEGTIME)/tests/bench_pkt $(or $(SEGMENT_RUNS),200000)

format:
	$(Q)clang-format -i $(wildcard bpf/*.c bpf/*.h tests/e2e/*.bpf.c user/*/*.c user/*/*.cc user/*/*.h include/*.h tests/*/*.c tests/*/*.h)

clean:
	$(Q)rm -rf $(BUILD)

# deploy/ manifests, parsed with libyaml and checked
TEST_BINS += $(BUILD)/tests/test_deploy
test-bins: $(BUILD)/tests/test_deploy
$(BUILD)/tests/test_deploy: tests/unit/test_deploy.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# run --kubernetes: lists read item by item, objects stripped, model digests
TEST_BINS += $(BUILD)/tests/test_kube_strip
test-bins: $(BUILD)/tests/test_kube_strip
$(BUILD)/tests/test_kube_strip: tests/unit/test_kube_strip.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# A second build of the same sources whose BPF programs differ (another
# instruction set level: other instructions, the same maps), for
# tests/e2e/test_upgrade.sh to replace the running programs with.
VARIANT := build/variant
VARIANT_BPF_CFLAGS ?= -Os
BPF_CFLAGS += $(BPF_EXTRA_CFLAGS)
.PHONY: variant
variant: $(VARIANT)/sluice
ifneq ($(BUILD),$(VARIANT))
$(VARIANT)/sluice: $(wildcard bpf/*.c) $(BPF_HDRS) $(USER_SRCS) $(USER_CXX_SRCS) $(USER_HDRS)
	$(Q)$(MAKE) --no-print-directory BUILD=$(VARIANT) \
		BPF_EXTRA_CFLAGS="$(VARIANT_BPF_CFLAGS)" $(VARIANT)/sluice
test-bins: $(VARIANT)/sluice
endif

# The userspace code and the C test binaries again, under AddressSanitizer
# (with LeakSanitizer) and UBSan, in a tree of their own (the BPF object is
# BPF: not instrumented). tests/run.sh runs them as the asan/ suites: with
# everything in `make test`, alone in `make test-asan` (about 2 minutes).
ASAN := build/asan
ASAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
.PHONY: c-test-bins
c-test-bins: $(TEST_BINS)
asan-bins:
ifneq ($(BUILD),$(ASAN))
	$(Q)$(MAKE) --no-print-directory BUILD=$(ASAN) EXTRA_CFLAGS="$(ASAN_CFLAGS)" c-test-bins
endif

test-asan: deps
	$(Q)$(MAKE) --no-print-directory all asan-bins
	$(Q)tests/run.sh asan/

# ---- fuzzing (tests/fuzz/, docs in tests/fuzz/run.sh) ----
# libFuzzer targets: clang's -fsanitize=fuzzer with ASan and UBSan, over
# instrumented copies of user/ in build/fuzz/. `make fuzz` runs each for
# FUZZ_SECONDS (600) and the datapath model for MODEL_FRAMES (1,000,000);
# `make test` replays the corpora and fuzzes each target for a few seconds.
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Wall -Wno-unused-parameter -Wno-missing-field-initializers \
		-D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) $(FUZZ_SAN)
FUZZ_TARGETS := config k8s http watch handoff
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
# the RE2 shim is C++: linked as the normal build compiles it
FUZZ_LIB     := $(patsubst user/%.c,$(FUZZ_DIR)/user/%.o,$(filter-out user/cli/main.c,$(USER_SRCS)))
FUZZ_CXX_LIB := $(patsubst user/%.cc,$(BUILD)/user/%.o,$(USER_CXX_SRCS))
FUZZ_SECONDS ?= 600

.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)
# objects of a pattern rule only: keep them between builds
.SECONDARY: $(FUZZ_LIB)

$(FUZZ_DIR)/user/%.o: user/%.c $(USER_HDRS) $(SKEL) $(BUILD)/dashboard_html.h
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_LIB) $(FUZZ_CXX_LIB)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $(filter %.c %.o,$^) \
		$(LDLIBS) -o $@

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bins $(BUILD)/tests/test_model
	$(Q)rc=0; FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh long || rc=1; \
	seed=$${MODEL_SEED:-$$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')}; \
	$(BUILD)/tests/test_model --frames $(MODEL_FRAMES) --seed 0x$$seed || rc=1; exit $$rc

test-bins: fuzz-bins

# Full tables, loader side
TEST_BINS += $(BUILD)/tests/test_fit
test-bins: $(BUILD)/tests/test_fit
$(BUILD)/tests/test_fit: tests/unit/test_fit.c tests/unit/diag_check.h tests/unit/big_config.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

# Full tables, datapath side (reuses the packet tests' headers, unchanged)
TEST_BINS += $(BUILD)/tests/test_full
test-bins: $(BUILD)/tests/test_full
$(BUILD)/tests/test_full: tests/full/test_full.c tests/unit/big_config.h $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt -Itests/unit $(filter %.c %.o,$^) $(LDLIBS) -o $@

# SYN flood generator: scripts/bench.sh section 7, tests/e2e/test_syn_flood.sh
test-bins: $(BUILD)/tests/synflood
$(BUILD)/tests/synflood: tests/flood/synflood.c tests/model/rng.h | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -Wall -Wextra $< -o $@

# The datapath against its model (tests/model/): make test runs a 20,000-frame
# slice with a fixed seed; make fuzz MODEL_FRAMES (1,000,000) with a new one.
MODEL_FRAMES ?= 1000000
TEST_BINS += $(BUILD)/tests/test_model
test-bins: $(BUILD)/tests/test_model
$(BUILD)/tests/test_model: tests/model/test_model.c tests/model/model.c tests/model/model.h tests/model/rng.h \
			   $(wildcard tests/pkt/*.h) $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/pkt $(filter %.c %.o,$^) $(LDLIBS) -o $@
