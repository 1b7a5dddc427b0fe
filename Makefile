# vmaild - build, run and test.
#
#   make            build build/vmaild and build/vmailctl
#   make run        install what is missing, build, run `vmaild --dev dev-run`
#   make check      install what is missing, build, run every test
#   make check SAN=1   the same with ASan + UBSan
#   make bench      benchmarks under bench/
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make install    PREFIX=/usr/local DESTDIR=
#
# Every src/<module>/*.c is part of libvmaild.a; src/vmaild.c and src/ctl/
# make the two programs. tests/unit/test-*.c are cmocka programs,
# tests/fuzz/fuzz-*.c libFuzzer targets, tests/integration/ pytest suites.

PREFIX ?= /usr/local
DESTDIR ?=
SAN ?=
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=

PKGS := libevent libevent_openssl libevent_pthreads openssl sqlite3 libmariadb \
	libunbound libcrypt libargon2 zlib inih jansson

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS_BASE := -std=gnu11 -g $(WARN) -D_GNU_SOURCE -Isrc
ifeq ($(SAN),1)
O := build-san
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else
O := build
CFLAGS_OPT := -O2
LDFLAGS_SAN :=
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = $(CFLAGS_BASE) $(CFLAGS_OPT) $(PKG_CFLAGS) $(CFLAGS)
LIBS_ALL = $(PKG_LIBS) -lpthread $(LDFLAGS_SAN) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_SRC := $(filter-out src/ctl/%,$(LIB_SRC))
CTL_SRC := $(sort $(wildcard src/ctl/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(O)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all deps run check unit fuzz fuzz-smoke bench install clean format tests

all: $(O)/vmaild $(O)/vmailctl

deps:
	@./scripts/deps.sh

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(O)/libvmaild.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/vmaild: $(O)/src/vmaild.o $(O)/libvmaild.a
	$(CC) -o $@ $^ $(LIBS_ALL)

$(O)/vmailctl: $(CTL_OBJ) $(O)/libvmaild.a
	$(CC) -o $@ $^ $(LIBS_ALL)

$(O)/tests/test-%: tests/unit/test-%.c $(O)/libvmaild.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -o $@ $< $(O)/libvmaild.a \
		$(LIBS_ALL) $(shell pkg-config --libs cmocka)

tests: all $(UNIT_BIN) $(O)/imap-render

$(O)/imap-render: tests/tools/imap-render.c $(O)/libvmaild.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(O)/libvmaild.a $(LIBS_ALL)

# Fuzz targets: clang with libFuzzer, the library rebuilt with coverage.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/%.o)
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build-fuzz/libvmaild.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
build-fuzz/fuzz-%: tests/fuzz/fuzz-%.c build-fuzz/libvmaild.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< build-fuzz/libvmaild.a $(PKG_LIBS) -lpthread

fuzz-build: $(FUZZ_BIN)

fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build-fuzz/corpus/$$n; \
		echo "== $$n"; $$f -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

# make check: unit tests, fuzz smoke runs and integration tests all run
# under pytest so that one summary line closes the run.
check: deps tests fuzz-build
	VMAILD_BUILD=$(CURDIR)/$(O) VMAILD_FUZZ=$(CURDIR)/build-fuzz VMAILD_SAN=$(SAN) \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

run: deps all
	$(O)/vmaild --dev dev-run

BENCH_SRC := $(wildcard bench/*/bench-*.c)
BENCH_BIN := $(addprefix $(O)/,$(notdir $(BENCH_SRC:.c=)))
vpath bench-%.c $(sort $(dir $(BENCH_SRC)))
$(O)/bench-%: bench-%.c $(O)/libvmaild.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(O)/libvmaild.a $(LIBS_ALL)

# bench/imap's load generator: plain C and pthreads, no library of ours
$(O)/imap-load: bench/imap/imap-load.c
	@mkdir -p $(O)
	$(CC) $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS) -o $@ $< -lpthread $(LDFLAGS_SAN) $(LDFLAGS)

# bench/imap runs last: it creates and deletes 20 000 Maildir files, which
# slows file creation on ext4 without a journal for minutes (bench/README.md)
bench: deps all $(BENCH_BIN) $(O)/imap-load
	@for b in $(filter-out bench/imap/run,$(sort $(wildcard bench/*/run))) bench/imap/run; do \
		echo "== $$b"; VMAILD_BUILD=$(CURDIR)/$(O) $(PYTHON) $$b || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/vmaild $(DESTDIR)/lib/systemd/system
	install -m 755 $(O)/vmaild $(O)/vmailctl $(DESTDIR)$(PREFIX)/sbin/
	sed 's|@PREFIX@|$(PREFIX)|g' contrib/vmaild.service > $(DESTDIR)/lib/systemd/system/vmaild.service
	test -e $(DESTDIR)/etc/vmaild/vmaild.conf || install -m 640 contrib/vmaild.conf $(DESTDIR)/etc/vmaild/vmaild.conf

format:
	clang-format -i $(LIB_SRC) $(CTL_SRC) src/vmaild.c $(wildcard src/*/*.h)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(O)/src/vmaild.d
