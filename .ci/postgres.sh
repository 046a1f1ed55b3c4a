# Start / stop a throw-away PostgreSQL server for tests (sourced by .ci/run and
# usable by hand: `source .ci/postgres.sh; pg_start; ...; pg_stop`).
# initdb refuses to run as root, so the server runs as the `postgres` user on a
# free loopback port, with its data and socket in a temporary folder.

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }; done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  return 1
}

pg_start() {
  local bin
  bin=$(pg_bin) || return 1
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PGTMP=$(mktemp -d /tmp/salesnb-pg.XXXXXX)
  mkdir -p "$PGTMP/data" "$PGTMP/sock"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$PGTMP"
    chmod 755 "$PGTMP"
    RUN=(runuser -u postgres --)
  else
    RUN=()
  fi
  "${RUN[@]}" "$bin/initdb" -D "$PGTMP/data" -U postgres -A trust --no-sync >"$PGTMP/initdb.log" 2>&1 \
    || { cat "$PGTMP/initdb.log" >&2; return 1; }
  "${RUN[@]}" "$bin/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGTMP/sock -c fsync=off -c shared_preload_libraries=pg_stat_statements" start >/dev/null \
    || { cat "$PGTMP/server.log" >&2; return 1; }
  export PGPORT PGTMP
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT"
}

pg_stop() {
  [ -n "${PGTMP:-}" ] || return 0
  local bin
  bin=$(pg_bin) || return 0
  "${RUN[@]}" "$bin/pg_ctl" -D "$PGTMP/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
