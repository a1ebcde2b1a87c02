# shellcheck shell=bash
# A PostgreSQL server the API tests may create databases on (they make a fresh one per test and drop
# it afterwards): $DATABASE_URL, else the local server on 127.0.0.1:5432, else a throwaway cluster
# started here and removed by stop_throwaway_cluster (the caller's EXIT trap), pass or fail.
#
# Sourced after prereqs.sh, never run. Environment:
#   DATABASE_URL             use this server (must accept `psql "$DATABASE_URL"`); nothing is started
#   CI_FORCE_THROWAWAY_PG=1  skip the existing-server checks and always start a throwaway cluster
#                            (for testing this file; the machine's own server is left alone)

# Default matches tests/api/helpers/db.rs, so a bare `cargo test` and scripts/test agree.
readonly PG_LOCAL_URL="postgres://postgres@127.0.0.1:5432/postgres"
# Far from 5432 so a throwaway cluster never collides with a real one.
readonly PG_THROWAWAY_FIRST_PORT=55432

# Fail fast instead of hanging when a server accepts TCP but never answers.
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"

pg_can_query() { # url
    psql "$1" -X -w -q -tA -c 'select 1' >/dev/null 2>&1
}

port_in_use() { # port
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The directory holding initdb and pg_ctl, highest installed major version first; empty if none.
pg_bin_dir() {
    local d
    # `sort -V` so that 16 sorts after 9.6.
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -Vr); do
        if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
            echo "$d"
            return
        fi
    done
}

# The preflight half (see install_missing): psql always, the server binaries only when no server
# is there to use. Cheap: a TCP probe, no queries.
need_postgres() {
    need_command psql postgresql-client
    if [[ ${CI_FORCE_THROWAWAY_PG:-} != 1 ]] && { [[ -n ${DATABASE_URL:-} ]] || port_in_use 5432; }; then
        return
    fi
    [[ -n $(pg_bin_dir) ]] || missing "PostgreSQL server (initdb, pg_ctl; or set DATABASE_URL)" postgresql
}

# Runs a command as the `postgres` OS user when we are root (initdb and postgres refuse to run as
# root), or as ourselves otherwise.
as_pg_user() {
    if [[ $(id -u) -ne 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null; then
        runuser -u postgres -- "$@"
    else
        su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
}

# Starts a private cluster (trust auth, bound to 127.0.0.1 only, socket in its own directory) and
# exports DATABASE_URL for it.
start_throwaway_cluster() {
    local bin port
    bin=$(pg_bin_dir)
    [[ -n $bin ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"

    PG_BIN=$bin
    PG_TMP=$(mktemp -d -t resetgate-pg.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            log "creating the postgres OS user (initdb refuses to run as root)"
            useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres \
                || die "cannot create the postgres OS user"
        fi
        chown postgres: "$PG_TMP"
    fi

    port=$PG_THROWAWAY_FIRST_PORT
    while port_in_use "$port"; do
        port=$((port + 1))
        ((port < PG_THROWAWAY_FIRST_PORT + 100)) || die "no free port in $PG_THROWAWAY_FIRST_PORT..$port"
    done

    log "starting a throwaway PostgreSQL ($bin) in $PG_TMP on port $port"
    # --no-sync and fsync=off: the cluster is deleted at exit, so durability only costs time.
    as_pg_user "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=trust --encoding=UTF8 \
        --no-locale --no-sync >"$PG_TMP/initdb.log" 2>&1 \
        || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
    as_pg_user "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null \
        || { cat "$PG_TMP/server.log" >&2; die "the throwaway PostgreSQL did not start"; }

    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    pg_can_query "$DATABASE_URL" || die "the throwaway PostgreSQL started but does not answer at $DATABASE_URL"
}

# Idempotent, so both the EXIT trap and an explicit call before the closing line may run it.
stop_throwaway_cluster() {
    if [[ -n ${PG_TMP:-} && -d $PG_TMP ]]; then
        log "stopping the throwaway PostgreSQL"
        as_pg_user "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
    fi
}

# Exports DATABASE_URL for a server that answers. The caller traps EXIT to stop_throwaway_cluster.
ensure_postgres() {
    if [[ ${CI_FORCE_THROWAWAY_PG:-} == 1 ]]; then
        unset DATABASE_URL
        start_throwaway_cluster
        return
    fi

    # An explicit URL is a promise: if it does not work, say so rather than quietly testing against
    # some other server.
    if [[ -n ${DATABASE_URL:-} ]]; then
        pg_can_query "$DATABASE_URL" || die "DATABASE_URL is set but \`psql \"\$DATABASE_URL\"\` fails: $DATABASE_URL"
        log "using DATABASE_URL=$DATABASE_URL"
        return
    fi

    if pg_can_query "$PG_LOCAL_URL"; then
        export DATABASE_URL=$PG_LOCAL_URL
        log "using the local server at $DATABASE_URL"
        return
    fi

    if ! port_in_use 5432; then
        start_throwaway_cluster
        return
    fi
    # Something listens on 5432 without letting us in (say a packaged cluster with peer or password
    # auth): we need a cluster of our own, whose binaries the preflight did not ask for.
    if [[ -z $(pg_bin_dir) ]]; then
        if may_apt; then
            apt_install postgresql || true
        fi
        [[ -n $(pg_bin_dir) ]] || die "the server on 127.0.0.1:5432 does not let user postgres in without a" \
            "password, and no PostgreSQL server binaries are installed to start another: set DATABASE_URL," \
            "or install the Debian package postgresql"
    fi
    log "127.0.0.1:5432 does not let user postgres in (trust auth); starting a throwaway cluster"
    start_throwaway_cluster
}
