# tempid — build, run and test. `make run` starts a demo; `make test` runs
# every check CI runs (set TEMPID_TEST_POSTGRES to include PostgreSQL).

GO       ?= go
BIN      := bin/tempid
LISTEN   ?= 127.0.0.1:8080
PKGS     := ./...

.PHONY: all build web run test vet fmt-check test-go test-web bench fuzz clean

all: build

# The web apps are built with npm into internal/webui/dist and embedded in
# the binary. Without Node.js the binary still builds and says how to build
# the apps.
web:
	@if [ -f web/package.json ]; then \
		if command -v npm >/dev/null 2>&1; then \
			cd web && npm ci --no-audit --no-fund && npm run build; \
		else echo "npm not found: the web apps are not built (install Node.js and run make web)"; fi; \
	fi

build: web
	$(GO) build -o $(BIN) ./cmd/tempid

run: build
	$(BIN) serve --demo --listen $(LISTEN)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test-go:
	$(GO) test -race -shuffle=on -count=1 -timeout 20m $(PKGS)

test-web:
	@if [ -f web/package.json ] && command -v npm >/dev/null 2>&1; then cd web && npm ci --no-audit --no-fund && npm test; fi

test: fmt-check vet web test-web test-go

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./internal/...

fuzz:
	@for target in $$(grep -rl '^func Fuzz' --include='*_test.go' internal | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$target/*_test.go | sed 's/func //'); do \
			echo "fuzz $$target $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s ./$$target || exit 1; \
		done; \
	done

clean:
	rm -rf bin
