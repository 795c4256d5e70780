#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL for the hub's tests and benchmarks.
#
#   scripts/pg-test-server.sh start   # prints the URL on its last line
#   scripts/pg-test-server.sh stop
#
# Installs nothing: it uses Debian's server binaries (apt-get install
# postgresql) from /usr/lib/postgresql/*/bin. The cluster lives in a fresh
# temporary directory, listens on 127.0.0.1 only, on a free port, with trust
# authentication (loopback, throwaway data). Run as root it drops to the
# unprivileged `postgres` user (initdb refuses to run as root).
# Use:  export INSITU_TEST_PG_URL=$(scripts/pg-test-server.sh start | tail -n1)
set -euo pipefail

state_file="${INSITU_PG_STATE:-${TMPDIR:-/tmp}/insitu-pg-test.state}"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
    echo "error: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin — install them with: apt-get install -y postgresql" >&2
    exit 1
fi

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "error: no free port found between 20000 and 40000" >&2
    return 1
}

case "${1:-}" in
start)
    if [[ -f "$state_file" ]]; then
        echo "error: a test server is already recorded in $state_file — run '$0 stop' first" >&2
        exit 1
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/insitu-pg.XXXXXX")
    chmod 755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    port=$(free_port)
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    printf 'dir=%s\nport=%s\n' "$dir" "$port" >"$state_file"
    echo "PostgreSQL test server running (data in $dir, log $dir/server.log); stop with: $0 stop"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [[ ! -f "$state_file" ]]; then
        echo "no test server recorded in $state_file — nothing to stop"
        exit 0
    fi
    dir=$(sed -n 's/^dir=//p' "$state_file")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir" "$state_file"
    echo "PostgreSQL test server stopped and its data removed"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
