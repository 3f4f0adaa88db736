# libopconnect - one non-recursive GNU Makefile.
#
#   make            build the library (shared + static), .pc, daemons and tools
#   make check      install missing packages, build, run every test (incl. asan)
#   make run        install missing packages, build, run the main job
#   make asan       the test suite under ASan + UBSan (in build-asan/)
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (clang)
#   make bench      benchmarks (never part of check)
#   make soak       the longer proofs: hours of fuzzing, kill -9, load, full
#                   disk (tests/soak/run; never part of check)
#   make install    PREFIX/DESTDIR/LIBDIR/INCLUDEDIR honoured; op in bindir, the
#                   daemons in sbindir, man pages in mandir/man{1,3,8}
#
# User variables (CC, CFLAGS, LDFLAGS, PREFIX, DESTDIR...) stay free; the flags
# the build needs live in OPC_*.

.SUFFIXES:
.DELETE_ON_ERROR:

# ---- version (the only copy is include/opconnect/version.h) ----
VERSION_H := include/opconnect/version.h
VMAJOR := $(shell sed -n 's/^\#define OPC_VERSION_MAJOR \([0-9][0-9]*\).*/\1/p' $(VERSION_H))
VMINOR := $(shell sed -n 's/^\#define OPC_VERSION_MINOR \([0-9][0-9]*\).*/\1/p' $(VERSION_H))
VPATCH := $(shell sed -n 's/^\#define OPC_VERSION_PATCH \([0-9][0-9]*\).*/\1/p' $(VERSION_H))
VERSION := $(VMAJOR).$(VMINOR).$(VPATCH)
# While 0.x every minor release may break the ABI: soname libopconnect.so.0.MINOR.
ifeq ($(VMAJOR),0)
SOMAJOR := $(VMAJOR).$(VMINOR)
else
SOMAJOR := $(VMAJOR)
endif

# ---- directories (GNU names, with the upper-case aliases) ----
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
sbindir ?= $(exec_prefix)/sbin
LIBDIR ?= $(exec_prefix)/lib
libdir ?= $(LIBDIR)
INCLUDEDIR ?= $(prefix)/include
includedir ?= $(INCLUDEDIR)
datarootdir ?= $(prefix)/share
mandir ?= $(datarootdir)/man
pkgconfigdir ?= $(libdir)/pkgconfig

# ---- tools and flags ----
CC ?= cc
AR ?= ar
INSTALL ?= install
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
BUILDDIR ?= build
WERROR ?= 1
# Quiet by default; V=1 shows the full commands.
V ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
endif

DEP_PKGS := libcurl openssl libcjson sqlite3 libpq
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS) 2>/dev/null)
# libunistring (Unicode NFKD of passwords, crypto/twoskd.c) has no .pc file
# in Debian 12: linked by name.
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(DEP_PKGS) 2>/dev/null) -lunistring -lpthread -lm

# civetweb, the HTTP engine, compiled into the library from Debian 12's own
# source package (tools/build-civetweb fetches it; the repository holds none
# of it): native OpenSSL 3, IPv6, no CGI, Lua or file serving
# access; every symbol hidden like the library's own (docs/decisions.md).
# CIVETWEB_STACK is each of its threads' stack (thousands of workers fit).
CIVETWEB_DIR ?= $(CURDIR)/.deps/civetweb
CIVETWEB_STAMP := $(CIVETWEB_DIR)/.stamp
CIVETWEB_STACK ?= 262144
CIVETWEB_FLAGS := -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_IPV6 -DNO_CGI -DNO_FILES \
	-DNO_CACHING -DUSE_SERVER_STATS -DUSE_STACK_SIZE=$(CIVETWEB_STACK) -DCIVETWEB_API=
CIVETWEB_CPPFLAGS := -I$(CIVETWEB_DIR)/include -DCIVETWEB_API=

OPC_WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wcast-qual -Wformat=2 -Wundef -Wvla -Wpointer-arith
ifeq ($(WERROR),1)
OPC_WARN += -Werror
endif
OPC_CPPFLAGS := -Iinclude -Ilib -DOPC_BUILDING $(CIVETWEB_CPPFLAGS)
OPC_CFLAGS := -std=c11 -fPIC -fvisibility=hidden $(OPC_WARN) -MMD -MP
OPC_LDFLAGS :=
# Tests and tools: the same warnings, no visibility games.
TEST_CPPFLAGS := -Iinclude -Ilib -DOPC_TEST_VECTOR_DIR='"$(CURDIR)/tests/vectors"' $(CIVETWEB_CPPFLAGS)
TEST_CFLAGS := -std=c11 $(OPC_WARN) -MMD -MP
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

# ---- sources (one folder per subsystem; see docs/architecture.md) ----
# lib/core/mg_engine.c is civetweb itself (it includes civetweb.c): built
# by its own rule, with civetweb's flags.
MG_ENGINE_SRC := lib/core/mg_engine.c
LIB_SRCS := $(filter-out $(MG_ENGINE_SRC),$(sort $(wildcard lib/*/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILDDIR)/%.o) $(BUILDDIR)/lib/core/mg_engine.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILDDIR)/%)
API_SRCS := $(sort $(wildcard tests/api/test_*.c))
API_BINS := $(API_SRCS:%.c=$(BUILDDIR)/%)
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILDDIR)/%)
# Helpers of the benchmark scripts (built, not run, by `make bench`).
BENCH_TOOLS := $(BUILDDIR)/bench/deployed/populate $(BUILDDIR)/bench/pg/swarm
PUBLIC_HEADERS := $(sort $(wildcard include/opconnect/*.h))
# The owner's CLI: public headers only (no -Ilib), the static library.
OP_SRCS := $(sort $(wildcard tools/op/*.c))
OP_OBJS := $(OP_SRCS:%.c=$(BUILDDIR)/%.o)
OP_BIN := $(BUILDDIR)/op
OP_CPPFLAGS := -Iinclude -DOPC_STATIC $(shell $(PKG_CONFIG) --cflags libcjson 2>/dev/null)
# Daemons: thin mains over the public API (no -Ilib) and the start-up,
# logging and signal code they share (daemons/common/), the static library.
DAEMON_CPPFLAGS := -Iinclude -Idaemons/common -DOPC_STATIC
# daemons/common/tls_env.c (the HTTPS variables) only in the daemons that
# serve HTTPS: a daemon links a common file when it includes its header.
DAEMON_TLS_SRCS := daemons/common/tls_env.c
DAEMON_COMMON_SRCS := $(filter-out $(DAEMON_TLS_SRCS),$(sort $(wildcard daemons/common/*.c)))
API_DAEMON_SRCS := $(sort $(wildcard daemons/connect-api/*.c)) $(DAEMON_COMMON_SRCS) \
	$(DAEMON_TLS_SRCS)
API_DAEMON_OBJS := $(API_DAEMON_SRCS:%.c=$(BUILDDIR)/%.o)
API_DAEMON := $(BUILDDIR)/connect-api
SYNC_DAEMON_SRCS := $(sort $(wildcard daemons/connect-sync/*.c)) $(DAEMON_COMMON_SRCS)
SYNC_DAEMON_OBJS := $(SYNC_DAEMON_SRCS:%.c=$(BUILDDIR)/%.o)
SYNC_DAEMON := $(BUILDDIR)/connect-sync
ACCOUNT_DAEMON_SRCS := $(sort $(wildcard daemons/op-account-server/*.c)) $(DAEMON_COMMON_SRCS) \
	$(DAEMON_TLS_SRCS)
ACCOUNT_DAEMON_OBJS := $(ACCOUNT_DAEMON_SRCS:%.c=$(BUILDDIR)/%.o)
ACCOUNT_DAEMON := $(BUILDDIR)/op-account-server
DAEMON_OBJS := $(sort $(API_DAEMON_OBJS) $(SYNC_DAEMON_OBJS) $(ACCOUNT_DAEMON_OBJS))
# `make run`: the embedded-server demo (public API only, the static library).
RUN_DEMO_SRCS := $(sort $(wildcard tools/run-demo/*.c))
RUN_DEMO := $(BUILDDIR)/run-demo

# Man pages by section (man/, installed under $(mandir)/manN).
MAN1 := $(sort $(wildcard man/*.1))
MAN3 := $(sort $(wildcard man/*.3))
MAN8 := $(sort $(wildcard man/*.8))

SHLIB := $(BUILDDIR)/libopconnect.so.$(VERSION)
SHLIB_SONAME := libopconnect.so.$(SOMAJOR)
STLIB := $(BUILDDIR)/libopconnect.a
PCFILE := $(BUILDDIR)/libopconnect.pc

.PHONY: all shared static pc install uninstall check check-fast asan fuzz fuzz-smoke fuzz-corpus \
	bench bench-deployed bench-http bench-net bench-pg bench-rss soak run lint clean deps unit api-tests headers-check exports-check docs-check \
	banned-check layers-check install-check cli cli-tests daemons daemon-tests check-tls

all: shared static pc cli daemons $(RUN_DEMO)

deps:
	@tools/install-deps

shared: $(SHLIB) $(BUILDDIR)/$(SHLIB_SONAME) $(BUILDDIR)/libopconnect.so
static: $(STLIB)
pc: $(PCFILE)
cli: $(OP_BIN)
daemons: $(API_DAEMON) $(SYNC_DAEMON) $(ACCOUNT_DAEMON)

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(OPC_CPPFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) $(OPC_CFLAGS) $(CFLAGS) -c $< -o $@

# Every library object waits for civetweb's source (its header is included).
$(LIB_SRCS:%.c=$(BUILDDIR)/%.o): | $(CIVETWEB_STAMP)
$(CIVETWEB_STAMP):
	$(Q)tools/build-civetweb $(CIVETWEB_DIR)
# civetweb's code is not held to the project's warnings (-w); its symbols
# are hidden (-fvisibility=hidden, CIVETWEB_API empty).
$(BUILDDIR)/lib/core/mg_engine.o: $(MG_ENGINE_SRC) $(CIVETWEB_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $< (civetweb)")
	$(Q)$(CC) -Ilib -I$(CIVETWEB_DIR)/src -I$(CIVETWEB_DIR)/include $(CIVETWEB_FLAGS) $(CPPFLAGS) \
		$(DEP_CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden -w -MMD -MP $(CFLAGS) -c $< -o $@

$(SHLIB): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(SHLIB_SONAME) -Wl,--no-undefined $(OPC_LDFLAGS) $(CFLAGS) \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(DEP_LIBS)

$(BUILDDIR)/$(SHLIB_SONAME): $(SHLIB)
	$(Q)ln -sf $(notdir $(SHLIB)) $@
$(BUILDDIR)/libopconnect.so: $(BUILDDIR)/$(SHLIB_SONAME)
	$(Q)ln -sf $(SHLIB_SONAME) $@

$(STLIB): $(LIB_OBJS)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $(LIB_OBJS)

PC_SED = sed -e 's|@PREFIX@|$(prefix)|g' -e 's|@LIBDIR@|$(libdir)|g' \
	-e 's|@INCLUDEDIR@|$(includedir)|g' -e 's|@VERSION@|$(VERSION)|g'

# The build tree's copy; `install` writes its own with the install-time paths.
$(PCFILE): pkgconfig/libopconnect.pc.in $(VERSION_H)
	@mkdir -p $(@D)
	$(Q)$(PC_SED) $< > $@

# ---- the CLI ----
$(BUILDDIR)/tools/op/%.o: tools/op/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(OP_CPPFLAGS) $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(OP_BIN): $(OP_OBJS) $(STLIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OP_OBJS) $(STLIB) $(DEP_LIBS)

# ---- daemons ----
$(BUILDDIR)/daemons/%.o: daemons/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(DAEMON_CPPFLAGS) $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(SYNC_DAEMON): $(SYNC_DAEMON_OBJS) $(STLIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SYNC_DAEMON_OBJS) $(STLIB) $(DEP_LIBS)

$(ACCOUNT_DAEMON): $(ACCOUNT_DAEMON_OBJS) $(STLIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(ACCOUNT_DAEMON_OBJS) $(STLIB) $(DEP_LIBS)

$(API_DAEMON): $(API_DAEMON_OBJS) $(STLIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(API_DAEMON_OBJS) $(STLIB) $(DEP_LIBS)

$(RUN_DEMO): $(RUN_DEMO_SRCS) $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -Iinclude -DOPC_STATIC $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
		$(RUN_DEMO_SRCS) $(STLIB) $(DEP_LIBS)

# ---- tests ----
# Unit tests link the static library so they can reach internal functions.
# The headers each test includes are tracked by -MMD (the .d files below).
$(BUILDDIR)/tests/unit/%: tests/unit/%.c tests/unit/harness.h $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(TEST_CPPFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $< $(STLIB) $(CMOCKA_LIBS) $(DEP_LIBS)

# API tests see only the public headers and link the shared library.
$(BUILDDIR)/tests/api/%: tests/api/%.c $(SHLIB) $(BUILDDIR)/libopconnect.so
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) -Iinclude $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(BUILDDIR) -lopconnect -Wl,-rpath,$(CURDIR)/$(BUILDDIR) $(CMOCKA_LIBS)

# One throwaway PostgreSQL cluster for the whole unit run (the PostgreSQL
# store's tests need it: tools/with-pg), stopped afterwards, failure or not.
unit: $(UNIT_BINS)
	@tools/with-pg tools/run-tests unit $(UNIT_BINS)

api-tests: $(API_BINS)
	@tools/run-tests api $(API_BINS)

# The CLI end to end (tests/cli/), plus `mandoc -Tlint` of its man page.
$(BUILDDIR)/tests/cli/credcheck: tests/cli/credcheck.c $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) -Iinclude -DOPC_STATIC $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(STLIB) $(DEP_LIBS)

cli-tests: $(OP_BIN) $(BUILDDIR)/tests/cli/credcheck
	@tests/cli/run $(OP_BIN) $(BUILDDIR)/tests/cli/credcheck

# HTTPS of connect-api end to end: own certificates, and ACME against Pebble
# on 127.0.0.1 (tests/tls/run; about 75 s).
check-tls: all
	@tests/tls/run $(BUILDDIR)

# Every public header compiles alone as C11 and as C++.
headers-check:
	@tools/check-headers $(BUILDDIR) $(PUBLIC_HEADERS)

# abi/exports.txt lists exactly the exported symbols, all opc_-prefixed.
exports-check: shared
	@tools/check-exports $(SHLIB) abi/exports.txt

# Every opc_err has strerror text and a docs/errors.md row; lint greps.
docs-check:
	@tools/check-docs

banned-check:
	@tools/check-banned

# Includes follow the layer table (tools/check-layers, docs/architecture.md).
layers-check:
	@tools/check-layers

# Stage an install (lib, headers, .pc, op, daemons, man pages); build a
# pkg-config consumer and examples/appliance.c against it and run them.
install-check: all
	@tools/check-install "$(MAKE)" $(BUILDDIR)

# A test-only client: one upstream operation from a credentials file
# (tests/daemon/test_net_trust.sh), linked like the unit tests.
NET_PROBE := $(BUILDDIR)/tests/daemon/upstream_probe
AUK_PROBE := $(BUILDDIR)/tests/daemon/auk_probe
# The change feed's gap-checking reader (tests/daemon/test_pg_feed.sh).
FEED_PROBE := $(BUILDDIR)/tests/daemon/feed_probe
$(NET_PROBE) $(AUK_PROBE) $(FEED_PROBE): $(BUILDDIR)/tests/daemon/%: tests/daemon/%.c $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(TEST_CPPFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $< $(STLIB) $(DEP_LIBS)

# Daemons end to end (tests/daemon/*.sh): real processes, real HTTP; the
# account suites over a local account file, then over op-account-server on
# PostgreSQL (and two of them on its SQLite store): tools/run-daemon-tests.
daemon-tests: all $(NET_PROBE) $(AUK_PROBE) $(FEED_PROBE) $(BENCH_TOOLS)
	@tools/run-daemon-tests $(BUILDDIR)

# The official JS SDK (@1password/connect, pinned in tests/sdk/package.json;
# installed by tools/install-deps) against the daemons. Part of check-fast.
.PHONY: sdk-tests
sdk-tests: all
	@tests/sdk/run $(BUILDDIR)
	@echo "== sdk again, the upstream over HTTPS (op-account-server)"
	@OPC_UPSTREAM_MODE=https tests/sdk/run $(BUILDDIR)
	@echo "== sdk again, op-account-server on PostgreSQL"
	@OPC_UPSTREAM_MODE=https NET_STORE=pg tests/sdk/run $(BUILDDIR)

check-fast: all unit api-tests cli-tests daemon-tests sdk-tests check-tls headers-check exports-check \
		docs-check banned-check layers-check install-check fuzz-smoke
	@echo "check: all stages passed ($(BUILDDIR))"

check: deps
	@$(MAKE) --no-print-directory check-fast
	@$(MAKE) --no-print-directory asan
	@echo "make check: OK"

# Every test stage again, daemons included, built with ASan + UBSan; every
# sanitizer report (leaks at exit included) fails it (tools/run-sanitized).
# The account suites' second pass over op-account-server runs in check-fast
# only: under ASan the network code is exercised by the suites written for
# it (test_net_*, test_owner_remote, test_upstream_https,
# test_account_server, test_pg_*), and test_pg_feed writes for 10 s instead
# of 30 (CI time).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	@OPC_UPSTREAM_MODES=local PG_FEED_SECONDS=10 \
		tools/run-sanitized build-asan/sanitizer $(MAKE) --no-print-directory BUILDDIR=build-asan \
		CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" CIVETWEB_STACK=1048576 \
		all unit api-tests cli-tests daemon-tests

# ---- fuzzing (clang + libFuzzer) ----
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:fuzz/%.c=%)
FUZZ_DIR := build-fuzz
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/%.o) $(FUZZ_DIR)/lib/core/mg_engine.o
$(LIB_SRCS:%.c=$(FUZZ_DIR)/%.o): | $(CIVETWEB_STAMP)
$(FUZZ_DIR)/lib/core/mg_engine.o: $(MG_ENGINE_SRC) $(CIVETWEB_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $< (civetweb)")
	$(Q)$(FUZZ_CC) -Ilib -I$(CIVETWEB_DIR)/src -I$(CIVETWEB_DIR)/include $(CIVETWEB_FLAGS) \
		$(DEP_CFLAGS) -std=gnu11 -fPIC -w -g -O1 -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(OPC_CPPFLAGS) $(DEP_CFLAGS) -std=c11 -fPIC $(OPC_WARN) -Wno-unused-command-line-argument \
		-g -O1 -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_DIR)/bin/%: fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(OPC_CPPFLAGS) $(DEP_CFLAGS) -std=c11 $(OPC_WARN) $(FUZZ_FLAGS) -o $@ $< \
		$(FUZZ_LIB_OBJS) $(DEP_LIBS)

fuzz: $(FUZZ_NAMES:%=$(FUZZ_DIR)/bin/%)
	@tools/run-fuzz $(FUZZ_DIR) $(FUZZ_TIME) $(FUZZ_NAMES)

# Regenerate the seeds that need real signatures and ciphertexts (committed).
fuzz-corpus: $(BUILDDIR)/fuzz/gen_seeds
	$(BUILDDIR)/fuzz/gen_seeds

$(BUILDDIR)/fuzz/gen_seeds: fuzz/gen_seeds.c $(STLIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CPPFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $< $(STLIB) $(DEP_LIBS)

# In check: build every target and replay its seed corpus once.
fuzz-smoke: $(FUZZ_NAMES:%=$(FUZZ_DIR)/bin/%)
	@tools/run-fuzz $(FUZZ_DIR) 0 $(FUZZ_NAMES)

# ---- soak: issue 15's longer proofs (docs/testing.md, "Soak") ----
# Every fuzz target for SOAK_FUZZ_SECONDS (1 h), kill -9 of connect-sync
# over SOAK_ROUNDS (100) syncs, SOAK_LOAD_SECONDS (30 min) of mixed load,
# the data home full during writes; about 11 h on 2 CPUs. Never in check.
# With AFL++ installed (Debian's afl++), also AFL++ on connect-api's HTTP
# request path: tests/soak/afl_http.c over the library built with
# afl-clang-fast in AFL_DIR.
AFL_DIR ?= build-afl
AFL_CC := $(shell command -v afl-clang-fast 2>/dev/null)
soak: $(FUZZ_NAMES:%=$(FUZZ_DIR)/bin/%) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON) \
		$(BUILDDIR)/bench/deployed/populate $(if $(AFL_CC),afl-http)
	@AFL_DIR=$(if $(AFL_CC),$(AFL_DIR)) tests/soak/run $(BUILDDIR) $(FUZZ_DIR)

.PHONY: afl-http
afl-http:
	@AFL_QUIET=1 $(MAKE) --no-print-directory CC=afl-clang-fast BUILDDIR=$(AFL_DIR) \
		$(AFL_DIR)/tests/soak/afl_http

$(BUILDDIR)/tests/soak/afl_http: tests/soak/afl_http.c $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -Iinclude -DOPC_STATIC $(CPPFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(STLIB) $(DEP_LIBS)

# ---- benchmarks ----
$(BUILDDIR)/bench/%: bench/%.c $(STLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(TEST_CPPFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) $(TEST_CFLAGS) -O2 -g $(LDFLAGS) \
		-o $@ $< $(STLIB) $(DEP_LIBS)

bench: deps $(BENCH_BINS) $(RUN_DEMO) $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON) $(ACCOUNT_DAEMON)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done
	@echo "== bench/api (the embedded server, run-demo)"
	@bench/api/run $(BUILDDIR)
	@echo "== bench/deployed (connect-sync + connect-api, 10,000 items; ~7.5 min)"
	@bench/deployed/run $(BUILDDIR)
	@echo "== bench/http (the HTTP layer: many clients, hostile clients, HTTPS; ~4 min)"
	@bench/http/run $(BUILDDIR)
	@echo "== bench/net (op-account-server over HTTPS: sync, propagation, RSS; ~2 min)"
	@bench/net/run $(BUILDDIR)
	@echo "== bench/pg (op-account-server on PostgreSQL: sync, POST, 1,000 Connect servers; ~11 min)"
	@bench/pg/run $(BUILDDIR)
	@echo "== bench/rss (connect-api's RSS under lists and item GETs; ~2.5 min)"
	@bench/rss/run $(BUILDDIR)

# The deployed benchmark alone (docs/performance.md).
bench-deployed: $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON)
	@bench/deployed/run $(BUILDDIR)

# The HTTP layer benchmark alone (docs/performance.md, "HTTP layer").
bench-http: $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON)
	@bench/http/run $(BUILDDIR)

# The network benchmark alone (docs/performance.md, "Account server").
bench-net: $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON) $(ACCOUNT_DAEMON)
	@bench/net/run $(BUILDDIR)

# connect-api's memory under load alone (docs/performance.md, "Memory under
# large lists"); REQUESTS=1000000 for a long run.
bench-rss: $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON)
	@bench/rss/run $(BUILDDIR)

# The PostgreSQL benchmark alone (docs/performance.md, "PostgreSQL and many
# Connect servers").
bench-pg: $(BENCH_TOOLS) $(OP_BIN) $(API_DAEMON) $(SYNC_DAEMON) $(ACCOUNT_DAEMON)
	@bench/pg/run $(BUILDDIR)

# ---- run ----
run: deps
	@$(MAKE) --no-print-directory all
	@tools/run-main $(BUILDDIR)

# ---- lint ----
lint:
	@tools/lint

# ---- install ----
install: all
	$(INSTALL) -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir)/opconnect $(DESTDIR)$(pkgconfigdir)
	$(INSTALL) -m 0755 $(SHLIB) $(DESTDIR)$(libdir)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(libdir)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $(DESTDIR)$(libdir)/libopconnect.so
	$(INSTALL) -m 0644 $(STLIB) $(DESTDIR)$(libdir)/
	$(INSTALL) -m 0644 $(PUBLIC_HEADERS) $(DESTDIR)$(includedir)/opconnect/
	$(PC_SED) pkgconfig/libopconnect.pc.in > $(DESTDIR)$(pkgconfigdir)/libopconnect.pc
	chmod 0644 $(DESTDIR)$(pkgconfigdir)/libopconnect.pc
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(mandir)/man3 $(DESTDIR)$(mandir)/man8
	$(INSTALL) -m 0755 $(OP_BIN) $(DESTDIR)$(bindir)/op
	$(INSTALL) -m 0755 $(API_DAEMON) $(SYNC_DAEMON) $(ACCOUNT_DAEMON) $(DESTDIR)$(sbindir)/
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(mandir)/man1/
	$(INSTALL) -m 0644 $(MAN3) $(DESTDIR)$(mandir)/man3/
	$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(mandir)/man8/

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(notdir $(SHLIB)) $(DESTDIR)$(libdir)/$(SHLIB_SONAME) \
		$(DESTDIR)$(libdir)/libopconnect.so $(DESTDIR)$(libdir)/libopconnect.a \
		$(DESTDIR)$(pkgconfigdir)/libopconnect.pc
	rm -f $(PUBLIC_HEADERS:include/opconnect/%=$(DESTDIR)$(includedir)/opconnect/%)
	-rmdir $(DESTDIR)$(includedir)/opconnect 2>/dev/null
	rm -f $(DESTDIR)$(bindir)/op $(DESTDIR)$(sbindir)/connect-api $(DESTDIR)$(sbindir)/connect-sync \
		$(DESTDIR)$(sbindir)/op-account-server
	rm -f $(MAN1:man/%=$(DESTDIR)$(mandir)/man1/%) $(MAN3:man/%=$(DESTDIR)$(mandir)/man3/%) \
		$(MAN8:man/%=$(DESTDIR)$(mandir)/man8/%)

clean:
	rm -rf build build-asan build-fuzz build-afl $(filter-out build build-asan,$(BUILDDIR))

-include $(LIB_OBJS:.o=.d) $(UNIT_BINS:=.d) $(API_BINS:=.d) $(BENCH_BINS:=.d) $(BENCH_TOOLS:=.d) \
	$(OP_OBJS:.o=.d) \
	$(DAEMON_OBJS:.o=.d) $(BUILDDIR)/tests/cli/credcheck.d $(NET_PROBE).d $(AUK_PROBE).d $(FEED_PROBE).d
