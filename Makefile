# greentor -- one non-recursive Makefile (see README for the two commands).
#
#   make run       install what is missing, build, run the example server
#   make check     install what is missing, build with -Werror under
#                  ASan+UBSan, start throw-away PostgreSQL and MariaDB, run
#                  every test suite (CK_RUN_SUITE=runtime runs one)
#   make all | install | examples | bench | fuzz | valgrind | format |
#        format-check | clean
#
# Objects of the plain build go to build/, sanitizer builds to build-san/.
# A build with another context switch than the machine's own (make
# SWITCH=ucontext) is a variant with folders of its own, build-ucontext/ and
# build-san-ucontext/, so that its objects never mix with the others.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
CC      ?= cc
ARCH    := $(shell uname -m)
# The context switch: x86_64, aarch64 (switch_<arch>.S), or the portable
# 'ucontext' (switch_ucontext.c).
NATIVE_SWITCH := $(if $(filter $(ARCH),x86_64 aarch64),$(ARCH),ucontext)
SWITCH  ?= $(NATIVE_SWITCH)
VARIANT := $(if $(filter $(NATIVE_SWITCH),$(SWITCH)),,-$(SWITCH))
B       := build$(VARIANT)
BS      := build-san$(VARIANT)
SOVER   := 0
NPROC   := $(shell nproc 2>/dev/null || echo 2)
# The version is written once, in include/greentor/version.h; greentor.pc
# gets it from there.
VERSION := $(shell awk '$$2 ~ /^GT_VERSION_(MAJOR|MINOR|PATCH)$$/ \
               { v = v (v == "" ? "" : ".") $$3 } END { print v }' \
               include/greentor/version.h)
$(if $(filter 3,$(words $(subst ., ,$(VERSION)))),,\
    $(error cannot read the version from include/greentor/version.h))

PKGS    := libuv libpq libmariadb sqlite3 jansson libcurl hiredis openssl \
           libnghttp2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Warnings are errors only where we know the compiler: `make check` (and so
# CI) passes WERROR=1, and the sanitizer builds, which only the tests use,
# always have it. A plain `make` or `make install` with a newer compiler
# that warns about something new still builds. `make check` does not
# rebuild objects a plain `make` left in build/: after changing the code,
# run `make clean` first to have every object built with -Werror.
WERROR  ?=
ERR      = $(if $(filter-out 0,$(WERROR)),-Werror)
CFLAGS  ?= -g -O2
# `make DEBUG=1`: the release build with the ownership checks (GT_DEBUG:
# a broken owner rule aborts instead of returning its error code). The
# sanitizer builds always have them.
DEBUG   ?=
DBG      = $(if $(filter-out 0,$(DEBUG)),-DGT_DEBUG)
# Include fencing: a library file (src/<module>/) sees the public headers,
# its own module's internals (a quoted include finds them next to it) and
# src/base; never another module's internals; an example, only the public
# headers, as a user would. Tests, fuzzers and benches are white-box and
# see all of src/.
FENCE   = $(if $(filter src/% examples/%,$<),,-Isrc) \
          $(if $(filter examples/%,$<),,-Isrc/base)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(ERR) $(DBG) $(CFLAGS) -fPIC \
           -fvisibility=hidden -fstack-clash-protection -Iinclude $(FENCE) \
           $(PKG_CFLAGS) -MMD -MP
# The sanitizer build is also the debug build: GT_DEBUG turns on the
# runtime's checks of the ownership rules the headers state.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer -O1 -DGT_DEBUG -Werror
LIBS    = $(PKG_LIBS) -lpthread

MODULES := runtime http db pool client net redis
SWITCHES := $(wildcard src/runtime/switch_*.c src/runtime/switch_*.S)
SWITCH_SRC := $(firstword $(wildcard src/runtime/switch_$(SWITCH).S \
                                     src/runtime/switch_$(SWITCH).c))
$(if $(SWITCH_SRC),,$(error no context switch for SWITCH=$(SWITCH)))
LIB_SRC := $(filter-out $(SWITCHES),$(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))) \
           $(SWITCH_SRC)
TEST_SRC := $(wildcard tests/*.c)

# ThreadSanitizer build of the runtime and HTTP suites (make check runs it).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -O1 -DGT_DEBUG -Werror
TSAN_OBJ := $(addprefix build-tsan/,$(addsuffix .o,$(basename $(LIB_SRC)))) \
            $(TEST_SRC:%.c=build-tsan/%.o)
OBJ     := $(addprefix $(B)/,$(addsuffix .o,$(basename $(LIB_SRC))))
SAN_OBJ := $(addprefix $(BS)/,$(addsuffix .o,$(basename $(LIB_SRC))))
TEST_OBJ := $(TEST_SRC:%.c=$(BS)/%.o)

.PHONY: all run check examples install bench fuzz fuzz-run valgrind format \
        format-check clean deps

all: $(B)/libgreentor.a $(B)/libgreentor.so examples

# The hand-written switches; gcc runs the preprocessor on .S files. These
# rules come before the .c ones, and the old switch_<arch>.c names are
# targets of nothing, so that the .d files of builds made before the
# switches became .S files (which name the .c) cost one rebuild of the
# switch, not a "No rule to make target" error.
$(B)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BS)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

src/runtime/switch_x86_64.c src/runtime/switch_aarch64.c:

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BS)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(B)/libgreentor.a: $(OBJ)
	$(AR) rcs $@ $^

$(B)/libgreentor.so: $(OBJ)
	$(CC) -shared -Wl,-soname,libgreentor.so.$(SOVER) -o $@.$(SOVER) $^ $(LIBS)
	ln -sf libgreentor.so.$(SOVER) $@

build-tsan/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -c $< -o $@

build-tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) $(shell pkg-config --cflags check) -c $< -o $@

build-tsan/test_greentor: $(TSAN_OBJ)
	$(CC) $(TSAN_FLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs check)

$(BS)/libgreentor.a: $(SAN_OBJ)
	$(AR) rcs $@ $^

# ---- examples ----------------------------------------------------------------
EXAMPLES := hello showcase bookmarks
examples: $(EXAMPLES:%=$(B)/examples/%)

$(B)/examples/%: examples/%/*.c $(B)/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(filter %.c,$^) -o $@ $(B)/libgreentor.a $(LIBS)

# The showcase carries its seed data: data/tfb-fortunes.tsv as an object.
$(B)/examples/showcase: $(B)/gen/fortunes.o
$(B)/examples/showcase: LIBS += $(B)/gen/fortunes.o
$(B)/gen/fortunes.o: data/tfb-fortunes.tsv
	@mkdir -p $(dir $@)
	ld -r -b binary -z noexecstack -o $@ $<

run: deps
	$(MAKE) $(B)/examples/showcase
	./$(B)/examples/showcase

deps:
	@bash scripts/deps.sh build

# ---- tests ---------------------------------------------------------------------
$(BS)/test_greentor: $(TEST_OBJ) $(BS)/libgreentor.a
	$(CC) $(SAN_FLAGS) -o $@ $(TEST_OBJ) $(BS)/libgreentor.a \
	    $(LIBS) $(shell pkg-config --libs check)

$(BS)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(shell pkg-config --cflags check) -c $< -o $@

check:
	@bash scripts/deps.sh test
	$(MAKE) -j$(NPROC) WERROR=1 $(BS)/test_greentor \
	    build-tsan/test_greentor all \
	    $(FUZZ_TARGETS:%=$(BS)/fuzz/replay_%) $(SELFTESTS)
	$(MAKE) -j$(NPROC) WERROR=1 SWITCH=ucontext \
	    build-san-ucontext/test_greentor
	@bash scripts/check.sh

# The hand-written switches on their own (tests/switch/selftest.c): one .S
# and a small driver, no libuv, so the AArch64 one cross-compiles with
# Debian's aarch64-linux-gnu-gcc, static, and runs under qemu-user.
# scripts/check.sh runs each natively or under qemu-<arch>-static.
SELFTEST_CC_x86_64 := x86_64-linux-gnu-gcc
SELFTEST_CC_aarch64 := aarch64-linux-gnu-gcc
SELFTESTS := $(if $(filter x86_64,$(ARCH)),build/selftest/switch_x86_64 \
                 build/selftest/switch_aarch64, \
               $(if $(filter aarch64,$(ARCH)),build/selftest/switch_aarch64))

build/selftest/switch_%: tests/switch/selftest.c src/runtime/switch_%.S
	@mkdir -p $(dir $@)
	$(SELFTEST_CC_$*) -std=c11 -D_GNU_SOURCE $(WARN) $(ERR) $(CFLAGS) -static \
	    $^ -o $@

# ---- fuzzing -------------------------------------------------------------------
# make check replays each corpus with gcc and the sanitizers; in CI (and by
# `make fuzz-run`) the libFuzzer targets also run for FUZZ_SECONDS each.
FUZZ_TARGETS := http_parse http_conn
FUZZ_SECONDS ?= 60

$(BS)/fuzz/replay_%: fuzz/replay.c fuzz/fuzz_%.c $(BS)/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc/http fuzz/replay.c fuzz/fuzz_$*.c \
	    -o $@ $(BS)/libgreentor.a $(LIBS)

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -Iinclude -Isrc -Isrc/base -Isrc/http $(PKG_CFLAGS) $< $(LIB_SRC) \
	    -o $@ $(LIBS)

fuzz: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(B)/fuzz/corpus-$$t; \
	    echo "fuzzing $$t for $(FUZZ_SECONDS) s" >&2; \
	    ./$(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 $(B)/fuzz/corpus-$$t fuzz/corpus/$$t \
	        2>$(B)/fuzz/$$t.log || { tail -50 $(B)/fuzz/$$t.log; exit 1; }; \
	    grep -E "stat::number_of_executed_units|Done" $(B)/fuzz/$$t.log >&2 || true; \
	done

# The runtime suite without sanitizers, under valgrind memcheck, unforked.
$(B)/test_greentor: $(TEST_SRC:%.c=$(B)/%.o) $(B)/libgreentor.a
	$(CC) -o $@ $^ $(LIBS) $(shell pkg-config --libs check)

$(B)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags check) -c $< -o $@

valgrind: $(B)/test_greentor
	CK_FORK=no CK_RUN_SUITE=$${CK_RUN_SUITE:-runtime} valgrind --error-exitcode=1 \
	    --leak-check=full --errors-for-leak-kinds=definite \
	    ./$(B)/test_greentor

# ---- install -------------------------------------------------------------------
# The paths baked into greentor.pc: it is remade when they change, so that
# `make install PREFIX=...` after a build for another prefix installs a .pc
# that points at the new one.
PC_PATHS := $(PREFIX)|$(LIBDIR)|$(INCDIR)
$(B)/pc-paths: FORCE
	@mkdir -p $(B)
	@echo '$(PC_PATHS)' | cmp -s - $@ || echo '$(PC_PATHS)' > $@

.PHONY: FORCE
FORCE:

$(B)/greentor.pc: greentor.pc.in $(B)/pc-paths
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: $(B)/libgreentor.a $(B)/libgreentor.so $(B)/greentor.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/greentor
	install -m 644 include/greentor.h $(DESTDIR)$(INCDIR)/
	install -m 644 include/greentor/*.h $(DESTDIR)$(INCDIR)/greentor/
	install -m 644 $(B)/libgreentor.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libgreentor.so.$(SOVER) $(DESTDIR)$(LIBDIR)/
	ln -sf libgreentor.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libgreentor.so
	install -m 644 $(B)/greentor.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# ---- benchmarks ------------------------------------------------------------------
BENCHES := bench_runtime bench_pool bench_db bench_client
$(B)/bench/bench_pool: bench/bench_pool.c $(B)/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(B)/libgreentor.a $(LIBS)

$(B)/bench/bench_client: bench/bench_client.c $(B)/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(B)/libgreentor.a $(LIBS)

$(B)/bench/bench_db: bench/bench_db.c $(B)/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(B)/libgreentor.a $(LIBS)

$(B)/bench/bench_runtime: bench/bench_runtime.c $(B)/libgreentor.a \
        $(B)/bench/switch_uc.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/runtime $< $(B)/bench/switch_uc.o -o $@ \
	    $(B)/libgreentor.a $(LIBS)

# A plain client (libc only) that holds idle keep-alive connections open.
$(B)/bench/idle_conns: bench/idle_conns.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@

# The ucontext switch again, renamed, so one bench binary holds both.
$(B)/bench/switch_uc.o: src/runtime/switch_ucontext.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Dgt__ctx_init=uc_ctx_init \
	    -Dgt__ctx_switch=uc_ctx_switch -Dgt__ctx_deinit=uc_ctx_deinit \
	    -c $< -o $@

bench:
	@bash scripts/deps.sh bench
	$(MAKE) $(BENCHES:%=$(B)/bench/%) $(B)/bench/idle_conns \
	    $(B)/examples/showcase
	@bash bench/run.sh

# Formatting (.clang-format). format-check changes nothing: it names each
# file clang-format would change, with the number of its lines that would
# change, and fails if there is one.
CLANG_FORMAT ?= clang-format
FORMAT_SRC := $(wildcard include/*.h include/greentor/*.h src/*/*.c \
                src/*/*.h tests/*.c tests/*.h tests/switch/*.c \
                examples/*/*.c examples/*/*.h fuzz/*.c bench/*.c)

format:
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || \
	    { echo "format-check: $(CLANG_FORMAT) not found" >&2; exit 1; }
	@bad=0; lines=0; \
	for f in $(FORMAT_SRC); do \
	    n=$$($(CLANG_FORMAT) "$$f" | diff "$$f" - | grep -c '^<'); \
	    if [ "$$n" -gt 0 ]; then \
	        echo "$$f: $$n lines not formatted"; \
	        bad=$$((bad + 1)); lines=$$((lines + n)); \
	    fi; \
	done; \
	if [ "$$bad" -gt 0 ]; then \
	    echo "format-check: $$bad files, $$lines lines; run make format" >&2; \
	    exit 1; \
	fi

clean:
	rm -rf build build-san build-tsan build-ucontext build-san-ucontext

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(TSAN_OBJ:.o=.d)
