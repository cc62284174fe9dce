# reewatch: `make demo` shows it working offline; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint run bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/reewatch demo

# Headless Chromium for tests/browser: Debian's chromium (apt-get, as root, when missing) driven by the
# Python playwright package through /usr/bin/chromium (`playwright install` downloads its own browser,
# which cannot work offline). Never fails: without a browser the browser tests skip and say why.
BROWSER_DEBS := chromium fonts-wqy-microhei fonts-noto-color-emoji
browser: $(STAMP)
	@missing=$$(for p in $(BROWSER_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "make browser: apt-get could not install $$missing; browser tests may skip"; \
	  else echo "make browser: $$missing missing and apt-get unavailable (not root?); browser tests skip without chromium"; fi; \
	fi
	@$(BIN)/python -c "import playwright.sync_api" 2>/dev/null || $(BIN)/python -m pip install --quiet 'playwright>=1.49' \
	  || echo "make browser: could not install playwright; browser tests will skip"

# The browser tests are part of the suite, so this target brings the browser (see `browser`).
test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check core bot workers tests bench
	$(BIN)/mypy

run: $(STAMP)
	$(BIN)/reewatch run

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
