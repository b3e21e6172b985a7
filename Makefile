# Shortcuts for developers; the README's two commands need no make.
.PHONY: demo test test-pg lint format i18n

demo:
	bash scripts/demo

test:
	bash scripts/test

test-pg:
	BEELDCOACH_TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test \
	BEELDCOACH_TEST_BROKER_URL=redis://127.0.0.1:6379/15 bash scripts/test

lint:
	.venv/bin/ruff check lti_tool tests migrations benchmarks
	.venv/bin/ruff format --check lti_tool tests migrations benchmarks
	.venv/bin/mypy

format:
	.venv/bin/ruff check --fix lti_tool tests migrations benchmarks
	.venv/bin/ruff format lti_tool tests migrations benchmarks

i18n:
	bash scripts/i18n.sh all
