# weightslock - build, test, benchmark, fuzz.
#
#   make            library (static + shared), pkg-config file, program
#   make check      install missing Debian packages, build with -Werror, run
#                   every suite, then again under ASan+UBSan (what CI runs)
#   make demo       run the main job on the bundled example project
#   make bench      benchmarks (ratios against references measured in the same run)
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS per target
#   make install    PREFIX (default /usr/local) and DESTDIR honoured
#
# Warnings are errors only in `make check`, so a newer compiler's new
# warning never breaks a user's build; WERROR=-Werror asks for it anywhere,
# and `make check WERROR=` drops it. Objects depend on $(BUILD)/flags, which
# changes only when the compiler flags do, so a build with other flags
# (with or without -Werror) recompiles everything instead of reusing it.
# A top-level make runs one job per CPU (nproc, else 2) unless given -j.

ifeq ($(MAKELEVEL),0)
MAKEFLAGS += $(shell sh scripts/make-jobs.sh $$PPID)
endif

PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
SAN     ?=
WERROR  ?=
VERSION := 0.1.0

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral $(WERROR)
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     ?= -O2 -g
ifeq ($(SAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
endif
PKGS    := libcrypto zlib yaml-0.1 libzstd libcurl libdeflate
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcrypto -lz -lyaml -lzstd -lcurl -ldeflate)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Iinclude -Ilib $(PKG_CFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -pthread

LIB_SRC  := $(sort $(wildcard lib/*/*.c))
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
LIB_PIC  := $(LIB_SRC:lib/%.c=$(BUILD)/pic/%.o)
PROG_SRC := $(sort $(wildcard programs/*.c))
PROG_OBJ := $(PROG_SRC:programs/%.c=$(BUILD)/programs/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all check test deps demo bench fuzz install clean unit-tests FORCE
all: $(BUILD)/libweightslock.a $(BUILD)/libweightslock.so $(BUILD)/weightslock.pc $(BUILD)/weightslock

# Rewritten only when the flags change, so objects built with others are
# rebuilt (FORCE makes it checked on every run).
$(BUILD)/flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/lib/%.o: lib/%.c include/weightslock.h $(wildcard lib/*/*.h) $(BUILD)/flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: lib/%.c include/weightslock.h $(wildcard lib/*/*.h) $(BUILD)/flags
	@mkdir -p $(dir $@)
	@echo "  CC(pic) $<"
	@$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -DWL_BUILDING_SHARED -c $< -o $@

$(BUILD)/programs/%.o: programs/%.c include/weightslock.h $(wildcard programs/*.h) $(BUILD)/flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libweightslock.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^

$(BUILD)/libweightslock.so: $(LIB_PIC)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -shared -Wl,-soname,libweightslock.so.0 -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/weightslock: $(PROG_OBJ) $(BUILD)/libweightslock.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $(PROG_OBJ) $(BUILD)/libweightslock.a $(LDFLAGS) $(LDLIBS)

# Rewritten on every build so it always carries the PREFIX asked for.
$(BUILD)/weightslock.pc: weightslock.pc.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:

$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(BUILD)/libweightslock.a $(BUILD)/flags
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libweightslock.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libweightslock.a $(BUILD)/flags
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libweightslock.a $(LDFLAGS) $(LDLIBS)

unit-tests: $(UNIT_BIN) $(TOOL_BIN)

deps:
	@sh scripts/install-deps.sh

# One build, every suite, one summary line.
test: all unit-tests
	@sh tests/run-all.sh $(BUILD)

# -Werror unless WERROR was given (on the command line or in the environment).
CHECK_WERROR := $(if $(filter command line environment,$(origin WERROR)),$(WERROR),-Werror)

check: deps
	@$(MAKE) --no-print-directory WERROR='$(CHECK_WERROR)' all unit-tests
	@$(MAKE) --no-print-directory WERROR='$(CHECK_WERROR)' BUILD=build/asan SAN=1 all unit-tests
	@sh tests/run-all.sh build build/asan

demo:
	@sh scripts/install-deps.sh --build
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh $(BUILD)/weightslock

bench:
	@sh scripts/install-deps.sh --build openssl curl
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

fuzz:
	@sh fuzz/run.sh

install: all $(BUILD)/weightslock.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BUILD)/weightslock $(DESTDIR)$(PREFIX)/bin/weightslock
	install -m 0644 $(BUILD)/libweightslock.a $(DESTDIR)$(PREFIX)/lib/libweightslock.a
	install -m 0755 $(BUILD)/libweightslock.so $(DESTDIR)$(PREFIX)/lib/libweightslock.so.0
	ln -sf libweightslock.so.0 $(DESTDIR)$(PREFIX)/lib/libweightslock.so
	install -m 0644 include/weightslock.h $(DESTDIR)$(PREFIX)/include/weightslock.h
	install -m 0644 $(BUILD)/weightslock.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/weightslock.pc

clean:
	rm -rf build
