# pg_authguard: the entry points. `make help` lists them.
SHELL := /bin/bash
MAJORS ?= 15 16 18

.PHONY: help setup demo test test-all bench soak clean-cache

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install what this machine lacks (idempotent)
	bash scripts/setup.sh

demo: ## build, install into a throwaway Postgres 15, run examples/demo.sql
	bash scripts/demo.sh

test: ## every test suite on Postgres 15
	bash scripts/test.sh 15

test-all: ## every test suite on Postgres 15, 16 and 18
	bash scripts/test.sh $(MAJORS)

soak: ## long reliability runs: soak under load, kill -9, replica
	bash soak/run.sh

bench: ## benchmarks vs the PL/pgSQL baseline and the bare-SQL floor
	bash bench/run.sh

clean-cache: ## remove downloaded Postgres builds and throwaway clusters
	bash -c 'source scripts/common.sh; rm -rf "$$CACHE_DIR"'
