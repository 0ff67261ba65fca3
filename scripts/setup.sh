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
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip 'setuptools<81' wheel
# face_recognition would pull dlib and compile it for many minutes: dlib-bin ships the module.
"${PIP[@]}" dlib-bin face_recognition_models click numpy Pillow 'setuptools<81'
"${PIP[@]}" --no-deps face_recognition==1.3.0
"${PIP[@]}" -e '.[test,backoffice]'
echo "$want" > "$STAMP"
echo "setup: done"
