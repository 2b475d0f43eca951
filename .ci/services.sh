#!/usr/bin/env bash
# The services the tests marked `services` need: a PostgreSQL server and an MLflow tracking server backed by it,
# both on 127.0.0.1 on free ports, their state in one temp folder.
#
#   .ci/services.sh start   start both, wait until each answers (or fail naming which and why, with its log)
#                           and write DIR/env: the `export` lines of HMRBENCH_TEST_POSTGRES_URL (an Optuna storage,
#                           database `hmrbench`), HMRBENCH_TEST_MLFLOW_URI (the server), HMRBENCH_SERVICES_DIR
#   .ci/services.sh stop    stop both (safe to call when they are not running) and remove DIR
#   .ci/services.sh available   exit 0 when the PostgreSQL server binaries are here (else say so, exit 1)
#
# DIR is $HMRBENCH_SERVICES_DIR, default ${TMPDIR:-/tmp}/hmrbench-services. Needs the PostgreSQL server binaries
# (initdb, pg_ctl, postgres on PATH or in /usr/lib/postgresql/*/bin) and `mlflow` and `python` from the
# environment hmrbench is installed in with its `cluster` extra (psycopg2). As root, PostgreSQL runs as the user
# `postgres` (it refuses root). The servers log to DIR/postgres.log and DIR/mlflow.log.
set -euo pipefail
DIR="${HMRBENCH_SERVICES_DIR:-${TMPDIR:-/tmp}/hmrbench-services}"
WAIT="${HMRBENCH_SERVICES_WAIT:-120}"  # seconds each server gets to answer

pg_bin() {  # the directory holding initdb
    if command -v initdb > /dev/null; then dirname "$(command -v initdb)"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
    [ -n "$found" ] && [ -x "$found/initdb" ] || { echo "services: no PostgreSQL server binaries (initdb)" >&2; exit 1; }
    echo "$found"
}

as_pg() {  # run a command as the PostgreSQL owner (`postgres` when we are root)
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

fail() {  # message, log file
    echo "services: $1" >&2
    [ -f "$2" ] && { echo "--- last lines of $2:" >&2; tail -n 30 "$2" >&2; }
    stop
    exit 1
}

start() {
    stop
    mkdir -p "$DIR"
    local bin pg_port ml_port
    bin=$(pg_bin)
    pg_port=$(free_port)
    mkdir -p "$DIR/pgdata" "$DIR/artifacts"
    if [ "$(id -u)" = 0 ]; then
        id postgres > /dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$DIR" "$DIR/pgdata"
    fi
    as_pg "$bin/initdb" -D "$DIR/pgdata" -U hmrbench --auth=trust --encoding=UTF8 --no-sync > "$DIR/initdb.log" 2>&1 \
        || fail "initdb failed" "$DIR/initdb.log"
    # two databases: Optuna's and MLflow's tables (both keep an alembic_version) must not share one
    printf 'CREATE DATABASE hmrbench;\nCREATE DATABASE mlflow;\n' \
        | as_pg "$bin/postgres" --single -D "$DIR/pgdata" postgres > "$DIR/createdb.log" 2>&1 \
        || fail "creating the databases failed" "$DIR/createdb.log"
    as_pg "$bin/pg_ctl" -D "$DIR/pgdata" -l "$DIR/postgres.log" -w -t "$WAIT" \
        -o "-h 127.0.0.1 -p $pg_port -k $DIR/pgdata -F" start > /dev/null \
        || fail "PostgreSQL did not answer on 127.0.0.1:$pg_port within ${WAIT} s" "$DIR/postgres.log"
    echo "$bin" > "$DIR/pg_bin"
    local pg="postgresql://hmrbench@127.0.0.1:$pg_port"
    ml_port=$(free_port)
    # mlflow opens its store with SQLAlchemy itself: name the driver the `cluster` extra installs
    mlflow server --backend-store-uri "postgresql+psycopg2://hmrbench@127.0.0.1:$pg_port/mlflow" \
        --artifacts-destination "$DIR/artifacts" --host 127.0.0.1 --port "$ml_port" --workers 1 \
        > "$DIR/mlflow.log" 2>&1 &
    echo $! > "$DIR/mlflow.pid"
    local uri="http://127.0.0.1:$ml_port" t0=$SECONDS
    until python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=5)" "$uri" \
        2> /dev/null; do
        kill -0 "$(cat "$DIR/mlflow.pid")" 2> /dev/null || fail "the MLflow server exited" "$DIR/mlflow.log"
        [ $((SECONDS - t0)) -lt "$WAIT" ] || fail "the MLflow server did not answer at $uri within ${WAIT} s" \
            "$DIR/mlflow.log"
        sleep 1
    done
    {
        echo "export HMRBENCH_SERVICES_DIR=$DIR"
        echo "export HMRBENCH_TEST_POSTGRES_URL=$pg/hmrbench"
        echo "export HMRBENCH_TEST_MLFLOW_URI=$uri"
    } > "$DIR/env"
    echo "services: PostgreSQL at $pg/hmrbench, MLflow server at $uri ($((SECONDS - t0)) s to answer); source $DIR/env"
}

stop() {
    [ -d "$DIR" ] || return 0
    if [ -f "$DIR/mlflow.pid" ]; then
        local pid
        pid=$(cat "$DIR/mlflow.pid")
        # the server's own workers (gunicorn/uvicorn) are its children: end them with it
        pkill -TERM -P "$pid" 2> /dev/null || true
        kill -TERM "$pid" 2> /dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2> /dev/null || true
    fi
    if [ -f "$DIR/pgdata/postmaster.pid" ] && [ -f "$DIR/pg_bin" ]; then
        as_pg "$(cat "$DIR/pg_bin")/pg_ctl" -D "$DIR/pgdata" -m fast -w stop > /dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    available) pg_bin > /dev/null ;;
    *) echo "usage: $0 start|stop|available" >&2; exit 2 ;;
esac
