#!/usr/bin/env bash
# `make install` / `make uninstall`: put the kiosk on a Debian 12 kiosk PC, idempotently.
#
#   make install                     # as root on the kiosk PC
#   make install DESTDIR=/tmp/root   # into a staging root: files only (no apt, no user, no systemctl)
#   make uninstall [PURGE=1]         # PURGE=1 also deletes /etc/kiosk and the data in /var/lib/kiosk
#
# KIOSK_INSTALL_DEPS=0 installs the project into the venv without its dependencies (used by the
# tests that check the staged tree; a real kiosk always gets them).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PREFIX=/opt/kiosk
action=${1:-install}

RUNTIME_PACKAGES=(
  python3 python3-venv python3-dev gcc swig libpcsclite-dev   # the venv and pyscard's build
  pcscd libzbar0 libmtdev1 libgl1 libglib2.0-0 fonts-wqy-microhei espeak-ng
  cage xinit xserver-xorg-core xserver-xorg-input-libinput        # cage, and the X11 alternative
)

say() { printf 'install: %s\n' "$*"; }
real() { [[ -z "$DESTDIR" ]]; }
have_systemd() { real && [[ -d /run/systemd/system ]]; }

put() {  # put SRC DEST MODE: copy a file only when it differs, so re-runs change nothing
  local src=$1 dst=$DESTDIR$2 mode=$3
  mkdir -p "$(dirname "$dst")"
  if [[ -f "$dst" ]] && cmp -s "$src" "$dst"; then return 0; fi
  install -m "$mode" "$src" "$dst"
  say "wrote $2"
}

seal_data_key() {  # the data key as a systemd credential, TPM-sealed where there is one: off the data disk
  local cred=/etc/credstore.encrypted/kiosk-data-key old=/var/lib/kiosk/keys/kiosk.key with=host
  local backup=/root/kiosk-data-key.backup
  if ! real; then say "staging: the data key is sealed with systemd-creds when installing on the kiosk PC"; return 0; fi
  if [[ -f $cred ]]; then say "kept the sealed data key $cred"; return 0; fi
  [[ -e /dev/tpmrm0 ]] && with=tpm2
  install -d -m 700 /etc/credstore.encrypted
  ( umask 077; if [[ -f $old ]]; then cp "$old" "$backup"; else head -c 32 /dev/urandom >"$backup"; fi )
  chmod 400 "$backup"
  systemd-creds encrypt --name=kiosk-data-key --with-key="$with" "$backup" "$cred"
  chmod 600 "$cred"
  say "sealed the data key into $cred (--with-key=$with); copy $backup to offline storage, then delete it:"
  say "  it is the only way to read the cases on a replacement PC"
  [[ -f $old ]] && say "the key file $old is no longer used; delete it once that backup is safe"
  return 0
}

do_install() {
  if real; then
    [[ $(id -u) -eq 0 ]] || { echo "install: run as root (or give DESTDIR=… to stage)"; exit 1; }
    local missing=()
    for p in "${RUNTIME_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
      say "Debian packages: ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if ! getent passwd kiosk >/dev/null; then
      useradd --system --home-dir /var/lib/kiosk --no-create-home --shell /usr/sbin/nologin kiosk
      say "created user kiosk"
    fi
    for g in dialout video input render; do
      getent group "$g" >/dev/null && usermod -aG "$g" kiosk
    done
  else
    say "staging into $DESTDIR (no packages, user or services are touched)"
  fi

  build_release
  for unit in systemd/kiosk*.service systemd/kiosk*.timer; do  # the back office's units are not for kiosks
    put "$unit" "/etc/systemd/system/$(basename "$unit")" 644
  done
  put systemd/pam.d/kiosk /etc/pam.d/kiosk 644
  # All lines of the template are comments: harmless until the technician fills them in.
  [[ -f $DESTDIR/etc/udev/rules.d/99-kiosk.rules ]] || put systemd/udev/99-kiosk.rules.template \
    /etc/udev/rules.d/99-kiosk.rules 644
  # Never overwrite a configuration a technician has edited.
  if [[ ! -f $DESTDIR/etc/kiosk/kiosk.toml ]]; then
    put config/kiosk.example.toml /etc/kiosk/kiosk.toml 640
  else
    say "kept the existing /etc/kiosk/kiosk.toml"
  fi
  mkdir -p "$DESTDIR/var/lib/kiosk"
  chmod 700 "$DESTDIR/var/lib/kiosk"
  if real; then
    chown root:kiosk /etc/kiosk/kiosk.toml
    chown kiosk:kiosk /var/lib/kiosk
  fi
  seal_data_key

  if have_systemd; then
    systemctl daemon-reload
    udevadm control --reload 2>/dev/null || true
    systemctl enable pcscd.socket kiosk.service kiosk-purge.timer kiosk-selfcheck.timer
    systemctl set-default graphical.target
  fi
  switch_release
  have_systemd && ! ((${#was_running[@]})) && say "enabled kiosk.service and its timers; start now with: systemctl start kiosk"
  say "done"
}

# -- releases side by side (see kiosk/releases.py) ---------------------------------------------------
# /opt/kiosk/releases/<version>/{src,venv,release.json}; `current` and `previous` links; the units
# run /opt/kiosk/venv/bin/kiosk, a link through `current`. A release folder counts as installed once
# its release.json exists (written last), so an interrupted build is never switched to.
BASE=$DESTDIR$PREFIX
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC/kiosk/__init__.py")
REL=$BASE/releases/$VERSION
was_running=()

as_kiosk() {  # run as the kiosk user on a kiosk (files it creates stay its own), as ourselves when staging
  if real; then runuser -u kiosk -- "$@"; else "$@"; fi
}

build_release() {
  [[ -n $VERSION ]] || { echo "install: no __version__ in kiosk/__init__.py"; exit 1; }
  local stage hash
  stage=$(mktemp -d)
  # The source, as tracked by git (no venv, no local state).
  if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SRC" ls-files -z | (cd "$SRC" && xargs -0 tar -cf -) | tar -xf - -C "$stage"
  else
    tar -C "$SRC" --exclude=.venv --exclude=var --exclude=artifacts -cf - . | tar -xf - -C "$stage"
  fi
  hash=$(cd "$stage" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [[ "${KIOSK_INSTALL_DEPS:-1}" == 1 ]] && ! (cd "$stage" && source scripts/lock_inputs.sh &&
                                                 lock_is_current requirements/kiosk.lock); then
    rm -rf "$stage"
    echo "install: requirements/kiosk.lock is stale against pyproject.toml: run \`make lock\` (and commit it) first"
    exit 1
  fi
  if [[ -f $REL/release.json ]] && grep -q "\"source\": \"$hash\"" "$REL/release.json"; then
    rm -rf "$stage"
    say "release $VERSION is already installed (same source)"
    return 0
  fi
  if [[ -e $REL ]]; then  # a developer's re-install: an update that can be rolled back raises the version
    say "release $VERSION is installed with other source: rebuilding it in place (raise __version__ in"
    say "kiosk/__init__.py for an update that keeps the running release to roll back to)"
    rm -rf "$REL"
  fi
  mkdir -p "$REL"
  mv "$stage" "$REL/src"
  chmod 755 "$REL" "$REL/src"
  local py pip
  py=$(command -v python3.11 || command -v python3)
  if [[ "${KIOSK_INSTALL_DEPS:-1}" != 1 && -n ${KIOSK_DEPS_FROM:-} ]]; then
    "$py" -m venv --without-pip "$REL/venv"  # tests: pip too comes from KIOSK_DEPS_FROM (6 s less a release)
  else
    "$py" -m venv "$REL/venv"
  fi
  pip=("$REL/venv/bin/python" -m pip install -q --disable-pip-version-check)
  if [[ "${KIOSK_INSTALL_DEPS:-1}" == 1 ]]; then
    # Exactly the locked packages, hash-checked (face_recognition among them, over dlib-bin), then the
    # kiosk itself built with the locked setuptools: two installs a month apart are the same.
    "${pip[@]}" --no-deps --require-hashes -r "$REL/src/requirements/build.lock"
    "${pip[@]}" --no-deps --require-hashes --no-build-isolation -r "$REL/src/requirements/kiosk.lock"
    "${pip[@]}" --no-deps --no-build-isolation "$REL/src"
  elif [[ -n ${KIOSK_DEPS_FROM:-} ]]; then
    # Tests: the dependencies (setuptools among them) of an existing environment, so the kiosk is
    # built offline with that setuptools, as the locked path above builds it with the locked one.
    local site
    site=$("$REL/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$KIOSK_DEPS_FROM" > "$site/kiosk-deps-from.pth"
    "${pip[@]}" --no-deps --no-build-isolation "$REL/src"
  else
    "${pip[@]}" --no-deps "$REL/src"
  fi
  # Written last: from here on the folder is an installed release (outside the source: cwd is not on the path).
  (cd / && "$REL/venv/bin/python" - "$REL" "$hash" <<'PY'
import datetime, json, sys
from pathlib import Path
import kiosk
from locker import schema
meta = {"version": kiosk.__version__, "schema": schema.LATEST, "schema_compat": True,
        "breaking": {str(k): v for k, v in schema.BREAKING.items()}, "source": sys.argv[2],
        "installed_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
Path(sys.argv[1], "release.json").write_text(json.dumps(meta, indent=1) + "\n")
PY
  )
  say "release $VERSION in $PREFIX/releases/$VERSION"
}

switch_release() {
  local conf=$DESTDIR/etc/kiosk/kiosk.toml kiosk=("$REL/venv/bin/kiosk") check=(release selfcheck) db
  kiosk+=(--config "$conf")
  [[ "${KIOSK_INSTALL_DEPS:-1}" != 1 && -z ${KIOSK_DEPS_FROM:-} ]] && check+=(--no-imports)
  # The new release checks itself on a copy of the database first: the kiosk keeps running meanwhile.
  if ! as_kiosk "${kiosk[@]}" "${check[@]}" --root "$DESTDIR"; then
    echo "install: release $VERSION failed its self-check; still running $(readlink "$BASE/current" 2>/dev/null || echo nothing)"
    exit 1
  fi
  db=$(cd / && "$REL/venv/bin/python" -c 'import sys; from kiosk.config import load_config; from kiosk.release import DB_NAME
print(load_config(sys.argv[1]).store.data_dir / DB_NAME)' "$conf")
  # The release tool and the links the units use.
  mkdir -p "$BASE/bin"
  put "$REL/src/kiosk/releases.py" "$PREFIX/bin/kiosk-release" 755
  if [[ -d $BASE/src && ! -L $BASE/src ]]; then  # the in-place layout of earlier installs
    rm -rf "$BASE/src" "$BASE/venv"
    say "replaced the in-place install in $PREFIX/src (there is no rolling back to it)"
  fi
  local release_tool=(python3 "$BASE/bin/kiosk-release" --root "$DESTDIR")
  if [[ "$(readlink "$BASE/current" 2>/dev/null)" != "releases/$VERSION" ]]; then
    if have_systemd; then
      local u
      for u in kiosk.service kiosk-x11.service; do systemctl is-active --quiet "$u" && was_running+=("$u"); done
      ((${#was_running[@]})) && systemctl stop "${was_running[@]}"
    fi
    "${release_tool[@]}" activate "$VERSION" --db "$db" | sed 's/^/install: /'
    # Forward only now: the self-check passed. Additive migrations keep the previous release usable.
    as_kiosk "$BASE/current/venv/bin/kiosk" --config "$conf" release migrate --root "$DESTDIR"
  else
    "${release_tool[@]}" activate "$VERSION" --db "$db" >/dev/null
  fi
  [[ "$(readlink "$BASE/venv" 2>/dev/null)" == current/venv ]] || ln -sfn current/venv "$BASE/venv"
  [[ "$(readlink "$BASE/src" 2>/dev/null)" == current/src ]] || ln -sfn current/src "$BASE/src"
  "${release_tool[@]}" prune | sed 's/^/install: /'
  if ((${#was_running[@]})); then
    systemctl start "${was_running[@]}"
    say "restarted ${was_running[*]} on release $VERSION (rolled back by itself unless it confirms healthy)"
  fi
}

do_uninstall() {
  if have_systemd; then
    systemctl disable --now kiosk.service kiosk-x11.service kiosk-purge.timer kiosk-selfcheck.timer 2>/dev/null || true
  fi
  for unit in systemd/kiosk*.service systemd/kiosk*.timer; do  # the back office's units are not for kiosks
    rm -f "$DESTDIR/etc/systemd/system/$(basename "$unit")"
  done
  rm -f "$DESTDIR/etc/pam.d/kiosk"
  rm -rf "${DESTDIR:?}$PREFIX"
  if [[ "${PURGE:-0}" == 1 ]]; then
    rm -rf "$DESTDIR/etc/kiosk" "$DESTDIR/var/lib/kiosk" "$DESTDIR/etc/udev/rules.d/99-kiosk.rules"
    say "purged configuration and data"
  else
    say "kept /etc/kiosk and /var/lib/kiosk (cases and keys); PURGE=1 removes them"
  fi
  have_systemd && systemctl daemon-reload
  say "uninstalled"
}

case $action in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) echo "usage: $0 install|uninstall"; exit 2 ;;
esac
