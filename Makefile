# contact-converter: run `make help` for the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

BIN            ?= $(CURDIR)/bin
IMG            ?= ghcr.io/contactconverter/contact-converter:dev
K8S_VERSION    ?= 1.37.2
CONTROLLER_GEN ?= $(BIN)/controller-gen
HELM           ?= $(BIN)/helm
HELM_VERSION   ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT  ?= $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
CRD_REF_DOCS_VERSION ?= v0.3.0
CRD_REF_DOCS   ?= $(BIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
HELM_DOCS_VERSION ?= v1.14.2
HELM_DOCS      ?= $(BIN)/helm-docs-$(HELM_DOCS_VERSION)
GOTEST_FLAGS   ?= -timeout 60m
export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## Show the targets.
	@grep -hE '^([a-zA-Z0-9_-]+:.*?## |##@ )' $(MAKEFILE_LIST) | \
		awk 'BEGIN{FS=":.*?## "} /^##@/{printf "\n%s\n", substr($$0, 5); next} {printf "  %-18s %s\n", $$1, $$2}'

##@ Build

.PHONY: build
build: ## Build bin/contact-converter.
	@echo ">> building bin/contact-converter"
	go build -o $(BIN)/contact-converter .

.PHONY: plugin
plugin: build ## Build bin/kubectl-contacts, the kubectl plugin (the same binary under the name kubectl looks for).
	ln -sf contact-converter $(BIN)/kubectl-contacts
	@echo ">> put $(BIN) on the PATH, then: kubectl contacts status -A"

.PHONY: fmt
fmt: ## Format the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml: govet, staticcheck, errcheck, gocognit, misspell, goimports...).
	@echo ">> golangci-lint"
	$(GOLANGCI_LINT) run ./...

##@ Generated code

.PHONY: manifests
manifests: $(CONTROLLER_GEN) $(CRD_REF_DOCS) $(HELM_DOCS) ## Generate CRDs, RBAC, the chart's copies, docs/api.md and the chart's README.
	@echo ">> generating CRDs and RBAC"
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh
	go run ./hack/argocd-cm
	$(CRD_REF_DOCS) --source-path=./api/v1alpha1 --config=hack/crd-ref-docs.yaml --renderer=markdown --output-path=docs/api.md >/dev/null 2>&1
	$(HELM_DOCS) --log-level=warning --chart-search-root charts --template-files README.md.gotmpl

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods.
	@echo ">> generating DeepCopy methods"
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: verify-generated
verify-generated: ## Fail when `make manifests generate` changes a committed file.
	hack/verify-generated.sh

##@ Tools (built from Go modules; nothing is downloaded as a binary)

$(CONTROLLER_GEN): hack/tools/go.mod
	@echo ">> building controller-gen (controller-tools v0.23.0, about 30 s)"
	cd hack/tools && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

$(HELM):
	@echo ">> building helm $(HELM_VERSION) from its Go module (about a minute)"
	GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(GOLANGCI_LINT):
	@echo ">> building golangci-lint $(GOLANGCI_LINT_VERSION) from its Go module (about 5 minutes the first time)"
	tmp="$$(mktemp -d)" && GOBIN="$$tmp" go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) && mv "$$tmp/golangci-lint" $@ && rmdir "$$tmp"

$(CRD_REF_DOCS):
	@echo ">> building crd-ref-docs $(CRD_REF_DOCS_VERSION) from its Go module"
	tmp="$$(mktemp -d)" && GOBIN="$$tmp" go install github.com/elastic/crd-ref-docs@$(CRD_REF_DOCS_VERSION) && mv "$$tmp/crd-ref-docs" $@ && rmdir "$$tmp"

$(HELM_DOCS):
	@echo ">> building helm-docs $(HELM_DOCS_VERSION) from its Go module"
	tmp="$$(mktemp -d)" && GOBIN="$$tmp" go install github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION) && mv "$$tmp/helm-docs" $@ && rmdir "$$tmp"

.PHONY: envtest
envtest: ## Build kube-apiserver, kube-controller-manager, kubectl and etcd (about 10 minutes the first time).
	K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh >/dev/null

.PHONY: promtool
promtool: ## Build promtool from the Prometheus module (a few minutes the first time), for the alert tests.
	@BIN=$(BIN) hack/setup-promtool.sh >/dev/null

.PHONY: versitygw
versitygw: ## Build versitygw, an S3-compatible server, from its Go module (about 2 minutes the first time), for the object-store tests.
	@BIN=$(BIN) hack/setup-versitygw.sh >/dev/null

.PHONY: tools
tools: $(CONTROLLER_GEN) $(HELM) $(GOLANGCI_LINT) envtest promtool versitygw ## Build every tool the tests need.

##@ Test

ASSETS = KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh 2>/dev/null | tail -1)"

.PHONY: unit
unit: ## Run the tests that need no tool (no control plane, database or browser): seconds, while developing.
	go test $$(hack/unit-packages.sh)

.PHONY: e2e
e2e: envtest ## Run the end-to-end tests: a local cluster with a node, the operator, the demo tenant (about 8 minutes).
	$(ASSETS) go test $(GOTEST_FLAGS) ./test/e2e/

.PHONY: test
test: tools verify-generated lint ## Run the whole suite: lint, unit, envtest, chart, alert and end-to-end tests.
	@echo ">> the repository tracks no binary and no file over 1 MiB"
	hack/check-repo.sh
	@echo ">> go vet"
	go vet ./...
	@echo ">> go test (KUBEBUILDER_ASSETS from hack/setup-envtest.sh)"
	$(ASSETS) \
	HELM="$(HELM)" \
	PROMTOOL="$$(BIN=$(BIN) hack/setup-promtool.sh 2>/dev/null | tail -1)" \
	VERSITYGW="$$(BIN=$(BIN) hack/setup-versitygw.sh 2>/dev/null | tail -1)" \
	go test $(GOTEST_FLAGS) ./...

##@ Try it

.PHONY: demo
demo: envtest ## Run the whole system on loopback (control plane, local node, operator) on config/samples/demo.
	@echo ">> running the demo: a local cluster, the sample tenant, a conversion and its preference page (Ctrl-C ends it)"
	go build -o bin/demo ./hack/demo
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh | tail -1)" bin/demo

.PHONY: preview
preview: ## Convert the sample tenant on this machine, without a cluster, and show the result.
	hack/preview.sh

##@ Benchmarks

.PHONY: bench
bench: build envtest ## Run the benchmarks and print their figures.
	@echo ">> engine: 1M contacts in about 1.9M rows across 6 lists: SQLite, DuckDB, PostgreSQL three times, then 1, 2 and 4 shards three times (about 6 minutes)"
	hack/bench-engine.sh
	@echo ">> object store: a gzipped list of 1 GiB before compression, streamed from versitygw and read from disk (a few minutes)"
	hack/bench-objectstore.sh
	@echo ">> preference center: page and one-click unsubscribe, 16 concurrent clients, SQLite and PostgreSQL"
	go test -run '^$$' -bench BenchmarkPreferenceCenter -benchtime 3000x ./internal/prefcenter/
	@echo ">> bulk links: a million keys as CSV and as JSON to a running preference center, its peak memory"
	go test -run '^$$' -bench BenchmarkBulkLinks -benchtime 1x ./internal/cli/
	@echo ">> consent under interleaving: 200,000 contacts, random changes during runs paused, resumed and killed (SQLite and PostgreSQL)"
	CONSENT_PROPERTY_CONTACTS=200000 go test -count=1 -v -run '^TestConsentHoldsAgainstRunsPausesAndKills$$' -timeout 20m ./internal/cli/ | grep -E '^(=== RUN|--- |\s+consent_property_test.go)'
	@echo ">> scale: 10,000 ContactConversions in 1,000 namespaces, then the 19:00 rush (1,000 conversions, one window, a cap of 50), against a real API server and the manager as its own process (several minutes)"
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh 2>/dev/null | tail -1)" SCALE_NAMESPACES=1000 SCALE_PER_NAMESPACE=10 \
	go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/scale/

##@ Deploy

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	kubectl apply --server-side -k config/crd

.PHONY: deploy
deploy: manifests ## Install the operator with kustomize into the current cluster.
	kubectl apply --server-side -k config/default

.PHONY: docker-build
docker-build: ## Build the image (needs a Docker engine).
	docker build -t $(IMG) .
