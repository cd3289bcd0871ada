# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   evaluate the bundled Whisper models on the bundled sample data, print a leaderboard
#   make test   run the test suite
.PHONY: setup demo test lint bench

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/evaluator run --name demo --db results/demo.duckdb \
		--model faster-whisper:tiny.en --model faster-whisper:base

test: setup
	.venv/bin/ruff check evaluator tests jobs bench scripts
	.venv/bin/pytest -q

bench: setup
	.venv/bin/python bench/overhead.py
