#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server: `bash scripts/with-postgres.sh CMD ARGS…`.
#
# Starts the server on a private Unix socket, exports its URL as RUNBOOK_TEST_POSTGRES (and
# RUNBOOK_TEST_POSTGRES_ADMIN for the `postgres` database), runs CMD from the repository's
# root, and stops the server whatever happened. `scripts/test.sh` (the test command) and
# `bench/journal.sh` use it.
#
#   bash scripts/with-postgres.sh bash bench/journal.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The server binaries: Debian/Ubuntu keep them in /usr/lib/postgresql/<version>/bin, off PATH.
find_bindir() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
    | sort -V | tail -n 1)
  if [[ -n $dir && -x $dir/initdb && -x $dir/postgres ]]; then
    echo "$dir"
  elif command -v initdb >/dev/null && command -v postgres >/dev/null; then
    # Resolve symlinks so that pg_isready and createdb come from the same installation.
    dirname "$(readlink -f "$(command -v initdb)")"
  fi
}

bindir=$(find_bindir)
if [[ -z $bindir && $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "test.sh: installing PostgreSQL with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql-15 >/dev/null || apt-get install -y -qq postgresql >/dev/null
  bindir=$(find_bindir)
fi
if [[ -z $bindir ]]; then
  echo "test.sh: PostgreSQL's server binaries (initdb, postgres) were not found in" \
    "/usr/lib/postgresql/*/bin or on PATH; install PostgreSQL (e.g. apt-get install" \
    "postgresql-15) and run again" >&2
  exit 1
fi
PATH="$bindir:$PATH"

# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  echo "test.sh: running as root, but there is no \`postgres\` user to run the server as" >&2
  exit 1
fi

tmp=$(mktemp -d -t runbook-pg.XXXXXX)
data=$tmp/data
sockets=$tmp/sockets
launcher=""

# Stop the server and remove its files, however the script ends. SIGINT is PostgreSQL's
# "fast" shutdown (SIGTERM would wait for every client, e.g. a killed test's pool, to leave);
# SIGKILL after 10 s. The PID is the postmaster's own (runuser stays in between as its parent).
cleanup() {
  local status=$? pid="" _
  set +e
  [[ -f $data/postmaster.pid ]] && pid=$(head -n 1 "$data/postmaster.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  [[ -n $launcher ]] && { kill "$launcher" 2>/dev/null; wait "$launcher" 2>/dev/null; }
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$sockets"
# A fresh password per run (hex, so it needs no escaping in the URL); password auth even on
# the private socket, as the production store will use.
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$tmp/pwfile"
# The postgres user owns everything; root (the tests) can still reach the socket.
[[ $EUID -eq 0 ]] && chown -R postgres: "$tmp"
cd "$tmp" # the postgres user may not be allowed into the caller's directory

as_pg initdb --pgdata="$data" --username=postgres --auth=scram-sha-256 \
  --pwfile="$tmp/pwfile" --encoding=UTF8 --no-locale >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
rm "$tmp/pwfile"

# Only a Unix socket in our own directory: no port to collide with another server or CI job.
# fsync=off: the data is thrown away anyway.
as_pg postgres -D "$data" -k "$sockets" -c listen_addresses='' -c fsync=off \
  >"$tmp/postgres.log" 2>&1 &
launcher=$!

for _ in $(seq 300); do
  pg_isready -q -h "$sockets" -U postgres && break
  if ! kill -0 "$launcher" 2>/dev/null; then
    echo "test.sh: PostgreSQL exited while starting:" >&2
    cat "$tmp/postgres.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! pg_isready -q -h "$sockets" -U postgres; then
  echo "test.sh: PostgreSQL did not accept connections within 30 s:" >&2
  cat "$tmp/postgres.log" >&2
  exit 1
fi

PGPASSWORD=$password createdb -h "$sockets" -U postgres runbook_test

# URLs sqlx (and psql) accept: the Unix socket's directory goes in `?host=`.
export RUNBOOK_TEST_POSTGRES="postgres://postgres:$password@localhost/runbook_test?host=$sockets"
export RUNBOOK_TEST_POSTGRES_ADMIN="postgres://postgres:$password@localhost/postgres?host=$sockets"

cd "$repo"
"$@"
