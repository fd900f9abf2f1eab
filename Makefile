# azbprobe: Azure VM Backup network and guest prerequisites probe.
# make deps | make | make check | make demo | make bench | make install PREFIX=...

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
BUILD   ?= build

PKGS     = libcurl libcares libpcap json-c
WARN     = -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
DEFS     = -D_GNU_SOURCE -DCARES_NO_DEPRECATED -DAZB_VERSION=\"$(VERSION)\"
INCS     = -I. -I$(BUILD)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -lcares -lpcap -ljson-c)
VERSION  = 0.1.0

ALL_CFLAGS = $(WARN) $(DEFS) $(INCS) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)

LIB_SRC  = $(filter-out probe/main.c,$(wildcard probe/*.c probe/diag/*.c probe/render/*.c resolvers/*.c targets/*.c))
LIB_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/regions_gen.o
TEST_SRC = $(wildcard tests/unit/test_*.c)
TESTS    = $(patsubst tests/unit/%.c,$(BUILD)/%,$(TEST_SRC))

.PHONY: all deps check check-unit check-integration demo bench install uninstall clean lint

all: azbprobe

azbprobe: $(BUILD)/probe/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.c | $(BUILD)/regions_gen.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/regions_gen.c: targets/regions.tsv targets/gen_regions.sh
	@mkdir -p $(BUILD)
	sh targets/gen_regions.sh targets/regions.tsv > $@.tmp && mv $@.tmp $@

$(BUILD)/regions_gen.o: $(BUILD)/regions_gen.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/test_%: tests/unit/test_%.c $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -U_FORTIFY_SOURCE $(shell pkg-config --cflags cmocka 2>/dev/null) \
	    $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# Build and test dependencies (Debian/Ubuntu with apt-get; Fedora/Azure Linux with dnf).
DEB_PKGS = build-essential pkg-config clang libcurl4-openssl-dev libc-ares-dev libpcap-dev \
           libcmocka-dev libjson-c-dev python3 dnsmasq-base nginx-light openssl nftables iproute2 \
           python3-dnslib ca-certificates curl dnsutils squid
RPM_PKGS = gcc make pkgconf-pkg-config clang libcurl-devel c-ares-devel libpcap-devel libcmocka-devel \
           json-c-devel python3 dnsmasq nginx openssl nftables iproute ca-certificates curl bind-utils python3-dnslib squid
deps:
	@if command -v apt-get >/dev/null 2>&1; then \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_PKGS); \
	elif command -v dnf >/dev/null 2>&1; then \
	    $(SUDO) dnf install -y $(RPM_PKGS); \
	else echo "make deps: neither apt-get nor dnf found; install: $(DEB_PKGS)" >&2; exit 1; fi

check: check-unit check-fuzz-corpus check-integration

check-unit: azbprobe $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; ./$$t || fail=1; done; \
	sh tests/cli_test.sh ./azbprobe || fail=1; \
	sh packaging/check-options.sh ./azbprobe || fail=1; \
	sh tests/lint.sh || fail=1; \
	exit $$fail

check-integration: azbprobe
	@if [ "$$(id -u)" != 0 ]; then echo "SKIP integration tests: they need root (network namespaces)"; \
	else /usr/bin/python3 tests/net/test_integration.py -v && /usr/bin/python3 tests/net/test_proxy.py -v && \
	    /usr/bin/python3 tests/net/test_dhcp.py -v && /usr/bin/python3 tests/net/test_arm.py -v; fi

demo: azbprobe
	@if [ "$$(id -u)" != 0 ]; then echo "make demo needs root (it builds network namespaces)" >&2; exit 2; fi
	sh tests/net/demo.sh ./azbprobe

lint:
	sh tests/lint.sh

install: azbprobe
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 azbprobe $(DESTDIR)$(BINDIR)/azbprobe
	install -m 0644 packaging/azbprobe.1 $(DESTDIR)$(MANDIR)/man1/azbprobe.1
	install -m 0644 packaging/azbprobe.bash-completion $(DESTDIR)$(BASHCOMPDIR)/azbprobe

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/azbprobe $(DESTDIR)$(MANDIR)/man1/azbprobe.1 $(DESTDIR)$(BASHCOMPDIR)/azbprobe

clean:
	rm -rf $(BUILD) azbprobe

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make bench: the blame evaluators (no root needed), then whole runs in the simulated network (root).
bench: azbprobe bench-tags bench-nsg
	@if [ "$$(id -u)" != 0 ]; then echo "SKIP the network benchmark: it needs root (network namespaces)"; \
	else /usr/bin/python3 tests/net/bench.py 5; fi

# ---- Fuzzing the DHCP and lease parsers (tests/fuzz/) --------------------------------------------
# make fuzz [FUZZ_SECONDS=60]: libFuzzer + ASan + UBSan, each target for FUZZ_SECONDS; new inputs go
# to $(BUILD)/fuzz/work-<name>, crashes to $(BUILD)/fuzz/artifacts/. make check-fuzz-corpus: replay
# the seed corpora with the normal compiler (no libFuzzer needed).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS    = -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES    = dhcp lease_dhclient lease_networkd lease_nm
FUZZ_LEASE_SRC = probe/lease.c probe/lease_isc.c probe/lease_networkd.c probe/sysfile.c
FUZZ_LEASE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_LEASE_SRC))
FUZZ_HDRS     = tests/fuzz/fuzz.h tests/fuzz/fuzz_lease_common.h probe/dhcp_packet.h probe/lease.h

.PHONY: fuzz check-fuzz-corpus

$(BUILD)/fuzz/fuzz_dhcp: tests/fuzz/fuzz_dhcp.c probe/dhcp_packet.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_dhcp.c probe/dhcp_packet.c

$(BUILD)/fuzz/fuzz_lease_%: tests/fuzz/fuzz_lease_%.c $(FUZZ_LEASE_SRC) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LEASE_SRC)

$(BUILD)/fuzz/replay_dhcp: tests/fuzz/replay.c tests/fuzz/fuzz_dhcp.c $(BUILD)/probe/dhcp_packet.o $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_dhcp.c $(BUILD)/probe/dhcp_packet.o

$(BUILD)/fuzz/replay_lease_%: tests/fuzz/replay.c tests/fuzz/fuzz_lease_%.c $(FUZZ_LEASE_OBJ) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_lease_$*.c $(FUZZ_LEASE_OBJ)

fuzz: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
	@mkdir -p $(BUILD)/fuzz/artifacts; \
	for n in $(FUZZ_NAMES); do \
	    case $$n in dhcp) dict=dhcp; max=1600;; *) dict=lease; max=8192;; esac; \
	    mkdir -p $(BUILD)/fuzz/work-$$n; log=$(BUILD)/fuzz/$$n.log; \
	    echo "== fuzz_$$n for $(FUZZ_SECONDS)s (log: $$log)"; \
	    if ! $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 \
	        -max_len=$$max -dict=tests/fuzz/$$dict.dict -artifact_prefix=$(BUILD)/fuzz/artifacts/$$n- \
	        $(BUILD)/fuzz/work-$$n tests/fuzz/corpus/$$n > $$log 2>&1; then \
	        tail -n 60 $$log; echo "fuzz_$$n: FINDING (see $(BUILD)/fuzz/artifacts/)"; exit 1; fi; \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $$log; \
	done

check-fuzz-corpus: $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_NAMES))
	@fail=0; for n in $(FUZZ_NAMES); do $(BUILD)/fuzz/replay_$$n tests/fuzz/corpus/$$n || fail=1; done; exit $$fail

# ---- Blame: CIDR prefixes and service tags (probe/diag/) -----------------------------------------
# probe/diag/*.c is compiled through LIB_SRC. The built-in service-tag snapshot is C generated at
# build time from the committed targets/servicetags_snapshot.tsv; refresh that TSV by hand with
#   python3 targets/gen_servicetags.py tsv ServiceTags_Public_<date>.json \
#       ServiceTags_AzureGovernment_<date>.json ServiceTags_China_<date>.json > targets/servicetags_snapshot.tsv
# make bench-tags [BENCH_TAGS_JSON=...]: load/index time, peak RSS and lookups/s on a real file.
PYTHON          ?= python3
ST_GEN_OBJ       = $(BUILD)/servicetags_gen.o
ST_OBJ           = $(BUILD)/probe/diag/servicetags.o $(BUILD)/probe/diag/prefix.o $(BUILD)/probe/sysfile.o $(ST_GEN_OBJ)
BENCH_TAGS_JSON ?= ../shared/data/servicetags/ServiceTags_Public_20251109.json
LIB_OBJ         += $(ST_GEN_OBJ)
# The link rules above expanded LIB_OBJ in their prerequisites already; their recipes use $^ or a
# late-expanded $(LIB_OBJ), so naming the object as an extra prerequisite is enough.
azbprobe $(TESTS): $(ST_GEN_OBJ)

$(BUILD)/servicetags_gen.c: targets/servicetags_snapshot.tsv targets/gen_servicetags.py
	@mkdir -p $(BUILD)
	$(PYTHON) targets/gen_servicetags.py c targets/servicetags_snapshot.tsv > $@.tmp && mv $@.tmp $@

$(BUILD)/servicetags_gen.o: $(BUILD)/servicetags_gen.c probe/diag/servicetags.h probe/diag/prefix.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

.PHONY: bench-tags
$(BUILD)/bench_tags: tests/bench/bench_tags.c $(ST_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(ST_OBJ) $(PKG_LIBS)

bench-tags: $(BUILD)/bench_tags
	$(BUILD)/bench_tags $(BENCH_TAGS_JSON)

# Fuzzing the service-tag JSON loader: joins FUZZ_NAMES (make fuzz, make check-fuzz-corpus).
FUZZ_NAMES += servicetags
FUZZ_ST_SRC = tests/fuzz/fuzz_servicetags.c probe/diag/servicetags.c probe/diag/prefix.c probe/sysfile.c
FUZZ_ST_HDR = tests/fuzz/fuzz.h probe/diag/servicetags.h probe/diag/prefix.h probe/sysfile.h
JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS   := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
fuzz: $(BUILD)/fuzz/fuzz_servicetags
check-fuzz-corpus: $(BUILD)/fuzz/replay_servicetags

$(BUILD)/fuzz/fuzz_servicetags: $(FUZZ_ST_SRC) $(BUILD)/servicetags_gen.c $(FUZZ_ST_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(JSONC_CFLAGS) -o $@ $(FUZZ_ST_SRC) $(BUILD)/servicetags_gen.c $(JSONC_LIBS)

$(BUILD)/fuzz/replay_servicetags: tests/fuzz/replay.c tests/fuzz/fuzz_servicetags.c $(ST_OBJ) $(FUZZ_ST_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_servicetags.c $(ST_OBJ) $(PKG_LIBS)

# ---- Fuzzing the NSG / NIC and effective-route JSON readers (probe/diag/nsg*, route_eval) ------------
# Their own loop: JSON seeds are larger than the lease targets' max_len (the effective NSG export is
# 18 KB). make fuzz runs them first; make check-fuzz-corpus replays their corpora.
FUZZ_JSON_NAMES = nsg routes guestfw
FUZZ_JSON_SRC   = probe/diag/nsg_read.c probe/diag/nsg_eval.c probe/diag/route_eval.c probe/diag/prefix.c probe/sysfile.c \
                  probe/diag/guestfw.c probe/diag/guestfw_nft.c probe/diag/guestfw_ipt.c probe/diag/guestfw_collect.c
FUZZ_JSON_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_JSON_SRC))
FUZZ_JSON_HDRS  = tests/fuzz/fuzz.h probe/diag/nsg.h probe/diag/route_eval.h probe/diag/prefix.h probe/diag/servicetags.h \
                  probe/diag/guestfw.h probe/diag/guestfw_internal.h
FUZZ_JSON_MAX  ?= 65536

.PHONY: fuzz-json check-fuzz-corpus-json
fuzz: fuzz-json
check-fuzz-corpus: check-fuzz-corpus-json

$(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_JSON_NAMES)): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_JSON_SRC) $(FUZZ_JSON_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(JSONC_CFLAGS) -o $@ $< $(FUZZ_JSON_SRC) $(JSONC_LIBS)

$(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_JSON_NAMES)): $(BUILD)/fuzz/replay_%: tests/fuzz/replay.c tests/fuzz/fuzz_%.c $(FUZZ_JSON_OBJ) $(FUZZ_JSON_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_$*.c $(FUZZ_JSON_OBJ) $(PKG_LIBS)

fuzz-json: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_JSON_NAMES))
	@mkdir -p $(BUILD)/fuzz/artifacts; \
	for n in $(FUZZ_JSON_NAMES); do \
	    mkdir -p $(BUILD)/fuzz/work-$$n; log=$(BUILD)/fuzz/$$n.log; \
	    echo "== fuzz_$$n for $(FUZZ_SECONDS)s (log: $$log)"; \
	    if ! $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=10 \
	        -max_len=$(FUZZ_JSON_MAX) -artifact_prefix=$(BUILD)/fuzz/artifacts/$$n- \
	        $(BUILD)/fuzz/work-$$n tests/fuzz/corpus/$$n > $$log 2>&1; then \
	        tail -n 60 $$log; echo "fuzz_$$n: FINDING (see $(BUILD)/fuzz/artifacts/)"; exit 1; fi; \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $$log; \
	done

check-fuzz-corpus-json: $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_JSON_NAMES))
	@fail=0; for n in $(FUZZ_JSON_NAMES); do $(BUILD)/fuzz/replay_$$n tests/fuzz/corpus/$$n || fail=1; done; exit $$fail

# ---- make bench-nsg: NSG evaluation at Azure's limits (tests/bench/bench_nsg.c) -----------------------
BENCH_NSG_OBJ = $(BUILD)/probe/diag/nsg_read.o $(BUILD)/probe/diag/nsg_eval.o $(BUILD)/probe/diag/prefix.o $(BUILD)/probe/sysfile.o
.PHONY: bench-nsg
$(BUILD)/bench_nsg: tests/bench/bench_nsg.c $(BENCH_NSG_OBJ) probe/diag/nsg.h probe/diag/prefix.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BENCH_NSG_OBJ) $(PKG_LIBS)

bench-nsg: $(BUILD)/bench_nsg
	$(BUILD)/bench_nsg
