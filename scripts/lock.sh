#!/usr/bin/env bash
# `make lock`: pin every Python package the kiosk and its tests use, with hashes, for plain PyPI on
# Debian 12 (CPython 3.11, x86_64, glibc 2.36), with uv. Two files, from the same inputs:
#   requirements/kiosk.lock  what `make install` puts on a kiosk (the app and the face check)
#   requirements/dev.lock    what `make setup` installs (that, plus tests, linters and the back office)
#   requirements/build.lock  setuptools and wheel, installed first: everything else is then built and
#                            installed with --no-build-isolation, so no unpinned build tool is fetched
# The kiosk lock is constrained by the dev lock, so a package has the same version in both.
# Existing pins are kept (uv reads the old lock); `make lock UPGRADE=1` moves everything to the newest.
# Each lock starts with the sha256 of its inputs: scripts/setup.sh and make install refuse a lock
# older than pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/python ]] || { echo "lock: run make setup first (the lock is made with uv in .venv)"; exit 1; }
[[ -x .venv/bin/uv ]] || .venv/bin/python -m pip install -q 'uv>=0.4'
source scripts/lock_inputs.sh
hash=$(lock_inputs_hash)
common=(--no-config --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_36
        --overrides requirements/overrides.txt
        --custom-compile-command "make lock")
[[ -n ${UPGRADE:-} ]] && common+=(--upgrade)
inputs=(pyproject.toml requirements/face.in requirements/build.in)
compile() {  # compile OUTPUT ARGS…: uv writes a temporary file; the lock is replaced only when complete
  local out=$1 tmp
  shift
  tmp=$(mktemp)
  [[ -f $out ]] && sed '/^# inputs-sha256: /d' "$out" > "$tmp"  # the old pins, as uv's preferences
  .venv/bin/uv pip compile "${common[@]}" "$@" -o "$tmp"
  { echo "# inputs-sha256: $hash"; cat "$tmp"; } > "$out.new"
  mv "$out.new" "$out"
  rm -f "$tmp"
  echo "lock: $out ($(grep -c '==' "$out") packages)"
}
compile requirements/dev.lock "${inputs[@]}" --extra test --extra backoffice
compile requirements/kiosk.lock "${inputs[@]}" -c requirements/dev.lock
compile requirements/build.lock requirements/build.in -c requirements/dev.lock
