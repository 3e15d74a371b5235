# Two commands for a fresh machine:
#   make demo   set up .venv and run `ivgr demo` (offline, CPU, minutes)
#   make test   set up .venv with test extras and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_OUT ?= ivgr-demo

.PHONY: demo test install clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# Without a GPU, install the local CPU build of torch first so no CUDA wheels are pulled.
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PIP) install -q torch==2.13.0; fi
	$(PIP) install -q -e ".[test,ui]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/ivgr demo --out $(DEMO_OUT)

# The browser tests (demo report, `ivgr ui` page) run Debian's headless Chromium.
test: install
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
