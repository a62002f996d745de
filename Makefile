# The verbs a newcomer types. `make run` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_BIN := $(CURDIR)/node_modules/.bin
export PATH := $(NODE_BIN):$(PATH)

.PHONY: help deps proto generate build migrate seed run test test-unit bench lint format check-services clean deploy-check backup restore

help:
	@echo "make run    - install, generate, build, migrate, seed demo accounts, start every part"
	@echo "make test   - the whole test suite (real MariaDB and Redis, browser tests included)"
	@echo "make deploy-check - build the images, run deploy/compose.yaml on podman, walk the site (not in make test)"
	@echo "make backup - one archive of MariaDB, Redis and the secrets (docs/operations.md, Backup and restore)"
	@echo "make restore ARCHIVE=backups/etuservices-backup-<time>.tar.gz - put it back (parts stopped)"
	@echo "make lint   - buf lint, test types, ESLint, dependency-cruiser, Prettier check (in make test)"
	@echo "make format - rewrite the code in the one format (Prettier)"
	@echo "make build | proto | migrate | seed | bench | clean"

# npm ci only when the lock file changed since the last install.
node_modules/.etu-installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
deps: node_modules/.etu-installed

proto: deps
	npm run --silent generate -w @etu/proto

generate: proto
	npm run --silent generate -w @etu/db

build: generate
	tsc --build

# Every check that reads the code without running it (docs/architecture.md, "Lint rules"); part of
# `make test`. buf lint, the tests' types, ESLint (type-checked rules, regex backtracking),
# dependency-cruiser (the architecture), Prettier (formatting; `make format` fixes it).
LINT_DIRS := proto prisma services gateway testkit e2e deploy bench scripts
lint: build
	npm run --silent lint -w @etu/proto
	tsc -p tsconfig.typecheck-tests.json
	eslint --max-warnings 0 .
	depcruise --config .dependency-cruiser.cjs --output-type err $(LINT_DIRS)
	prettier --check --log-level warn .

format: deps
	prettier --write --log-level warn .

check-services:
	@node scripts/check-services.mjs

migrate: build check-services
	node prisma/dist/cli.js migrate

seed: migrate
	node services/auth/dist/seed.js
	node services/market/dist/seed.js

run: seed
	node scripts/dev.mjs

test: lint check-services
	@mkdir -p .run
	@rm -f .run/jest-results.json
	@jest --ci --json --outputFile=.run/jest-results.json; rc=$$?; node scripts/test-summary.mjs .run/jest-results.json; exit $$rc

# BACKUP_TARGET=compose for the compose stores; BACKUP_PASSPHRASE_FILE to encrypt (see the scripts).
backup: build
	@scripts/backup.sh

restore: build
	@scripts/restore.sh "$(ARCHIVE)"

bench: build check-services
	node bench/run.mjs

# The images and the compose stack for real, on this machine's podman (docs/operations.md).
deploy-check: deps
	bash deploy/check/run.sh

clean:
	rm -rf proto/gen prisma/src/generated node_modules/.etu-installed
	find . -path ./node_modules -prune -o \( -name dist -o -name '*.tsbuildinfo' \) -print | xargs rm -rf
