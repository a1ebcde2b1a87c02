# Targets are exactly the commands CI runs (.ci/run), so `make lint test` locally is what CI checks.
# `make ci` also finds or starts PostgreSQL for the tests; `make test` expects one at $DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres).

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
