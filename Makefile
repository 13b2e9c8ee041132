# greentor -- one non-recursive Makefile (see README for the two commands).
#
#   make run       install what is missing, build, run the example server
#   make check     install what is missing, build with -Werror under
#                  ASan+UBSan, start throw-away PostgreSQL and MariaDB, run
#                  every test suite (CK_RUN_SUITE=runtime runs one)
#   make all | install | examples | bench | fuzz | valgrind | format | clean
#
# Objects of the plain build go to build/, sanitizer builds to build-san/.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
CC      ?= cc
ARCH    := $(shell uname -m)
# The context switch: x86_64, aarch64, or the portable 'ucontext'.
SWITCH  ?= $(if $(filter $(ARCH),x86_64 aarch64),$(ARCH),ucontext)
SOVER   := 0
NPROC   := $(shell nproc 2>/dev/null || echo 2)
VERSION := 0.1.0

PKGS    := libuv libpq libmariadb sqlite3 jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Werror
CFLAGS  ?= -g -O2
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC \
           -fvisibility=hidden -fstack-clash-protection -Iinclude -Isrc \
           $(PKG_CFLAGS) -MMD -MP
# The sanitizer build is also the debug build: GT_DEBUG turns on the
# runtime's checks of the ownership rules the headers state.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer -O1 -DGT_DEBUG
LIBS    = $(PKG_LIBS) -lpthread

MODULES := runtime http db pool
SWITCHES := $(wildcard src/runtime/switch_*.c)
LIB_SRC := $(filter-out $(SWITCHES),$(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))) \
           src/runtime/switch_$(SWITCH).c
TEST_SRC := $(wildcard tests/*.c)

# ThreadSanitizer build of the runtime suite (make check runs it).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -O1 -DGT_DEBUG

OBJ     := $(LIB_SRC:%.c=build/%.o)
TSAN_OBJ := $(LIB_SRC:%.c=build-tsan/%.o) $(TEST_SRC:%.c=build-tsan/%.o)
SAN_OBJ := $(LIB_SRC:%.c=build-san/%.o)
TEST_OBJ := $(TEST_SRC:%.c=build-san/%.o)

.PHONY: all run check examples install bench fuzz fuzz-run valgrind format clean deps

all: build/libgreentor.a build/libgreentor.so examples

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build-san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

build/libgreentor.a: $(OBJ)
	$(AR) rcs $@ $^

build/libgreentor.so: $(OBJ)
	$(CC) -shared -Wl,-soname,libgreentor.so.$(SOVER) -o $@.$(SOVER) $^ $(LIBS)
	ln -sf libgreentor.so.$(SOVER) $@

build-tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) $(shell pkg-config --cflags check) -c $< -o $@

build-tsan/test_greentor: $(TSAN_OBJ)
	$(CC) $(TSAN_FLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs check)

build-san/libgreentor.a: $(SAN_OBJ)
	$(AR) rcs $@ $^

# ---- examples ----------------------------------------------------------------
EXAMPLES := hello showcase
examples: $(EXAMPLES:%=build/examples/%)

build/examples/%: examples/%/*.c build/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(filter %.c,$^) -o $@ build/libgreentor.a $(LIBS)

# The showcase carries its seed data: data/tfb-fortunes.tsv as an object.
build/examples/showcase: build/gen/fortunes.o
build/examples/showcase: LIBS += build/gen/fortunes.o
build/gen/fortunes.o: data/tfb-fortunes.tsv
	@mkdir -p $(dir $@)
	ld -r -b binary -z noexecstack -o $@ $<

run: deps
	$(MAKE) build/examples/showcase
	./build/examples/showcase

deps:
	@bash scripts/deps.sh build

# ---- tests ---------------------------------------------------------------------
build-san/test_greentor: $(TEST_OBJ) build-san/libgreentor.a
	$(CC) $(SAN_FLAGS) -o $@ $(TEST_OBJ) build-san/libgreentor.a \
	    $(LIBS) $(shell pkg-config --libs check)

build-san/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(shell pkg-config --cflags check) -c $< -o $@

check:
	@bash scripts/deps.sh test
	$(MAKE) -j$(NPROC) build-san/test_greentor build-tsan/test_greentor all \
	    $(FUZZ_TARGETS:%=build-san/fuzz/replay_%)
	@bash scripts/check.sh

# ---- fuzzing -------------------------------------------------------------------
# make check replays each corpus with gcc and the sanitizers; in CI (and by
# `make fuzz-run`) the libFuzzer targets also run for FUZZ_SECONDS each.
FUZZ_TARGETS := http_parse http_conn
FUZZ_SECONDS ?= 60

build-san/fuzz/replay_%: fuzz/replay.c fuzz/fuzz_%.c build-san/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Isrc/http fuzz/replay.c fuzz/fuzz_$*.c \
	    -o $@ build-san/libgreentor.a $(LIBS)

build/fuzz/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -Iinclude -Isrc -Isrc/http $(PKG_CFLAGS) $< $(LIB_SRC) -o $@ $(LIBS)

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus-$$t; \
	    echo "fuzzing $$t for $(FUZZ_SECONDS) s" >&2; \
	    ./build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 build/fuzz/corpus-$$t fuzz/corpus/$$t \
	        2>build/fuzz/$$t.log || { tail -50 build/fuzz/$$t.log; exit 1; }; \
	    grep -E "stat::number_of_executed_units|Done" build/fuzz/$$t.log >&2 || true; \
	done

# The runtime suite without sanitizers, under valgrind memcheck, unforked.
build/test_greentor: $(TEST_SRC:%.c=build/%.o) build/libgreentor.a
	$(CC) -o $@ $^ $(LIBS) $(shell pkg-config --libs check)

build/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags check) -c $< -o $@

valgrind: build/test_greentor
	CK_FORK=no CK_RUN_SUITE=$${CK_RUN_SUITE:-runtime} valgrind --error-exitcode=1 \
	    --leak-check=full --errors-for-leak-kinds=definite \
	    ./build/test_greentor

# ---- install -------------------------------------------------------------------
build/greentor.pc: greentor.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: build/libgreentor.a build/libgreentor.so build/greentor.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/greentor
	install -m 644 include/greentor.h $(DESTDIR)$(INCDIR)/
	install -m 644 include/greentor/*.h $(DESTDIR)$(INCDIR)/greentor/
	install -m 644 build/libgreentor.a $(DESTDIR)$(LIBDIR)/
	install -m 755 build/libgreentor.so.$(SOVER) $(DESTDIR)$(LIBDIR)/
	ln -sf libgreentor.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libgreentor.so
	install -m 644 build/greentor.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# ---- benchmarks ------------------------------------------------------------------
BENCHES := bench_runtime bench_pool bench_db
build/bench/bench_pool: bench/bench_pool.c build/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ build/libgreentor.a $(LIBS)

build/bench/bench_db: bench/bench_db.c build/libgreentor.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ build/libgreentor.a $(LIBS)

build/bench/bench_runtime: bench/bench_runtime.c build/libgreentor.a \
        build/bench/switch_uc.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/runtime $< build/bench/switch_uc.o -o $@ \
	    build/libgreentor.a $(LIBS)

# The ucontext switch again, renamed, so one bench binary holds both.
build/bench/switch_uc.o: src/runtime/switch_ucontext.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Dgt__ctx_init=uc_ctx_init \
	    -Dgt__ctx_switch=uc_ctx_switch -Dgt__ctx_deinit=uc_ctx_deinit \
	    -c $< -o $@

bench:
	@bash scripts/deps.sh bench
	$(MAKE) $(BENCHES:%=build/bench/%) build/examples/showcase
	@bash bench/run.sh

format:
	clang-format -i $(LIB_SRC) $(TEST_SRC) include/*.h include/greentor/*.h

clean:
	rm -rf build build-san build-tsan

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(TSAN_OBJ:.o=.d)
