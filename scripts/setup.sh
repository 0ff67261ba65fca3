#!/usr/bin/env bash
# Set up everything `make run` and `make test` need on a Debian 12 machine, run as root.
# Idempotent: Debian packages are installed only when missing, and the virtual environment is
# rebuilt only when pyproject.toml (or this script) changed since the last successful set-up.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gcc make swig libpcsclite-dev      # pyscard builds from source
  procps                             # pgrep, used to find a running pcscd
  pcscd vsmartcard-vpcd              # the real PC/SC stack the tests and the simulator use
  libzbar0                           # pyzbar
  libmtdev1 libgl1 libglib2.0-0      # Kivy and OpenCV at run time
  fonts-wqy-microhei                 # a single-face Chinese font Kivy can load
  xvfb xauth                         # `make run` on a machine with no display
  espeak-ng                          # spoken prompts (the kiosk stays silent without it)
  cage xinit                         # the kiosk compositor (and the X11 alternative) the units start
  postgresql                         # the back office's production database, started by the tests
  chromium chromium-driver           # the back-office pages tested in a real headless browser
)

# Python 3.11: the one on PATH, else Debian's (which needs its venv and headers packages too).
PY=${PYTHON:-$(command -v python3.11 || true)}
if [[ -z "$PY" || "$PY" == /usr/bin/* ]]; then
  PY=/usr/bin/python3
  APT_PACKAGES+=(python3 python3-venv python3-dev)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV=.venv
STAMP=$VENV/.setup-stamp
LOCK=requirements/dev.lock
want=$(cat pyproject.toml scripts/setup.sh requirements/*.lock | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
# Every Python package comes from the lock, pinned and hash-checked (scripts/lock.sh, `make lock`);
# face_recognition is in it and installed like everything else with --no-deps, over dlib-bin.
source scripts/lock_inputs.sh
stale=""
if ! lock_is_current "$LOCK"; then
  if [[ -n "${CI:-}" ]]; then
    echo "setup: $LOCK is stale: pyproject.toml (or requirements/*.in) changed after the last \`make lock\`."
    echo "setup: run \`make lock\` and commit requirements/*.lock"
    exit 1
  fi
  stale=1
  echo "setup: WARNING: $LOCK is stale against pyproject.toml: run \`make lock\` (and commit requirements/*.lock)."
  echo "setup: installing the locked packages, then what pyproject.toml added, unpinned, for now."
fi
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# The GUI build of OpenCV was replaced by opencv-python-headless: both install cv2, so one must go.
if "$VENV/bin/python" -m pip show -q opencv-python >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip uninstall -q -y opencv-python opencv-python-headless 2>/dev/null
fi
"${PIP[@]}" --no-deps --require-hashes -r requirements/build.lock
"${PIP[@]}" --no-deps --require-hashes --no-build-isolation -r "$LOCK"
if [[ -n $stale ]]; then
  "${PIP[@]}" --no-build-isolation -e '.[test,backoffice]'
else
  "${PIP[@]}" --no-deps --no-build-isolation -e '.[test,backoffice]'
fi
echo "$want" > "$STAMP"
echo "setup: done"
