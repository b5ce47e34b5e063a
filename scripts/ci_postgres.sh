#!/usr/bin/env bash
# Install PostgreSQL + PostGIS from Debian's packages, start a cluster on
# localhost and create a role and a database with the postgis extension.
# Idempotent: rerunning it leaves a running, ready server. The last line of
# stdout is the DATABASE_URL to use (the test suite reads it from
# JUNKAI_TEST_POSTGRES_URL; its role may create databases, so each test
# session works in a fresh database of its own).
set -euo pipefail

PGROLE="${JUNKAI_PG_ROLE:-junkai}"
PGPASS="${JUNKAI_PG_PASSWORD:-junkai}"
PGDB="${JUNKAI_PG_DB:-junkai}"
PGPORT="${JUNKAI_PG_PORT:-5432}"

log() { echo "ci_postgres: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
   || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
    log "installing postgresql and postgis"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # postgresql-NN-postgis-3 matches the server's major version; the
    # postgis meta-package pulls the one for Debian's default server.
    apt-get install -y -qq postgresql postgis >&2
fi

PGVER="$(ls /usr/lib/postgresql | sort -n | tail -1)"
CLUSTER=main
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$PGVER $CLUSTER"; then
    log "creating cluster $PGVER/$CLUSTER"
    pg_createcluster "$PGVER" "$CLUSTER" --port "$PGPORT" >&2
fi
if ! pg_lsclusters -h | awk -v v="$PGVER" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    log "starting cluster $PGVER/$CLUSTER"
    pg_ctlcluster "$PGVER" "$CLUSTER" start >&2
fi
PORT="$(pg_lsclusters -h | awk -v v="$PGVER" -v c="$CLUSTER" '$1==v && $2==c {print $3}')"

psql_su() { PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

for _ in $(seq 1 30); do
    psql_su -c "select 1" >/dev/null 2>&1 && break
    sleep 1
done

if [ "$(psql_su -c "select 1 from pg_roles where rolname='$PGROLE'")" != "1" ]; then
    psql_su -c "create role $PGROLE login createdb password '$PGPASS'"
fi
# Every database created from template1 (the tests make one per session)
# gets PostGIS without needing a superuser.
psql_su -d template1 -c "create extension if not exists postgis"
if [ "$(psql_su -c "select 1 from pg_database where datname='$PGDB'")" != "1" ]; then
    psql_su -c "create database $PGDB owner $PGROLE"
fi
psql_su -d "$PGDB" -c "create extension if not exists postgis"

echo "postgresql+psycopg://$PGROLE:$PGPASS@127.0.0.1:$PORT/$PGDB"
