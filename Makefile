# allears: build, test, fuzz, install.
# `make` builds everything into build/ (gcc by default; `make CC=clang` works too).
# `make check` runs every test tier that exists and ends with "N passed, N failed".

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 20

PKGS     := libsodium wolfssl libsystemd jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
CPPFLAGS += -D_GNU_SOURCE -Isrc
ALL_CFLAGS  = -std=c17 -pthread $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pthread $(LDHARDEN) $(LDFLAGS)

# Libraries: src/common (codecs, crypto) and src/ipc (channels). Daemons may use
# both; libraries never reach into a daemon.
COMMON_SRC := $(sort $(wildcard src/common/*.c))
IPC_SRC    := $(sort $(wildcard src/ipc/*.c))
LIB_SRC    := $(COMMON_SRC) $(IPC_SRC)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/liballears.a

# Programs: every src/<role>/ holding a main.c becomes build/allears-<role>. The
# role's other files form build/lib<role>.a, which its unit tests and fuzz
# targets link too (a test named test_<role>_*.c or fuzz_<role>_*.c).
# The user's client lives in src/client/ (main in allears.c) and becomes build/allears.
ROLES      := $(filter-out common ipc client,$(patsubst src/%/main.c,%,$(wildcard src/*/main.c)))
CLIENT     := $(if $(wildcard src/client/allears.c),$(BUILD)/allears)
PROGS      := $(ROLES:%=$(BUILD)/allears-%) $(CLIENT)
LIBDIRS    := $(ROLES) $(if $(CLIENT),client)
ROLE_LIBS  := $(LIBDIRS:%=$(BUILD)/lib%.a)
role_srcs   = $(filter-out src/$(1)/main.c src/$(1)/allears.c,$(wildcard src/$(1)/*.c))
role_objs   = $(patsubst %.c,$(BUILD)/obj/%.o,$(call role_srcs,$(1)))
# The role library a test or fuzz target needs, from its name (test_storage_x -> storage).
role_of     = $(filter $(LIBDIRS),$(word 2,$(subst _, ,$(1))))
role_lib    = $(patsubst %,$(BUILD)/lib%.a,$(call role_of,$(1)))

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC   := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_SRC  := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

# Second expansion lets prerequisites depend on the target's stem.
.SECONDEXPANSION:
.PHONY: all check unit-tests fuzz fuzz-build run install deps clean bench vm-test
all: $(LIB) $(ROLE_LIBS) $(PROGS) $(UNIT_BIN) $(TOOL_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/lib%.a: $$(call role_objs,$$*)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/allears-%: $(BUILD)/obj/src/%/main.o $(BUILD)/lib%.a $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter-out $(LIB),$(filter %.a,$^)) $(LIB) $(PKG_LIBS)

# allears-admin init writes Account's first state with Account's own code.
$(BUILD)/allears-admin: $(BUILD)/libaccount.a

$(BUILD)/allears: $(BUILD)/obj/src/client/allears.o $(BUILD)/libclient.a $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $$(call role_lib,test_$$*) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(filter %.a,$^) $(PKG_LIBS)

# A tool named <role>_*.c (deliver_mimedump.c) also links that role's library.
$(BUILD)/tests/%: tests/tools/%.c $$(call role_lib,tool_$$*) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(filter %.a,$^) $(PKG_LIBS)

# The test runner counts PASS/FAIL lines from every tier and prints the total.
check: all
	@tests/run-tests.sh $(BUILD)

# libFuzzer targets, built with clang and ASan+UBSan straight from the sources.
FUZZ_FLAGS := -std=c17 -pthread -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
fuzz-build: $(FUZZ_BIN)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard src/*/*.[ch])
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(call role_srcs,$(call role_of,$*)) $(PKG_LIBS)

fuzz: fuzz-build
	@tests/run-fuzz.sh $(BUILD) $(FUZZ_SECONDS)

run: all
	@tests/run-local.sh $(BUILD)

# Benchmarks (docs/BENCHMARKS.md): numbers, never pass/fail on thresholds; an
# operation that fails makes the run fail.
$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# The API load generator uses the client's HTTPS and state code.
$(BUILD)/bench/apibench: tests/bench/apibench.c $(BUILD)/libclient.a $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libclient.a $(LIB) $(PKG_LIBS)

bench: all $(BENCH_BIN)
	@/usr/bin/python3 tests/bench/run-bench.py $(BUILD)

# Units name /usr/bin in ExecStart= (so they verify as they are); install
# rewrites it to $(BINDIR), so ExecStart= follows
# PREFIX (DESTDIR is only where the files land, never part of a path in them).
# $(PREFIX)/lib/systemd/system, sysusers.d and tmpfiles.d are searched by
# systemd for both PREFIX=/usr and PREFIX=/usr/local (docs/OPERATIONS.md).
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
UNIT_FILES  := $(sort $(wildcard units/*.service units/*.socket units/*.target))

install: all
	install -d $(DESTDIR)$(BINDIR)
	$(if $(PROGS),install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/)
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNIT_FILES); do \
		sed -e 's|^ExecStart=/usr/bin/|ExecStart=$(BINDIR)/|' $$u > $(DESTDIR)$(UNITDIR)/$${u#units/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u#units/}.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$${u#units/}.tmp $(DESTDIR)$(UNITDIR)/$${u#units/} || exit 1; \
	done
	install -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 units/sysusers.d/allears.conf $(DESTDIR)$(SYSUSERSDIR)/allears.conf
	install -m 0644 units/tmpfiles.d/allears.conf $(DESTDIR)$(TMPFILESDIR)/allears.conf
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/allears/web
	install -m 0644 data/web/index.html $(DESTDIR)$(PREFIX)/share/allears/web/index.html
	install -d $(DESTDIR)$(PREFIX)/share/doc/allears
	install -m 0644 README.md LICENSE docs/*.md $(DESTDIR)$(PREFIX)/share/doc/allears/

# VM tests under a real systemd (vm-tests/README.md): installs this build with
# `make install DESTDIR=<payload> PREFIX=/usr` into a cached Debian 12 rootfs
# booted by systemd-nspawn (every scenario) and qemu (a smaller set). Root only.
# VM_LANE=nspawn|qemu|all; VM_ARGS passes more options (--roles, --only).
VM_LANE ?= all
vm-test: all
	vm-tests/run.sh --lane $(VM_LANE) --no-build $(VM_ARGS) $(BUILD)

deps:
	.ci/deps

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
