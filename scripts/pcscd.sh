# Sourced by scripts/test.sh and scripts/run.sh: start pcscd (which loads vsmartcard's vpcd driver)
# when none runs, and stop the one we started on every exit path. Its output goes to a log file:
# a daemon holding the caller's stdout open would hang CI.
started_pcscd=""
stop_pcscd() {
  if [[ -n "$started_pcscd" ]]; then
    kill "$started_pcscd" 2>/dev/null || true
    wait "$started_pcscd" 2>/dev/null || true
    started_pcscd=""
  fi
}
start_pcscd() {
  local log=$1
  if pgrep -x pcscd >/dev/null; then
    return 0
  fi
  mkdir -p "$(dirname "$log")"
  pcscd -f -a > "$log" 2>&1 < /dev/null &
  started_pcscd=$!
  for _ in $(seq 50); do [[ -S /run/pcscd/pcscd.comm ]] && break; sleep 0.1; done
}
