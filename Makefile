# Two commands for a fresh machine:  `make chat` (set up, index seeds/, open the chat)
# and `make test` (set up, run every test: fast, real-model and real-browser).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: chat index test test-fast browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml scripts/install_torch.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python scripts/install_torch.py
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Ray Data, for `qa index --ray` and its test (the chat does not need it).
$(VENV)/.cluster: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,cluster]'
	touch $@

chat: $(VENV)/.installed
	$(BIN)/qa index
	$(BIN)/qa chat --port $(PORT)

index: $(VENV)/.installed
	$(BIN)/qa index

# Debian's Chromium and ChromeDriver, for the one real-browser test (nothing downloads a browser).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(VENV)/.cluster browser
	$(BIN)/python -m pytest -m "slow or browser or not slow" -p no:cacheprovider

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) embeddings/*.faiss embeddings/*.npy embeddings/manifest.json
