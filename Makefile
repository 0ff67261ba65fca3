# The two commands of README.md; everything else is for developers.
.PHONY: setup run test bench lint clean install uninstall

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

install:
	@DESTDIR=$(DESTDIR) bash scripts/install.sh install

uninstall:
	@DESTDIR=$(DESTDIR) PURGE=$(PURGE) bash scripts/install.sh uninstall
