# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   evaluate the bundled Whisper weights on the built-in data, write
#               results/report.html, end with the paired comparison (intervals, p-values)
#   make test   run ruff and the test suite
.PHONY: setup demo test lint bench

DB ?= results/demo.duckdb

setup:
	./scripts/setup.sh

demo: setup
	@echo "== long-form: the 15-minute built-in recording, chunked, faster-whisper tiny.en =="
	.venv/bin/evaluator run --name demo-long --db $(DB) --dataset builtin:long --max-samples 1 \
		--long-form chunked --model faster-whisper:tiny.en
	@echo "== the three Whisper runtimes (same tiny.en weights) and Whisper base on the 24 sample clips =="
	.venv/bin/evaluator run --name demo --db $(DB) \
		--model faster-whisper:tiny.en --model openai-whisper:tiny.en --model transformers:tiny.en \
		--model faster-whisper:base
	@echo "== multilingual: Whisper base (two runtimes) and tiny.en (English only) on 40 clips in 11 languages =="
	.venv/bin/evaluator run --name demo-multilingual --db $(DB) --dataset builtin:multilingual \
		--model "faster-whisper:base?compute_type=float32" --model openai-whisper:base --model faster-whisper:tiny.en
	@echo "== the same transcripts scored as the Open ASR Leaderboard scores them: exported as its manifests, read back as predictions =="
	rm -rf results/manifests
	.venv/bin/evaluator export --db $(DB) --run demo --format open-asr-leaderboard --out results/manifests
	.venv/bin/evaluator run --name demo-leaderboard --db $(DB) --scoring open-asr-leaderboard \
		$$(for f in results/manifests/*.jsonl; do printf -- '--model predictions:%s ' "$$f"; done)
	@echo "== the HTML report of the 24-clip run =="
	.venv/bin/evaluator report --db $(DB) --run demo --out results/report.html
	@echo "== paired comparison of the 24-clip run: WER differences with 95% intervals and p-values =="
	.venv/bin/evaluator compare --db $(DB) --run demo

test: setup
	.venv/bin/ruff check evaluator tests jobs bench scripts
	.venv/bin/pytest -q

lint: setup
	.venv/bin/ruff check evaluator tests jobs bench scripts

bench: setup
	.venv/bin/python bench/overhead.py
	.venv/bin/python bench/longform.py
	.venv/bin/python bench/batching.py
