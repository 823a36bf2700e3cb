# Flash sale backend. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
# Every recipe that talks to the stack loads its addresses from one place.
STACK_ENV := eval "$$(localstack/env.sh)"
# Tests run on their own databases and Redis database, so that `make run`
# never shows test sales and a test never sees the dev server's data.
TEST_ENV := $(STACK_ENV); \
  export DATABASE_URL="$${DATABASE_URL/\/flashsale\?//flashsale_test?}" \
    ANALYTICS_DATABASE_URL="$${ANALYTICS_DATABASE_URL/\/flashsale_analytics\?//flashsale_analytics_test?}" \
    PGBOUNCER_URL="$${PGBOUNCER_URL/\/flashsale\?//flashsale_test?}" \
    REDIS_URL="$${REDIS_URL%/0}/2"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

USER ?=
ADMIN ?=
PORT ?= 8080

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: run
run: stack migrate ## Start the local stack and serve on 127.0.0.1:$(PORT) with the example sale
	$(STACK_ENV); PORT=$(PORT) go run ./cmd/flashsale-server -seed-example

.PHONY: test
test: stack check-generated lint test-infra ## Start the local stack and run every test
	$(TEST_ENV); go test -count=1 -timeout 15m ./...

.PHONY: test-env
test-env: ## Print the environment the tests run with (eval "$$(make -s test-env)")
	@$(TEST_ENV); for v in DATABASE_URL ANALYTICS_DATABASE_URL PGBOUNCER_URL REDIS_URL \
	  REDIS_CLUSTER_ADDRS AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
	  EVENTS_STREAM EVENTS_TABLE RIE_BIN; do printf "export %s='%s'\n" $$v "$${!v}"; done

.PHONY: test-infra
test-infra: ## Synthesize the CDK app and assert on its templates (no credentials)
	cd infra && CDK_DISABLE_CLI_TELEMETRY=true go test -count=1 -timeout 20m ./...

.PHONY: build
build: ## Build every Lambda to build/lambda/<name>/bootstrap and .zip (linux/arm64), print sizes
	scripts/build-lambdas.sh

.PHONY: synth
synth: build ## Synthesize the CDK app from the build output (no credentials needed)
	cd infra && CDK_OUTDIR=cdk.out go run .

.PHONY: deploy
deploy: build ## Deploy with the CDK CLI (needs AWS credentials and a bootstrapped account); ENV=dev|prod
	cd infra && npm ci && npx cdk deploy --all -c env=$${ENV:-dev} --require-approval broadening

.PHONY: stack
stack: ## Install (if missing) and start Redis, PostgreSQL and the AWS emulators on loopback
	localstack/up.sh

.PHONY: stack-down
stack-down: ## Stop the local stack
	localstack/down.sh

.PHONY: migrate
migrate: ## Apply database migrations
	$(STACK_ENV); go run ./cmd/flashsale-server -migrate-only

# USER and ADMIN count only when given on the command line: every shell
# exports USER (root, say), and an exported ADMIN must not turn a shopper's
# token into an admin's.
.PHONY: token
token: ## Print a dev token: make -s token USER=U9001, or make -s token ADMIN=1
	@admin='$(if $(filter command line,$(origin ADMIN)),$(ADMIN))'; \
	 user='$(if $(filter command line,$(origin USER)),$(USER))'; \
	 if [ -n "$$admin" ]; then go run ./cmd/flashsale-admin token --admin; \
	 elif [ -n "$$user" ]; then go run ./cmd/flashsale-admin token --user "$$user"; \
	 else echo 'usage: make -s token USER=<user id>, or make -s token ADMIN=1' >&2; exit 2; fi

$(BUF):
	npm install --no-save --no-package-lock --no-audit --no-fund --silent \
	  --prefix .tools @bufbuild/buf@$(BUF_VERSION)

.PHONY: generate
generate: $(BUF) ## Regenerate code from the protos (offline)
	$(BUF) generate

.PHONY: check-generated
check-generated: generate ## Fail when committed generated code differs from the protos
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
	  echo "generated code is stale; run make generate and commit gen/"; \
	  git status --porcelain -- gen; exit 1; fi

.PHONY: lint
lint: $(BUF) ## buf lint, gofmt and go vet
	$(BUF) lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

LOADTEST_FLAGS ?=

.PHONY: loadtest
loadtest: stack ## Load the server of make run (PORT) with shoppers and baselines; LOADTEST_FLAGS='-preset seed'
	$(STACK_ENV); go run ./cmd/flashsale-loadtest -server http://127.0.0.1:$(PORT) $(LOADTEST_FLAGS)

.PHONY: bench
bench: stack ## Go benchmarks of the reserve and browse paths on the local stack
	$(TEST_ENV); go test -run '^$$' -bench . -benchtime 2s ./internal/redis/ ./internal/inventory/ ./internal/rpc/

.PHONY: soak
soak: stack ## The randomized invariant test with a million operations (SOAK_OPS)
	$(TEST_ENV); SOAK_OPS=$${SOAK_OPS:-1000000} go test -count=1 -timeout 60m \
	  -run TestRandomizedOperationsKeepTheInvariants -v ./internal/inventory/

.PHONY: bench-events
bench-events: stack ## Measure the relay and each event consumer on the local stack (EVENTS_THROUGHPUT_N)
	$(TEST_ENV); EVENTS_THROUGHPUT_N=$${EVENTS_THROUGHPUT_N:-20000} go test -count=1 \
	  -run TestThroughput -v ./internal/events/pipeline/
