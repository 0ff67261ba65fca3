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

  # The source, as tracked by git (no venv, no local state).
  local stage
  stage=$(mktemp -d)
  if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SRC" ls-files -z | (cd "$SRC" && xargs -0 tar -cf -) | tar -xf - -C "$stage"
  else
    tar -C "$SRC" --exclude=.venv --exclude=var --exclude=artifacts -cf - . | tar -xf - -C "$stage"
  fi
  mkdir -p "$DESTDIR$PREFIX"
  rm -rf "$DESTDIR$PREFIX/src.new"
  mv "$stage" "$DESTDIR$PREFIX/src.new"
  chmod 755 "$DESTDIR$PREFIX/src.new"
  rm -rf "$DESTDIR$PREFIX/src"
  mv "$DESTDIR$PREFIX/src.new" "$DESTDIR$PREFIX/src"
  say "source in $PREFIX/src"

  local venv=$DESTDIR$PREFIX/venv py
  py=$(command -v python3.11 || command -v python3)
  [[ -x $venv/bin/python ]] || "$py" -m venv "$venv"
  # Editable: the app finds its assets (fonts, texts, the service guide) beside its code in $PREFIX/src.
  local pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  if [[ "${KIOSK_INSTALL_DEPS:-1}" == 1 ]]; then
    "${pip[@]}" --upgrade pip 'setuptools<81' wheel
    "${pip[@]}" dlib-bin face_recognition_models click numpy Pillow
    "${pip[@]}" --no-deps face_recognition==1.3.0
    "${pip[@]}" -e "$DESTDIR$PREFIX/src"
  else
    "${pip[@]}" --no-deps -e "$DESTDIR$PREFIX/src"
  fi
  say "virtual environment in $PREFIX/venv"

  for unit in systemd/*.service systemd/*.timer; do
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
    say "enabled kiosk.service and its timers; start now with: systemctl start kiosk"
  fi
  say "done"
}

do_uninstall() {
  if have_systemd; then
    systemctl disable --now kiosk.service kiosk-x11.service kiosk-purge.timer kiosk-selfcheck.timer 2>/dev/null || true
  fi
  for unit in systemd/*.service systemd/*.timer; do
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
