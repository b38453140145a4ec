#!/bin/sh
# Runs a command beside a throw-away PostgreSQL server, with FIELDAPP_TEST_DATABASE_URL pointing at it.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
set -eu
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PGROOT=$(mktemp -d /tmp/fieldapp-pg.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres: "$PGROOT"
    AS_PG="runuser -u postgres --"
else
    AS_PG=""
fi
cleanup() {
    $AS_PG "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PGROOT"
}
trap cleanup EXIT INT TERM
$AS_PG "$PGBIN/initdb" -D "$PGROOT/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
$AS_PG "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 30 \
    -o "-k $PGROOT -p $PGPORT -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
export FIELDAPP_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
export FIELDAPP_REQUIRE_POSTGRES=1
"$@"
