# Targets are exactly the commands CI runs (.ci/run), so `make lint test` locally is what CI checks.
# `make ci` also finds or starts PostgreSQL for the tests; `make test` expects one at $DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres) and python3 with tests/requirements.txt
# installed (`pip install -r tests/requirements.txt`: the SMTP tests' server), which `make ci` installs.

.PHONY: test lint ci demo

test:
	cargo test

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

ci:
	bash .ci/run

demo:
	cargo run -- demo
