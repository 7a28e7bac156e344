# One command each: `make serve` (set up + run the service on the bundled default model)
# and `make test` (set up + run the test suite; .ci/run calls it).
.PHONY: setup serve test test-slow

setup:
	bash scripts/setup.sh

serve: setup
	.venv/bin/python -m service

test: setup
	.venv/bin/python -m pytest -q

test-slow: setup
	.venv/bin/python -m pytest -q -m slow
