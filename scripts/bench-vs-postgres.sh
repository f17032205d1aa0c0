#!/usr/bin/env bash
# bench-vs-postgres.sh runs one workload against Tributary and a throwaway
# PostgreSQL cluster over the wire, with pgbench as the client:
#
#   1. N single-row INSERTs (one autocommit statement each, one client) into
#      t(k int, v int), prefilled with 10k rows over 100 groups, while an
#      aggregate view  SELECT k, count(*), sum(v), min(v), max(v) FROM t
#      GROUP BY k  exists. Tributary keeps it materialized and current
#      before acknowledging each INSERT; PostgreSQL has a plain VIEW (nothing
#      to do on write) and a MATERIALIZED VIEW that goes stale.
#   2. PostgreSQL only: INSERT followed by REFRESH MATERIALIZED VIEW, what
#      per-write freshness costs there (NR iterations, fewer: it is slow).
#   3. Read latency of SELECT * FROM <view> (NS iterations): Tributary's
#      materialized view, PostgreSQL's plain view (computed on read) and its
#      materialized view (stale, precomputed).
#
# Each is run with pgbench -M simple and -M extended. PostgreSQL runs with
# its default durability (synchronous_commit=on, fsync=on) and the insert
# run is repeated with synchronous_commit=off, since Tributary's log is in
# memory today.
#
# Everything listens on 127.0.0.1 only, on free ports; a trap stops both
# servers and removes the temporary directory. Bounded: every pgbench run
# has a timeout.
#
# usage: scripts/bench-vs-postgres.sh        (from the repository root)
#   N=5000 NR=200 NS=2000 scripts/bench-vs-postgres.sh
# Needs: go, and PostgreSQL's initdb/pg_ctl/pgbench/psql (installed with
# apt-get if missing; that needs root). Results go to stdout and to
# $OUT (default bin/bench-vs-postgres.txt).
set -euo pipefail

N=${N:-5000}    # single-row INSERTs per run
NR=${NR:-200}   # INSERT + REFRESH MATERIALIZED VIEW iterations (PostgreSQL)
NS=${NS:-2000}  # SELECT * FROM view iterations
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
PREFILL=10000
NGROUPS=100

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/bin/bench-vs-postgres.txt}
mkdir -p "$(dirname "$OUT")"

# --- PostgreSQL binaries, temp dir, ports, cleanup (scripts/bench-lib.sh) ---
. "$ROOT/scripts/bench-lib.sh"
bench_init bench-vs-postgres

# wait_sql HOST PORT: until a query succeeds, at most 30s.
wait_sql() {
	local deadline=$((SECONDS + 30))
	until "$PSQL" -X -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "server on port $1 did not come up" >&2
			return 1
		fi
		sleep 0.2
	done
}

# --- Tributary ----------------------------------------------------------
echo "building bin/tributary ..." >&2
make -s build >/dev/null
TPORT=$(free_port)
bin/tributary serve --listen "127.0.0.1:$TPORT" >"$TMP/tributary.log" 2>&1 &
TRIB_PID=$!
wait_sql "$TPORT"

# --- PostgreSQL ---------------------------------------------------------
PPORT=$(free_port)
mkdir -p "$TMP/pgdata" "$TMP/sock"
if [ "$(id -u)" = 0 ]; then chown -R postgres "$TMP"; fi
chmod 755 "$TMP"
as_pg "$PGBIN/initdb" -D "$TMP/pgdata" -U postgres --auth=trust --no-sync >"$TMP/initdb.log" 2>&1
as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -l "$TMP/pg.log" -w -t 30 \
	-o "-c listen_addresses=127.0.0.1 -p $PPORT -k $TMP/sock" start >/dev/null
PG_STARTED=1
wait_sql "$PPORT"

# --- workload files -----------------------------------------------------
# The prefill is generated here (not with generate_series) so that both
# servers load the same rows through plain INSERT ... VALUES.
awk -v n=$PREFILL -v g=$NGROUPS 'BEGIN {
	srand(42)
	for (i = 0; i < n; i++) {
		if (i % 1000 == 0) printf "INSERT INTO t VALUES "
		printf "(%d,%d)", i % g, int(rand() * 1000000)
		if (i % 1000 == 999 || i == n - 1) print ";"; else printf ","
	}
}' >"$TMP/prefill.sql"
AGG="SELECT k, count(*) AS n, sum(v) AS s, min(v) AS lo, max(v) AS hi FROM t GROUP BY k"
cat >"$TMP/insert.sql" <<EOF
\set k random(0, $((NGROUPS - 1)))
\set v random(0, 999999)
INSERT INTO t VALUES (:k, :v);
EOF
cat >"$TMP/insert_refresh.sql" <<EOF
\set k random(0, $((NGROUPS - 1)))
\set v random(0, 999999)
INSERT INTO t VALUES (:k, :v);
REFRESH MATERIALIZED VIEW agg_mv;
EOF
for v in agg agg_v agg_mv; do echo "SELECT * FROM $v;" >"$TMP/select_$v.sql"; done
if [ "$(id -u)" = 0 ]; then chown -R postgres "$TMP"; fi

setup() { # PORT VIEW-DDL...
	local port=$1
	shift
	{
		echo "DROP MATERIALIZED VIEW IF EXISTS agg;"
		echo "DROP MATERIALIZED VIEW IF EXISTS agg_mv;"
		echo "DROP VIEW IF EXISTS agg_v;"
		echo "DROP TABLE IF EXISTS t;"
		echo "CREATE TABLE t (k int, v int);"
		printf '%s\n' "$@"
		cat "$TMP/prefill.sql"
	} >"$TMP/setup.sql"
	# The DROP ... IF EXISTS notices are expected; show psql's output only
	# when setup fails.
	if ! "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-f "$TMP/setup.sql" >"$TMP/setup.out" 2>&1; then
		cat "$TMP/setup.out" >&2
		return 1
	fi
}

# run LABEL PORT MODE SCRIPT COUNT: one pgbench run; prints one result line.
results=()
run() {
	local label=$1 port=$2 mode=$3 script=$4 count=$5 log="$TMP/pgbench.out"
	if timeout "$RUN_TIMEOUT" "$PGBENCH" -n -h 127.0.0.1 -p "$port" -U postgres -M "$mode" \
		-f "$script" -c 1 -t "$count" postgres >"$log" 2>&1 &&
		! grep -q 'number of failed transactions: [1-9]' "$log"; then
		local tps lat
		tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log" | head -1)
		lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$log" | head -1)
		results+=("$(printf '%-58s %-8s %7d %12s %12s' "$label" "$mode" "$count" "$tps" "$lat")")
	else
		local why
		why=$(grep -m1 -iE 'error|fatal|abort' "$log" | cut -c1-110 || true)
		results+=("$(printf '%-58s %-8s %7d  FAILED: %s' "$label" "$mode" "$count" "$why")")
	fi
	echo "${results[-1]}" >&2
}

# --- runs ---------------------------------------------------------------
# Reads run after exactly one insert run on each server, so both read over
# the same PREFILL + N rows.
setup "$TPORT" "CREATE MATERIALIZED VIEW agg AS $AGG;"
run "tributary: INSERT, materialized view kept current" "$TPORT" simple "$TMP/insert.sql" "$N"
TROWS=$("$PSQL" -X -At -h 127.0.0.1 -p "$TPORT" -U postgres -d postgres -c 'SELECT count(*) FROM t')
for mode in simple extended; do
	run "tributary: SELECT * FROM agg (materialized view)" "$TPORT" $mode "$TMP/select_agg.sql" "$NS"
done
run "tributary: INSERT, materialized view kept current" "$TPORT" extended "$TMP/insert.sql" "$N"

setup "$PPORT" "CREATE VIEW agg_v AS $AGG;" "CREATE MATERIALIZED VIEW agg_mv AS $AGG;"
run "postgresql: INSERT, plain view (+ stale matview)" "$PPORT" simple "$TMP/insert.sql" "$N"
PROWS=$("$PSQL" -X -At -h 127.0.0.1 -p "$PPORT" -U postgres -d postgres -c 'SELECT count(*) FROM t')
"$PSQL" -X -q -h 127.0.0.1 -p "$PPORT" -U postgres -d postgres -c 'REFRESH MATERIALIZED VIEW agg_mv' -c 'VACUUM ANALYZE t'
for mode in simple extended; do
	run "postgresql: SELECT * FROM agg_v (plain view)" "$PPORT" $mode "$TMP/select_agg_v.sql" "$NS"
	run "postgresql: SELECT * FROM agg_mv (materialized, stale)" "$PPORT" $mode "$TMP/select_agg_mv.sql" "$NS"
done
run "postgresql: INSERT, plain view (+ stale matview)" "$PPORT" extended "$TMP/insert.sql" "$N"
for mode in simple extended; do
	PGOPTIONS="-c synchronous_commit=off" \
		run "postgresql: INSERT, synchronous_commit=off" "$PPORT" $mode "$TMP/insert.sql" "$N"
done
for mode in simple extended; do
	run "postgresql: INSERT + REFRESH MATERIALIZED VIEW" "$PPORT" $mode "$TMP/insert_refresh.sql" "$NR"
done

# --- report -------------------------------------------------------------
{
	echo "# bench-vs-postgres $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "# tributary $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $("$PGBIN/postgres" --version)"
	echo "# prefill $PREFILL rows in $NGROUPS groups; one client (pgbench -c 1); rows in t during the"
	echo "# reads: tributary $TROWS, postgresql $PROWS"
	printf '%-58s %-8s %7s %12s %12s\n' "workload" "protocol" "txns" "tps" "latency_ms"
	printf '%s\n' "${results[@]}"
} | tee "$OUT"
