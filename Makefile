# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup debs test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debian packages the tests run for real (the MQTT tests start their own mosquitto).
debs:
	sh tools/ensure_debs.sh mosquitto:mosquitto mosquitto_passwd:mosquitto mosquitto_sub:mosquitto-clients

test: setup debs
	$(PY) -m pytest -q host_tests

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis build
