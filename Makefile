# The two commands: `make run` (set up what is missing, then start the portal) and `make test`.
SHELL := /bin/bash
PORT ?= 8000
# make run listens on this machine only; a deployment that must be reached from elsewhere sets BIND_HOST=0.0.0.0.
BIND_HOST ?= 127.0.0.1
VENV := .venv
PY := $(VENV)/bin/python
JS_SOURCES := $(wildcard static/js/*.js static/js/upload/*.js static/css/*.css)

.PHONY: run stack test audit setup static migrate demo browser clean

run: setup migrate demo
	@echo "Portal starting on http://$(BIND_HOST):$(PORT)/ (web, worker and beat; Ctrl-C stops all three)"
	BIND_HOST="$(BIND_HOST)" SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
		$(VENV)/bin/honcho start -f Procfile -p $(PORT)

# The production shape on this machine (scripts/stack.py): WEB gunicorn processes behind nginx, WORKERS Celery workers,
# beat and the fetcher, on PostgreSQL, Redis, moto's S3 server and an SMTP sink; Ctrl-C stops it all.
WEB ?= 2
WORKERS ?= 2
STACK_PORT ?= $(PORT)
stack: setup
	$(PY) scripts/stack.py --web $(WEB) --workers $(WORKERS) --port $(STACK_PORT)

test: setup browser
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Known vulnerabilities: in the installed Python packages (PyPI's advisory data, any severity; the portal itself is
# skipped) and in the npm packages of the bundle (high or critical) fail it. Packages the advisory services could not
# answer for are listed by name; AUDIT_STRICT=1 fails on them too (scripts/audit.py).
audit: $(VENV)/.installed node_modules/.installed
	$(PY) scripts/audit.py

setup: $(VENV)/.installed node_modules/.installed static/dist/.built var/static/.collected

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json $(wildcard package-lock.json)
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --prefer-offline; else npm install --no-audit --no-fund; fi
	@touch $@

# The bundles (esbuild) and the collected static files, rebuilt when a source changed.
static: static/dist/.built var/static/.collected

static/dist/.built: node_modules/.installed $(JS_SOURCES) scripts/build-static.mjs
	node scripts/build-static.mjs
	@touch $@

var/static/.collected: static/dist/.built $(wildcard static/img/*)
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@mkdir -p var/static && touch $@

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py create_demo

# Debian's Chromium drives the browser tests; Playwright's own download does not work here.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core) >/dev/null \
	      || echo "Could not install chromium: browser tests will be skipped."; \
	  else echo "No /usr/bin/chromium: browser tests will be skipped (apt-get install chromium to run them)."; fi; \
	fi

clean:
	rm -rf $(VENV) node_modules static/dist var/static
