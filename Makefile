# Tributary build, test and conformance targets. CI runs .ci/run (make test,
# then make corpus-check) in a fresh clone with the shared corpora in
# $(SHARED), as root, within 90 minutes.

SHARED   ?= ../shared
GO       ?= go
NPROC    ?= $(shell nproc 2>/dev/null || echo 2)
# Build and test packages NPROC at a time (the CI machine has 2 cores).
GOFLAGS_PAR := -p $(NPROC)
# Invariant checks (Pebble-style, behind a build tag) are on in tests once
# any file uses the tag.
TAGS     := $(if $(shell grep -rlE --include='*.go' '^//go:build.*\binvariants\b' . 2>/dev/null | head -1),-tags invariants,)

TRIBUTARY      := bin/tributary
CORPUS         := $(SHARED)/slt/sqlite
BASELINE       := $(SHARED)/slt/postgresql15-baseline.txt
CORPUS_FLOOR   := sqllogictest/corpus-floor.txt
CORPUS_SUMMARY := bin/corpus-summary.txt
# PostgreSQL runs the slowest corpus file in about 10s and the whole corpus
# in about a minute; 27 files x 2m bounds a hanging engine at 54 minutes.
CORPUS_FILE_TIMEOUT ?= 2m

# Debian packages the tests need: postgresql for psql (the \d and \copy
# tests) and a real server (the runner's PostgreSQL test); python3-psycopg,
# a JDK and libpostgresql-jdbc-java for the client tests (pgwire's
# clients_test.go). deps installs only what is missing and skips apt when
# all are present.
APT_PACKAGES ?= postgresql python3-psycopg openjdk-17-jdk-headless libpostgresql-jdbc-java
NODE_CLIENT  := pgwire/testdata/clients/node
MIGRATE_CLIENT := pgwire/testdata/clients/migrate

.PHONY: build run deps test corpus corpus-check

build:
	$(GO) build $(GOFLAGS_PAR) -o $(TRIBUTARY) ./cmd/tributary

run: build
	$(TRIBUTARY) serve --data-dir ./data

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "deps: missing Debian packages:$$missing (run make deps as root)" >&2; exit 1; fi; \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@$(GO) mod download
	@# goose and golang-migrate for the migration test (their own module).
	@cd $(MIGRATE_CLIENT) && $(GO) mod download
	@# node-postgres for the client test, pinned by its package-lock.json.
	@if command -v npm >/dev/null 2>&1 && [ ! -d $(NODE_CLIENT)/node_modules/pg ]; then \
		cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --silent; \
	fi

test: deps build
	$(GO) vet $(TAGS) ./...
	$(GO) test $(GOFLAGS_PAR) $(TAGS) ./...
	$(TRIBUTARY) slt --fail-on-failure sqllogictest/testdata
	$(TRIBUTARY) slt --fail-on-failure --simple sqllogictest/testdata

# corpus measures the SQLite corpus and regenerates docs/conformance.md.
corpus: build
	$(TRIBUTARY) slt --file-timeout $(CORPUS_FILE_TIMEOUT) --summary $(CORPUS_SUMMARY) $(CORPUS)
	$(GO) run ./sqllogictest/cmd/conformance -summary $(CORPUS_SUMMARY) -baseline $(BASELINE) -out docs/conformance.md

# corpus-check fails when fewer records pass than the floor recorded in
# $(CORPUS_FLOOR); raise the floor as the engine improves.
corpus-check: build
	$(TRIBUTARY) slt --file-timeout $(CORPUS_FILE_TIMEOUT) --summary $(CORPUS_SUMMARY) $(CORPUS)
	$(GO) run ./sqllogictest/cmd/conformance -summary $(CORPUS_SUMMARY) -baseline $(BASELINE) -floor $(CORPUS_FLOOR)
