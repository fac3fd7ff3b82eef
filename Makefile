# qlm — every set-up step is here, so a fresh machine needs only `make run`
# (main job on the default model) or `make test` (every test). CI runs `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
ARM_BUILD  ?= build-arm64
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
MODEL      := models/gemma-3-270m-q4_k_m.gguf
PYTHON     ?= python3

.PHONY: all deps venv model qwen-coder vocabs templates grammar-cases text build run test test-main test-asan test-tsan test-arm64 fuzz-smoke fuzz clean

all: build

deps:
	scripts/install_deps.sh

.venv/.stamp: tests/requirements.txt
	$(PYTHON) -m venv .venv
	.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

venv: deps .venv/.stamp

model: venv
	scripts/fetch_model.sh

# Qwen2.5-Coder-0.5B-Instruct Q4_K_M: a real instruct model with a tool-calling
# chat template (tests that want one, benches at a larger size).
qwen-coder: venv
	scripts/fetch_qwen_coder.sh

# Tokenizer test vocabularies (llama.cpp's vocab-only GGUFs) in models/vocab/.
vocabs: venv
	scripts/fetch_vocabs.sh

# The chat-template corpus (llama.cpp's models/templates/*.jinja) in models/templates/.
templates: venv
	scripts/fetch_templates.sh

# llama.cpp's GBNF grammars and JSON-schema cases (test data) in models/grammar-cases/.
grammar-cases: venv
	scripts/fetch_grammar_cases.sh

# The perplexity text of the README and bench/ (alice29.txt from a PyPI sdist) in models/text/.
text: venv
	scripts/fetch_text.sh

build: deps venv
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The main job: generate text with the default model (greedy, reproducible).
PROMPT ?= The three most important inventions of the twentieth century were
run: build model
	$(BUILD)/tools/qlm/qlm run -m $(MODEL) -p "$(PROMPT)" -n 128 --temp 0

# The OpenAI-compatible server on the default model, on 127.0.0.1:8080.
serve: build model
	$(BUILD)/tools/qlm/qlm serve -m $(MODEL)

# Every test: libFuzzer smoke run, the suite under ASan+UBSan, the C++ suite
# cross-compiled for AArch64 under qemu-user, then the full suite (oracles
# included) on the release build, whose summary closes the output.
test: build model fuzz-smoke test-asan test-tsan test-arm64 test-main

test-main: build model vocabs templates grammar-cases qwen-coder
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The slow whole-model oracle and the engine's runs on the default model and
# with the scalar kernels are left to the release build, for time.
test-asan: deps venv vocabs templates grammar-cases
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQLM_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE "slow|server|install|layers"

# The engine's scheduler tests under ThreadSanitizer (threads submitting and
# cancelling while another steps; the stress run).
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQLM_TSAN=ON
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_engine
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BUILD)/tests/engine/test_engine \
	  --gtest_filter='*ThreadsSubmitAndCancelWhileStepping*:*RandomizedStress*avx2_llama*:*BatchedEqualsAlone*avx2_gemma3*'

# AArch64 (the NEON path): cross-compiled, run under qemu-user. The Python
# tests drive host binaries, so they stay with the native builds; the engine's
# slow stress and threading runs stay with the native builds too.
test-arm64: deps vocabs
	cmake -S . -B $(ARM_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
	cmake --build $(ARM_BUILD) -j $(JOBS) --target test_formats test_gguf test_matmul test_experts test_amx test_profile test_layers test_model_load test_tokenizer test_engine test_template test_perplexity test_grammar test_sampling test_thread_pool test_backend_ops
	ctest --test-dir $(ARM_BUILD) --output-on-failure -j $(JOBS) \
	  -LE "python|slow|stress|install|layers"

$(FUZZ_BUILD)/build.ninja: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DQLM_FUZZ=ON -DQLM_BUILD_TESTS=OFF

fuzz-smoke: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) fuzz-out $(FUZZ_BUILD)

# A longer fuzzing session: make fuzz FUZZ_SECONDS=1800
fuzz: fuzz-smoke

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(ARM_BUILD) $(FUZZ_BUILD)
