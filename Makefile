# The two commands of README.md; everything else is for developers.
.PHONY: setup run test bench lint clean install uninstall screenshots lock

setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/test.sh $(PYTEST_ARGS)

bench: setup
	@bash scripts/bench.sh

lint: setup
	@.venv/bin/ruff check .

clean:
	rm -rf .venv artifacts .pytest_cache .ruff_cache

# Pin every Python package with hashes (requirements/*.lock, uv); UPGRADE=1 moves pins to the newest.
lock:
	@UPGRADE=$(UPGRADE) bash scripts/lock.sh

install:
	@DESTDIR=$(DESTDIR) bash scripts/install.sh install

uninstall:
	@DESTDIR=$(DESTDIR) PURGE=$(PURGE) bash scripts/install.sh uninstall

# Re-take the README's screenshots from a scripted run of the real kiosk (docs/screenshots/).
screenshots: setup
	@KIOSK_UPDATE_SCREENSHOTS=1 bash scripts/test.sh tests/test_ui_kiosk_run.py
