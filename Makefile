# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup debs test bench clean

setup: $(VENV)/.installed node_modules/.installed

# Node tools (MicroPython WebAssembly VM, pyright), pinned in package-lock.json; `npm ci` runs
# again only when the lock changes (the stamp is newer than the lock otherwise).
node_modules/.installed: package.json package-lock.json
	sh tools/ensure_debs.sh node:nodejs npm:npm
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debian packages the tests run for real, as tool:package, installed only when the tool is
# missing (the MQTT tests start their own mosquitto; openssl makes the TLS test certificate).
DEBS := mosquitto:mosquitto mosquitto_passwd:mosquitto mosquitto_sub:mosquitto-clients \
	openssl:openssl

debs:
	sh tools/ensure_debs.sh $(DEBS)

test: setup debs
	$(PY) -m pytest -q host_tests

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis build
