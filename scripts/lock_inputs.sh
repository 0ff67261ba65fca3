# Sourced by scripts/lock.sh, scripts/setup.sh and scripts/install.sh: what a lock file was made
# from. A lock whose recorded hash differs was made before pyproject.toml (or the face/build
# inputs) changed: it no longer pins what the project asks for.
lock_inputs_hash() {
  LC_ALL=C cat pyproject.toml requirements/face.in requirements/build.in requirements/overrides.txt | sha256sum | cut -d' ' -f1
}
lock_is_current() {  # lock_is_current LOCKFILE
  [[ -f $1 ]] && [[ "$(sed -n 's/^# inputs-sha256: //p' "$1" | head -1)" == "$(lock_inputs_hash)" ]]
}
