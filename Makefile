# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup debs test fuzz bench clean demo deploy config flash bundle update

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
# missing (the MQTT tests start their own mosquitto; openssl makes the TLS test certificate;
# chromium loads the dongle's live page headless).
DEBS := mosquitto:mosquitto mosquitto_passwd:mosquitto mosquitto_sub:mosquitto-clients \
	openssl:openssl chromium:chromium

debs:
	sh tools/ensure_debs.sh $(DEBS)

# The real MicroPython (32-bit, built once from ../shared/micropython into build/micropython32/,
# rebuilt only when that changes); without it the MicroPython tests say why they are skipped.
test: setup debs
	-$(PY) tools/run_mp.py --build
	$(PY) -m pytest -q host_tests

# Open-ended random search with the property tests (minutes): new examples from a fresh seed on
# every run, unlike `make test`. Prints the seed; a failure prints the falsifying example, which
# then goes into its test as an @example. make fuzz [SEED=n] [FUZZ_EXAMPLES=20000]
ifeq ($(origin SEED),undefined)
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
fuzz: setup
	@echo "make fuzz SEED=$(SEED)"
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m property -p no:cacheprovider \
		--hypothesis-seed=$(SEED) --hypothesis-show-statistics host_tests

# --- the dongle application (helper "app"): demo on this PC, deploy to an ESP32 -----------
# make demo [METER=aidon|kaifa|kamstrup] [SPEED=10] [MQTT=127.0.0.1:1883] [HTTP_PORT=8080]
#   [RUNTIME=cpython]  (default: the real MicroPython when at hand, else CPython)
METER ?= aidon
HTTP_PORT ?= 8080
SPEED ?= 1
RUNTIME ?= auto
BOARD ?= esp32-devkitc
DRY = $(if $(DRY_RUN),--dry-run)

demo: setup
	$(PY) tools/demo.py --meter $(METER) --speed $(SPEED) $(if $(MQTT),--mqtt $(MQTT)) \
		--http-port $(HTTP_PORT) --runtime $(RUNTIME)

# make deploy PORT=/dev/ttyUSB0 BOARD=esp32-devkitc   (DRY_RUN=1 prints the commands)
deploy: setup
	$(if $(PORT),,$(error PORT=/dev/ttyUSB0 (the ESP32's serial port) is required))
	$(PY) tools/deploy.py deploy --port $(PORT) --board $(BOARD) $(DRY)

# make config PORT=... [WIFI_SSID=...] [WIFI_PASSWORD=...] [MQTT_HOST=...] [MQTT_PORT=...]
#   [MQTT_USER=...] [MQTT_PASSWORD=...] [HTTP_PASSWORD=...] [SET="publish.per_value_topics=true ..."]
config: setup
	$(if $(PORT),,$(error PORT=/dev/ttyUSB0 (the ESP32's serial port) is required))
	$(PY) tools/deploy.py config --port $(PORT) $(DRY) \
		$(if $(WIFI_SSID),--set 'wifi.ssid=$(WIFI_SSID)') \
		$(if $(WIFI_PASSWORD),--set 'wifi.password=$(WIFI_PASSWORD)') \
		$(if $(MQTT_HOST),--set 'mqtt.host=$(MQTT_HOST)') \
		$(if $(MQTT_PORT),--set 'mqtt.port=$(MQTT_PORT)') \
		$(if $(MQTT_USER),--set 'mqtt.user=$(MQTT_USER)') \
		$(if $(MQTT_PASSWORD),--set 'mqtt.password=$(MQTT_PASSWORD)') \
		$(if $(HTTP_PASSWORD),--set 'http.password=$(HTTP_PASSWORD)') \
		$(foreach s,$(SET),--set '$(s)')

# Updates over Wi-Fi. `make bundle` writes build/hanport-<version>.bundle (the .mpy files as
# deploy compiles them, the pages and board files, and a manifest of sizes and SHA-256s);
# `make update HOST=hanport-xxxx.local [HTTP_PORT=80] [HTTP_PASSWORD=...]` sends it (the page's
# user and password; asked for when not given) and waits until the dongle runs it healthy.
bundle: setup
	$(PY) tools/bundle.py

update: bundle
	$(if $(HOST),,$(error HOST=hanport-xxxx.local (the dongle's name or address) is required))
	$(if $(HTTP_PASSWORD),HANPORT_PASSWORD='$(HTTP_PASSWORD)') $(PY) tools/update.py \
		--host $(HOST) --port $(if $(filter command line,$(origin HTTP_PORT)),$(HTTP_PORT),80)

# make flash PORT=... BOARD=... FIRMWARE=ESP32_GENERIC-v1.24.1.bin (from micropython.org)
flash: setup
	$(if $(PORT),,$(error PORT=/dev/ttyUSB0 (the ESP32's serial port) is required))
	$(PY) tools/deploy.py flash --port $(PORT) --board $(BOARD) \
		$(if $(FIRMWARE),--firmware $(FIRMWARE)) $(DRY)

# Parser speed (CPython, amshan, MicroPython VM), VM memory figures, the latency from a
# frame's last byte to its message at a real broker, the firmware's heap in the real 32-bit
# MicroPython (per module group, after build(), over 10 simulated minutes), and the energy
# accounting's RAM and allocation per reading; printed, never asserted. For machines:
# tools/bench.py --json; bench_latency.py --json; bench_heap.py --json; bench_energy.py --json
bench: setup debs
	$(PY) tools/bench.py
	$(PY) tools/bench_latency.py
	$(PY) tools/bench_heap.py
	$(PY) tools/bench_energy.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis build
