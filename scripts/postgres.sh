# Sourced by scripts/test.sh: start a throw-away PostgreSQL for the back-office tests and stop it
# on every exit path (the caller traps stop_postgres). The cluster lives in a temporary directory
# owned by postgres, listens only on a Unix socket in that directory (named for a free port), and
# logs to a file, never to the caller's stdout (a daemon holding it open would hang CI).
# Exports BACKOFFICE_TEST_DB_NAME / _HOST / _PORT / _USER: tests/backoffice/conftest.py hands them
# to Django. (Not BACKOFFICE_DB_*, which settings.py reads: a back office that another test starts
# as a subprocess on its own SQLite file must not inherit this database.)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
started_postgres_dir=""
stop_postgres() {
  [[ -n "$started_postgres_dir" ]] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$started_postgres_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$started_postgres_dir"
  started_postgres_dir=""
}
_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
start_postgres() {  # start_postgres LOGFILE
  local log=$1 dir port
  [[ -x "$PG_BIN/pg_ctl" ]] || { echo "postgres: $PG_BIN/pg_ctl not found (run make setup)" >&2; return 1; }
  mkdir -p "$(dirname "$log")"
  dir=$(mktemp -d /tmp/backoffice-pg.XXXXXX)
  chown postgres: "$dir"
  chmod 700 "$dir"
  started_postgres_dir=$dir
  port=$(_pg_free_port)
  : > "$log"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >> "$log" 2>&1
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses='' -k $dir -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >> "$log" 2>&1 < /dev/null
  export BACKOFFICE_TEST_DB_HOST=$dir BACKOFFICE_TEST_DB_PORT=$port BACKOFFICE_TEST_DB_USER=postgres \
    BACKOFFICE_TEST_DB_NAME=backoffice
  runuser -u postgres -- "$PG_BIN/createdb" -h "$dir" -p "$port" backoffice >> "$log" 2>&1
}
