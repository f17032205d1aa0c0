# bench-lib.sh: what the benchmark scripts comparing Tributary with a
# throwaway PostgreSQL cluster share. Sourced (not run) after ROOT is set;
# bench_init NAME then makes the temporary directory $TMP and installs the
# cleanup trap (it stops $TRIB_PID and the cluster in $TMP/pgdata when
# $PG_STARTED is set, and removes $TMP).

# --- PostgreSQL binaries ------------------------------------------------
find_pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pgbench" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}
if ! PGBIN=$(find_pgbin); then
	if [ "$(id -u)" != 0 ]; then
		echo "PostgreSQL is not installed; run as root (apt-get install postgresql) or install it" >&2
		exit 1
	fi
	echo "installing postgresql with apt-get ..." >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
	PGBIN=$(find_pgbin)
fi
PSQL="$PGBIN/psql"
PGBENCH="$PGBIN/pgbench"

# --- temp dir, ports, cleanup -------------------------------------------
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	set +e
	if [ -n "$TRIB_PID" ]; then
		kill "$TRIB_PID" 2>/dev/null
		wait "$TRIB_PID" 2>/dev/null
	fi
	if [ -n "$PG_STARTED" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -m immediate -w stop >/dev/null 2>&1
	fi
	rm -rf "$TMP"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

bench_init() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	TRIB_PID=""
	PG_STARTED=""
	trap cleanup EXIT INT TERM
}
