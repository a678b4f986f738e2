# Thin wrapper over CMake: `make demo`, `make test`, `make bench`.
BUILD ?= build
JOBS ?= 2

.PHONY: all deps build demo test bench format clean

all: build

deps:
	@ci/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@ci/demo.sh $(BUILD)/bin

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bench/run.sh $(BUILD)/bin

format:
	@clang-format -i lib/*.[ch] sim/*.[ch] eventhandler/*.[ch] connector/*.[ch] \
		tests/unit/*.c tests/e2e/*.c

clean:
	rm -rf $(BUILD)
