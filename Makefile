# Targets are exactly the commands CI runs (.ci/run), so `make lint test` locally is what CI checks.
# Each installs what it needs when missing (as root) or says in one line what is missing; see
# docs/development.md.

.PHONY: test lint deps api ci demo screenshots browser

# The whole suite, with its SMTP sink venv, Prometheus and PostgreSQL set up first.
test:
	./scripts/test

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# cargo-deny: licences, duplicate versions, sources, and advisories when the database is reachable.
deps:
	bash .ci/check-deps

# The API contract: openapi-spec-validator, then schemathesis against running gateways.
api:
	bash .ci/check-api

ci:
	bash .ci/run

demo:
	cargo run -- demo

# The browser tests alone (Chromium, axe-core, the Nu Html Checker; docs/pages.md).
browser:
	./scripts/test --test api browser::

# Regenerates docs/pages/*.png, the screenshots docs/pages.md shows, from the browser tests.
screenshots:
	RG_SCREENSHOTS=1 ./scripts/test --test api browser::states
