#!/usr/bin/env bash
# Run the whole test suite against the real PC/SC stack (pcscd + vsmartcard's vpcd), started here
# when none runs and stopped on every exit path (see scripts/pcscd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
source scripts/pcscd.sh
source scripts/postgres.sh
stop_services() { stop_postgres; stop_pcscd; }
trap stop_services EXIT INT TERM
start_pcscd artifacts/pcscd.log
start_postgres artifacts/postgres.log  # the back-office tests' database (BACKOFFICE_TEST_DB_*)
export KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1 KIVY_NO_CONSOLELOG=1 SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-offscreen}
.venv/bin/ruff check .
# On every core (pytest-xdist): tests/conftest.py keeps each module in one worker and the vpcd users in
# one unit. PYTEST_WORKERS=0 runs everything in this process, one test after another.
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-$(nproc)}" "$@"
