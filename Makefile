# tempid — build, run and test. `make run` starts a demo; `make test` runs
# every check CI runs (set TEMPID_TEST_POSTGRES to include PostgreSQL).

GO       ?= go
BIN      := bin/tempid
DEV_BIN  := bin/tempid-dev
LISTEN   ?= 127.0.0.1:8080
PKGS     := ./...

.PHONY: all build web run test vet fmt-check test-go test-web test-browser bench bench-go bench-load fuzz clean

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

# build makes both binaries: tempid, what an operator runs, and
# tempid-dev, the developer's tools (simulated phone, load, seed).
build: web
	$(GO) build -o $(BIN) ./cmd/tempid
	$(GO) build -o $(DEV_BIN) ./cmd/tempid-dev

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

# test-browser runs only the browser tests (they are part of test-go too):
# the passenger app, staff and admin consoles in Chromium against a demo
# server. They save screenshots to test-output/screenshots/.
test-browser: web
	$(GO) test -count=1 -v ./internal/browsertest/

bench: bench-go bench-load

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./internal/...

# bench-load starts a demo server on a fresh SQLite directory and runs the
# load scenarios against it for a few seconds each, then compares tempid
# with the floor (tempid-dev compare): BENCH_PAIRS pairs of runs, tempid and
# the floor alternately first, each on a fresh database, timing issuance and
# online verification, and prints tempid's CPU per operation as a ratio to
# the floor's with the medians (docs/performance.md). The pairs run on SQLite,
# and on PostgreSQL too when BENCH_POSTGRES holds the URL of a user who may
# create databases (it defaults to TEMPID_TEST_POSTGRES; each run gets a
# database of its own, dropped after it). The whole target took 11 minutes
# with PostgreSQL on a 2-core machine at a load average of 15 to 38; counts
# and the settling time are in BENCH_COMPARE_ARGS.
# BENCH_LISTEN and BENCH_COMPARE_LISTEN must be loopback addresses;
# tempid-dev refuses any other.
BENCH_LISTEN         ?= 127.0.0.1:18089
BENCH_COMPARE_LISTEN ?= 127.0.0.1:18090
BENCH_ARGS           ?= --concurrency 8 --duration 10s
BENCH_PAIRS          ?= 3
BENCH_COMPARE_ARGS   ?= --issue-count 500 --verify-count 2000 --concurrency 8 --settle 1.5s
BENCH_POSTGRES       ?= $(TEMPID_TEST_POSTGRES)
bench-load: build
	@dir=$$(mktemp -d); \
	$(BIN) serve --demo --data $$dir --listen $(BENCH_LISTEN) >$$dir/serve.out 2>$$dir/serve.log & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf '"$$dir" EXIT; \
	for i in $$(seq 1 100); do curl -sf http://$(BENCH_LISTEN)/readyz >/dev/null && break; sleep 0.2; done; \
	status=0; \
	for scenario in issue verify mixed quota; do \
		$(DEV_BIN) load --server http://$(BENCH_LISTEN) --scenario $$scenario --demo-admin $(BENCH_ARGS) \
			$$( [ $$scenario = issue ] && echo --count 500 ) $$( [ $$scenario = mixed ] && echo --count 40 ) $$( [ $$scenario = verify ] && echo --count 3000 ) || status=1; \
	done; \
	kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; \
	echo "load average before the comparison: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	$(DEV_BIN) compare --tempid $(BIN) --listen $(BENCH_COMPARE_LISTEN) --pairs $(BENCH_PAIRS) $(BENCH_COMPARE_ARGS) \
		$$( [ -n "$(BENCH_POSTGRES)" ] && echo --postgres "$(BENCH_POSTGRES)" ) || status=1; \
	echo "load average after the comparison: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	exit $$status

fuzz:
	@for target in $$(grep -rl '^func Fuzz' --include='*_test.go' internal | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$target/*_test.go | sed 's/func //'); do \
			echo "fuzz $$target $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s ./$$target || exit 1; \
		done; \
	done

clean:
	rm -rf bin
