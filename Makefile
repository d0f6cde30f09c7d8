# memscope build: the analyser library (src/core, src/report), the CLI binary
# (src/cli -> bin/memscope) and the CPython extension (src/python ->
# python/memscope/_memscope*.so). Plain GNU make; every folder's sources are
# picked up by wildcard, so adding a file needs no edit here. Two sources are
# generated into $(BUILD)/gen: the HTML report's assets (web/ as C arrays,
# so the report is one self-contained file) and the pprof encoder (protoc-c
# from src/report/pprof.proto).
#
#   make                 build everything
#   make test            build, then run the C and Python test suites
#   make SANITIZE=1 ...  the same under ASan+UBSan (objects in build-asan/), with
#                        the debug checkers of the heap graph and live map on
#   make WERROR= ...     warnings stay warnings: what installs from source use,
#                        since a newer compiler or CPython header may warn where
#                        ours did not (development builds keep -Werror)
#
# Libraries, each the standard one for its job (Debian -dev packages):
#   libzstd   chunk compression in the capture writer and reader
#   libxxhash chunk checksums (XXH32), fast enough to verify every chunk
#   pthread   the capture writer thread
#   protobuf-c the pprof export's encoder (profile.proto messages)
#   zlib      gzip of the pprof export, which pprof readers expect
#   libdw     (elfutils) the analyser symbolizes native frames: ELF symbol
#             tables, DWARF lines, build ids and /usr/lib/debug/.build-id
#   libunwind the recorder unwinds C stacks (--native-frames) with
#             unw_backtrace: cached DWARF unwind tables, no signal, no ptrace

PYTHON   ?= python3
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARN     := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes
BASE     := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Iinclude
LIBS     := -lzstd -lxxhash -lpthread -lm -lprotobuf-c -lz -ldw -lelf
PY_LIBS  := -lunwind

ifeq ($(SANITIZE),1)
BUILD    ?= build-asan
# MSC_DEBUG_CHECKS: asserts that walk whole structures (the heap graph, the
# live map) where they are complete; too slow for a release build.
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
            -DMSC_DEBUG_CHECKS
else
BUILD    ?= build
SAN      :=
endif

PY_INC     := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
EXT_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
# The extension's objects are compiled against one interpreter's headers
# (its version layer, struct layouts, ABI flags): each interpreter gets its
# own object tree, named by its SOABI (cpython-312-x86_64-linux-gnu), so
# switching PYTHON rebuilds them instead of linking stale ones.
PY_ABI     := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("SOABI"))')

LIB_SRC  := $(wildcard src/core/*.c) $(wildcard src/report/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
PY_SRC   := $(wildcard src/python/*.c)
TEST_SRC := $(wildcard tests/c/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

WEB      := web/report.html web/report.css web/report.js
GEN_SRC  := $(BUILD)/gen/web_assets.c $(BUILD)/gen/pprof.pb-c.c $(BUILD)/gen/version.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
PY_OBJ   := $(PY_SRC:src/python/%.c=$(BUILD)/$(PY_ABI)/%.o)
TESTS    := $(TEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

LIB      := $(BUILD)/libmemscope.a
ifeq ($(SANITIZE),1)
# A separate tree (CLI, package and extension) so both builds can coexist:
# tests pick it with MEMSCOPE_BUILD=build-asan.
CLI      := $(BUILD)/bin/memscope
PKG_PY   := $(patsubst python/%,$(BUILD)/python/%,$(wildcard python/memscope/*.py python/memscope/_boot/*.py))
EXT      := $(BUILD)/python/memscope/_memscope$(EXT_SUFFIX)
else
CLI      := bin/memscope
PKG_PY   :=
EXT      := python/memscope/_memscope$(EXT_SUFFIX)
endif

ALL_CFLAGS = $(BASE) $(WARN) $(CFLAGS) $(SAN)

.PHONY: all test test-c test-py clean fuzz
all: $(CLI) $(EXT) $(PKG_PY)

$(BUILD)/python/memscope/%.py: python/memscope/%.py
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Each web/ file becomes a NUL-terminated array msc__web_<name>_<ext>.
$(BUILD)/gen/web_assets.c: $(WEB)
	@mkdir -p $(dir $@)
	@set -e; for f in $(WEB); do \
	    echo "const char msc__web_$$(basename $$f | tr . _)[] = {"; \
	    od -An -v -tx1 $$f | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo "0};"; \
	done > $@

# The version, written once in VERSION (pyproject.toml reads it too).
$(BUILD)/gen/version.c: VERSION
	@mkdir -p $(dir $@)
	printf 'const char msc_version[] = "%s";\n' "$$(cat $<)" > $@

$(BUILD)/gen/pprof.pb-c.c $(BUILD)/gen/pprof.pb-c.h: src/report/pprof.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=src/report --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(BASE) $(CFLAGS) $(SAN) -c $< -o $@

# The pprof writer includes the generated header.
$(BUILD)/src/report/pprof.o: $(BUILD)/gen/pprof.pb-c.h
$(BUILD)/src/report/pprof.o: ALL_CFLAGS += -I$(BUILD)/gen

# The extension reads interpreter internals through src/python/version.h,
# which knows the supported CPythons only: say so in one line, before the
# compiler's #error in every file.
.PHONY: py-supported
py-supported:
	@$(PYTHON) -c 'import sys, sysconfig; (3, 11) <= sys.version_info[:2] <= (3, 13) and not sysconfig.get_config_var("Py_GIL_DISABLED") or sys.exit("memscope: the extension supports CPython 3.11, 3.12 and 3.13 with the GIL, not " + sys.version.split()[0] + " (docs/versions.md)")'

$(PY_OBJ): | py-supported

$(BUILD)/$(PY_ABI)/%.o: src/python/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(PY_INC) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(LIB) $(LIBS)

$(EXT): $(PY_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -shared -o $@ $(PY_OBJ) $(LIB) $(LIBS) $(PY_LIBS)

$(BUILD)/tests/%: tests/c/%.c $(wildcard tests/c/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc/core -o $@ $< $(LIB) $(LIBS)

# The layering of the headers (include/ never reaches above itself, core
# never reaches the report writers) is checked with the C tests.
test-c: $(TESTS)
	@$(PYTHON) scripts/check_headers.py
	@set -e; for t in $(TESTS); do $$t; done

test-py: all
	$(PYTHON) -m pytest -q tests/py

test: test-c test-py

# libFuzzer harnesses for every parser of files we did not write: build with
# clang, run each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
fuzz: $(GEN_SRC)
	@mkdir -p build-fuzz
	@set -e; for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -fsanitize=fuzzer,address,undefined \
	        -fno-sanitize-recover=undefined \
	        -I$(BUILD)/gen -o build-fuzz/$$n $$f $(LIB_SRC) $(GEN_SRC) $(LIBS); \
	    mkdir -p build-fuzz/corpus-$$n; \
	    build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus-$$n fuzz/seeds; \
	done

clean:
	rm -rf build build-asan build-fuzz bin/memscope python/memscope/*.so

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PY_OBJ:.o=.d)
