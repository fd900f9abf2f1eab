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

LIB_SRC  = $(filter-out probe/main.c,$(wildcard probe/*.c probe/render/*.c resolvers/*.c targets/*.c))
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
	    /usr/bin/python3 tests/net/test_dhcp.py -v; fi

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

bench: azbprobe
	@if [ "$$(id -u)" != 0 ]; then echo "make bench needs root (it builds network namespaces)" >&2; exit 2; fi
	/usr/bin/python3 tests/net/bench.py 5

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
