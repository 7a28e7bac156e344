# One command each: `make serve` (set up + run the service on the bundled default model)
# and `make test` (set up + run the test suite; .ci/run calls it).
.PHONY: setup serve test test-slow

setup:
	bash scripts/setup.sh

serve: setup
	.venv/bin/python -m service

# The suite also runs the benchmark (tests/test_bench_rd.py), so the test target adds its one extra
# package (bench/requirements.txt, --no-deps as that file explains); the service does not need it.
test: setup
	.venv/bin/python -m pip install --quiet --no-deps -r bench/requirements.txt
	.venv/bin/python -m pytest -q

test-slow: setup
	.venv/bin/python -m pytest -q -m slow
