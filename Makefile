# Two commands: `make run` and `make test`. Every target installs what it needs, so a fresh clone
# and CI take the same path. Override PYTHON to pick another interpreter (3.11+).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LIBS_STAMP := broker/libs/.complete

.PHONY: run test lint typecheck unit integration browser js setup broker-libs chromium nginx bench screenshot clean

run: setup broker-libs
	$(PY) -m broker.stack

test: setup broker-libs chromium nginx lint typecheck js
	$(PY) -m pytest

setup: $(STAMP)

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

broker-libs: $(LIBS_STAMP)

$(LIBS_STAMP): broker/pom.xml | $(STAMP)
	$(PY) -m broker fetch

# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: run 'sudo apt-get install -y chromium' (browser tests need /usr/bin/chromium)"; exit 1; fi; }

# nginx for the reverse-proxy tests, openssl for the TLS/SASL broker's generated CA.
nginx:
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl; \
	  else echo "nginx/openssl missing: run 'sudo apt-get install -y nginx openssl' (proxy and TLS broker tests)"; exit 1; fi; }

lint: setup
	$(VENV)/bin/ruff check dash_app producer broker tests bench examples

typecheck: setup
	$(VENV)/bin/mypy

js:
	node --test tests/js/

unit: setup
	$(PY) -m pytest -m "not integration and not browser"

integration: setup broker-libs nginx
	$(PY) -m pytest -m integration

browser: setup broker-libs chromium nginx
	$(PY) -m pytest -m browser

screenshot: setup broker-libs chromium
	$(PY) -m bench.screenshot

bench: setup broker-libs
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) broker/libs .run

# The host agent as a systemd service (run as root; see docs/deployment.md). Not part of `make test`.
.PHONY: install-producer uninstall-producer systemd-check
install-producer:
	sh producer/systemd/install.sh install

uninstall-producer:
	sh producer/systemd/install.sh uninstall

# The installed unit under a real systemd booted in namespaces (root, debootstrap, network; ~4 min).
systemd-check: setup broker-libs
	$(PY) -m producer.systemd.check
