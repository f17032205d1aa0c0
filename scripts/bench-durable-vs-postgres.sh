#!/usr/bin/env bash
# bench-durable-vs-postgres.sh compares durable ingest and restart of
# Tributary (--data-dir, every acknowledged write synced) with a throwaway
# PostgreSQL cluster (default durability: fsync=on, synchronous_commit=on),
# over the wire, on the same machine:
#
#   1. COPY ingest: INGEST_ROWS rows of events(id int8 PRIMARY KEY, k int,
#      v int, note text) through psql's \copy (COPY FROM STDIN, CSV), in
#      COPY statements of COPY_CHUNK rows each; rows/s.
#   2. Batched INSERT ingest: INSERT_ROWS rows in INSERTs of INSERT_BATCH
#      rows (one client, psql -f); rows/s.
#   3. Concurrent single-row INSERTs: pgbench -c C for C in CLIENTS, each
#      INSERT its own autocommit transaction (group commit); tps.
#   4. Restart, history = state: HISTORY_ROWS rows (COPY) under five
#      views, then the server is stopped (cleanly, then by SIGKILL after
#      TAIL_ROWS more) and started again; the time from start to the first
#      answered read of a view. Tributary's views are materialized;
#      PostgreSQL's are plain views (the first read computes one), its
#      restart after SIGKILL is crash recovery.
#   5. Restart, history >> state: STATE_ROWS rows under the same views, then
#      UPDATE_ROUNDS statements UPDATE events SET v = v + 1 (each logs a
#      retraction and an insertion per row: 2 x STATE_ROWS x UPDATE_ROUNDS
#      updates of history). Tributary is killed and restarted without
#      checkpoints (it replays the whole history), then with them.
#
# Everything listens on 127.0.0.1 only, on free ports; a trap stops both
# servers and removes the temporary directory (under TMPDIR, default /tmp;
# it needs a few GB for HISTORY_ROWS=10000000).
#
# usage: scripts/bench-durable-vs-postgres.sh      (from the repository root)
#   COPY_ONLY=1 ROUNDS=3 scripts/bench-durable-vs-postgres.sh   (part 1 only)
#   INSERT_ONLY=1 ROUNDS=3 scripts/bench-durable-vs-postgres.sh (part 2 only)
#   HISTORY_ROWS=10000000 INGEST_ROWS=1000000 scripts/bench-durable-vs-postgres.sh
# Needs: go, and PostgreSQL's initdb/pg_ctl/pgbench/psql (installed with
# apt-get if missing; that needs root). Results go to stdout and to $OUT
# (default bin/bench-durable-vs-postgres.txt).
set -euo pipefail

INGEST_ROWS=${INGEST_ROWS:-1000000}
COPY_CHUNK=${COPY_CHUNK:-100000}
INSERT_ROWS=${INSERT_ROWS:-200000}
INSERT_BATCH=${INSERT_BATCH:-1000}
CLIENTS=${CLIENTS:-"1 8 32"}
TXNS=${TXNS:-2000}                 # single-row INSERTs per pgbench client
HISTORY_ROWS=${HISTORY_ROWS:-10000000}
TAIL_ROWS=${TAIL_ROWS:-100000}     # written after the clean restart, before the kill
STATE_ROWS=${STATE_ROWS:-100000}
UPDATE_ROUNDS=${UPDATE_ROUNDS:-50}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
INGEST=${INGEST:-1}               # 0: skip 1-3
RESTART_STATE=${RESTART_STATE:-1} # 0: skip 4
# COPY_ONLY=1: only part 1 (COPY ingest), ROUNDS times, Tributary and
# PostgreSQL alternating (each round on a fresh --data-dir and a fresh
# table), so both are measured in the same minutes.
COPY_ONLY=${COPY_ONLY:-0}
# INSERT_ONLY=1: the same for part 2 (batched INSERT ingest).
INSERT_ONLY=${INSERT_ONLY:-0}
ROUNDS=${ROUNDS:-1}
TRIBUTARY_FLAGS=${TRIBUTARY_FLAGS:-} # extra flags for tributary serve in COPY_ONLY/INSERT_ONLY mode
ONLY=0
if [ "$COPY_ONLY" = 1 ] || [ "$INSERT_ONLY" = 1 ]; then RESTART_STATE=0 ONLY=1; fi

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/bin/bench-durable-vs-postgres.txt}
mkdir -p "$(dirname "$OUT")"

# --- PostgreSQL binaries, temp dir, ports, cleanup (scripts/bench-lib.sh) ---
. "$ROOT/scripts/bench-lib.sh"
bench_init bench-durable
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.3f'; }
per_sec() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }

q() { # PORT SQL...: run statements, stop at the first error
	local port=$1
	shift
	local args=()
	for s in "$@"; do args+=(-c "$s"); done
	"$PSQL" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "${args[@]}"
}

# wait_read PORT SQL: poll until SQL answers (at most RUN_TIMEOUT s); the
# polling interval is 20 ms, which bounds the error of the restart figures.
wait_read() {
	local deadline=$((SECONDS + RUN_TIMEOUT))
	until "$PSQL" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "server on port $1 did not answer $2" >&2
			return 1
		fi
		sleep 0.02
	done
}

results=()
report() { # LABEL VALUE UNIT
	results+=("$(printf '%-72s %14s %s' "$1" "$2" "$3")")
	echo "${results[-1]}" >&2
}

# --- data ----------------------------------------------------------------
# chunk files of COPY_CHUNK rows: id, k (1000 groups), v, note
gen_chunks() { # PREFIX FIRST_ID ROWS
	local prefix=$1 first=$2 rows=$3
	awk -v first="$first" -v n="$rows" -v chunk="$COPY_CHUNK" -v prefix="$prefix" 'BEGIN {
		srand(42 + first)
		for (i = 0; i < n; i++) {
			if (i % chunk == 0) { if (f) close(f); f = sprintf("%s.%06d.csv", prefix, i / chunk) }
			id = first + i
			printf "%d,%d,%d,note %d\n", id, id % 1000, int(rand() * 1000000), id > f
		}
	}'
}
copy_chunks() { # PORT PREFIX
	local f
	for f in "$2".*.csv; do
		"$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres \
			-c "\\copy events FROM '$f' WITH (FORMAT csv)" >/dev/null
	done
}
echo "generating data ..." >&2
if { [ "$INGEST" = 1 ] && [ "$INSERT_ONLY" != 1 ]; } || [ "$COPY_ONLY" = 1 ]; then gen_chunks "$TMP/ingest" 0 "$INGEST_ROWS"; fi
if [ "$RESTART_STATE" = 1 ]; then
	gen_chunks "$TMP/history" 0 "$HISTORY_ROWS"
	gen_chunks "$TMP/tail" "$HISTORY_ROWS" "$TAIL_ROWS"
fi
if [ "$ONLY" != 1 ]; then gen_chunks "$TMP/state" 0 "$STATE_ROWS"; fi
awk -v n="$INSERT_ROWS" -v b="$INSERT_BATCH" 'BEGIN {
	srand(7)
	for (i = 0; i < n; i++) {
		if (i % b == 0) printf "INSERT INTO events VALUES "
		printf "(%d,%d,%d,%s)", i, i % 1000, int(rand() * 1000000), "'"'"'note " i "'"'"'"
		if (i % b == b - 1 || i == n - 1) print ";"; else printf ","
	}
}' >"$TMP/inserts.sql"
cat >"$TMP/single.sql" <<'EOF'
\set id random(1, 2000000000)
INSERT INTO events VALUES (:id + 10000000000 * :client_id, :id % 1000, :id % 1000000, 'single');
EOF
CREATE_EVENTS="CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)"
VIEWS=(
	"per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k"
	"per_bucket AS SELECT k % 10 AS b, min(v) AS lo, max(v) AS hi FROM events GROUP BY k % 10"
	"totals AS SELECT count(*) AS n, sum(v) AS s FROM events"
	"top10 AS SELECT id, v FROM events ORDER BY v DESC, id LIMIT 10"
	"per_label AS SELECT d.label, count(*) AS n FROM events e JOIN dims d ON e.k = d.k GROUP BY d.label"
)
create_dims() { # PORT
	q "$1" "CREATE TABLE dims (k int PRIMARY KEY, label text)"
	q "$1" "INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g" 2>/dev/null ||
		q "$1" "$(awk 'BEGIN { printf "INSERT INTO dims VALUES "; for (i = 0; i < 1000; i++) printf "%s(%d, '"'"'label %d'"'"')", (i ? "," : ""), i, i % 7 }')"
}
if [ "$(id -u)" = 0 ]; then chown -R postgres "$TMP"; fi
chmod 755 "$TMP"

# --- servers -------------------------------------------------------------
echo "building bin/tributary ..." >&2
go build -o bin/tributary ./cmd/tributary
TPORT=$(free_port)
start_tributary() { # DATADIR [FLAGS...]
	local dir=$1
	shift
	bin/tributary serve --listen "127.0.0.1:$TPORT" --data-dir "$dir" "$@" >>"$TMP/tributary.log" 2>&1 &
	TRIB_PID=$!
}
stop_tributary() { # SIGNAL
	kill -"$1" "$TRIB_PID"
	wait "$TRIB_PID" 2>/dev/null || true
	TRIB_PID=""
}
PPORT=$(free_port)
mkdir -p "$TMP/pgdata" "$TMP/sock"
if [ "$(id -u)" = 0 ]; then chown -R postgres "$TMP"; fi
as_pg "$PGBIN/initdb" -D "$TMP/pgdata" -U postgres --auth=trust >"$TMP/initdb.log" 2>&1
start_pg() {
	as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -l "$TMP/pg.log" -w -t 600 \
		-o "-c listen_addresses=127.0.0.1 -p $PPORT -k $TMP/sock -c max_wal_size=4GB" start >/dev/null
	PG_STARTED=1
}
start_pg
wait_read "$PPORT" "SELECT 1"

# --- 1-3: ingest -----------------------------------------------------------
copy_ingest() { # NAME PORT
	local t0 secs
	q "$2" "DROP TABLE IF EXISTS events" "$CREATE_EVENTS" 2>/dev/null
	t0=$(now)
	copy_chunks "$2" "$TMP/ingest"
	secs=$(elapsed "$t0")
	report "$1: COPY $INGEST_ROWS rows ($COPY_CHUNK per COPY), durable" "$(per_sec "$INGEST_ROWS" "$secs")" "rows/s ($secs s)"
}
insert_ingest() { # NAME PORT: into an empty events table
	local t0 secs
	t0=$(now)
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U postgres -d postgres -f "$TMP/inserts.sql" >/dev/null
	secs=$(elapsed "$t0")
	report "$1: INSERT $INSERT_ROWS rows, $INSERT_BATCH per INSERT, durable" "$(per_sec "$INSERT_ROWS" "$secs")" "rows/s ($secs s)"
}
ingest() { # NAME PORT
	local name=$1 port=$2
	copy_ingest "$name" "$port"
	q "$port" "DROP TABLE events" "$CREATE_EVENTS"
	insert_ingest "$name" "$port"
	q "$port" "DROP TABLE events" "$CREATE_EVENTS"
	for c in $CLIENTS; do
		timeout "$RUN_TIMEOUT" "$PGBENCH" -n -h 127.0.0.1 -p "$port" -U postgres -M prepared \
			-f "$TMP/single.sql" -c "$c" -j "$c" -t "$TXNS" postgres >"$TMP/pgbench.out" 2>&1 || {
			cat "$TMP/pgbench.out" >&2
			return 1
		}
		report "$name: single-row INSERTs, $c clients, durable" "$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TMP/pgbench.out" | head -1 | xargs printf '%.0f')" "tps"
	done
	q "$port" "DROP TABLE events"
}
if [ "$COPY_ONLY" = 1 ]; then
	for r in $(seq 1 "$ROUNDS"); do
		rm -rf "$TMP/tdata-copy"
		# shellcheck disable=SC2086
		start_tributary "$TMP/tdata-copy" $TRIBUTARY_FLAGS
		wait_read "$TPORT" "SELECT 1"
		copy_ingest "tributary (round $r)" "$TPORT"
		stop_tributary TERM
		copy_ingest "postgresql (round $r)" "$PPORT"
		q "$PPORT" "DROP TABLE events"
	done
	INGEST=0
fi
if [ "$INSERT_ONLY" = 1 ]; then
	for r in $(seq 1 "$ROUNDS"); do
		rm -rf "$TMP/tdata-insert"
		# shellcheck disable=SC2086
		start_tributary "$TMP/tdata-insert" $TRIBUTARY_FLAGS
		wait_read "$TPORT" "SELECT 1"
		q "$TPORT" "$CREATE_EVENTS"
		insert_ingest "tributary (round $r)" "$TPORT"
		stop_tributary TERM
		q "$PPORT" "DROP TABLE IF EXISTS events" "$CREATE_EVENTS" 2>/dev/null
		insert_ingest "postgresql (round $r)" "$PPORT"
		q "$PPORT" "DROP TABLE events"
	done
	INGEST=0
fi
if [ "$INGEST" = 1 ]; then
start_tributary "$TMP/tdata-ingest"
wait_read "$TPORT" "SELECT 1"
ingest tributary "$TPORT"
stop_tributary TERM
ingest postgresql "$PPORT"
fi

# --- 4: restart ------------------------------------------------------------
restart_bench() { # NAME PORT VIEWKIND [CHUNKS]
	local name=$1 port=$2 kind=$3 chunks=${4:-history} t0 secs v
	create_dims "$port"
	q "$port" "$CREATE_EVENTS"
	for v in "${VIEWS[@]}"; do q "$port" "CREATE $kind $v"; done
	t0=$(now)
	copy_chunks "$port" "$TMP/$chunks"
	secs=$(elapsed "$t0")
	if [ "$chunks" = history ]; then
		report "$name: COPY $HISTORY_ROWS rows of history under five views" "$(per_sec "$HISTORY_ROWS" "$secs")" "rows/s ($secs s)"
	fi
}
update_rounds() { # NAME PORT
	local t0 secs i
	t0=$(now)
	for i in $(seq 1 "$UPDATE_ROUNDS"); do q "$2" "UPDATE events SET v = v + 1"; done
	secs=$(elapsed "$t0")
	report "$1: $UPDATE_ROUNDS x UPDATE of $STATE_ROWS rows under five views" "$(per_sec $((2 * STATE_ROWS * UPDATE_ROUNDS)) "$secs")" "updates/s ($secs s)"
}
first_read="SELECT * FROM per_k WHERE k = 7"

if [ "$RESTART_STATE" = 1 ]; then
start_tributary "$TMP/tdata"
wait_read "$TPORT" "SELECT 1"
restart_bench tributary "$TPORT" "MATERIALIZED VIEW"
t0=$(now)
stop_tributary TERM # a clean shutdown writes a checkpoint
report "tributary: clean shutdown (writes a checkpoint)" "$(elapsed "$t0")" "s"
du -sh "$TMP/tdata" | awk '{print "tributary data directory: " $1}' >&2
t0=$(now)
start_tributary "$TMP/tdata"
wait_read "$TPORT" "$first_read"
report "tributary: restart after a clean shutdown, to the first view read" "$(elapsed "$t0")" "s"
q "$TPORT" "SELECT 'restart', * FROM tb_catalog.restart" >&2
copy_chunks "$TPORT" "$TMP/tail"
stop_tributary KILL
t0=$(now)
start_tributary "$TMP/tdata"
wait_read "$TPORT" "$first_read"
report "tributary: restart after SIGKILL ($TAIL_ROWS rows after the checkpoint)" "$(elapsed "$t0")" "s"
q "$TPORT" "SELECT 'restart', * FROM tb_catalog.restart" >&2
stop_tributary TERM
fi

# --- 5: restart, history >> state (Tributary) ------------------------------
if [ "$ONLY" != 1 ]; then
HIST=$((2 * STATE_ROWS * UPDATE_ROUNDS))
NOCKPT=(--checkpoint-interval 0 --checkpoint-rows 0)
start_tributary "$TMP/tdata-hist" "${NOCKPT[@]}"
wait_read "$TPORT" "SELECT 1"
restart_bench tributary "$TPORT" "MATERIALIZED VIEW" state
update_rounds tributary "$TPORT"
stop_tributary KILL
t0=$(now)
start_tributary "$TMP/tdata-hist" "${NOCKPT[@]}"
wait_read "$TPORT" "$first_read"
report "tributary: restart, $HIST updates of history over $STATE_ROWS rows, no checkpoint" "$(elapsed "$t0")" "s"
q "$TPORT" "SELECT 'restart', * FROM tb_catalog.restart" >&2
q "$TPORT" "CHECKPOINT"
q "$TPORT" "UPDATE events SET v = v + 1"
stop_tributary KILL
t0=$(now)
start_tributary "$TMP/tdata-hist"
wait_read "$TPORT" "$first_read"
report "tributary: restart, the same from a checkpoint + one UPDATE ($((2 * STATE_ROWS)) updates)" "$(elapsed "$t0")" "s"
q "$TPORT" "SELECT 'restart', * FROM tb_catalog.restart" >&2
stop_tributary TERM
t0=$(now)
start_tributary "$TMP/tdata-hist"
wait_read "$TPORT" "$first_read"
report "tributary: restart, the same after a clean shutdown (checkpoint, no tail)" "$(elapsed "$t0")" "s"
q "$TPORT" "SELECT 'restart', * FROM tb_catalog.restart" >&2
stop_tributary TERM

if [ "$RESTART_STATE" = 1 ]; then
restart_bench postgresql "$PPORT" "VIEW"
t0=$(now)
as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -m fast -w -t 600 stop >/dev/null
report "postgresql: clean shutdown (fast)" "$(elapsed "$t0")" "s"
t0=$(now)
start_pg
wait_read "$PPORT" "$first_read"
report "postgresql: restart after a clean shutdown, to the first view read" "$(elapsed "$t0")" "s"
copy_chunks "$PPORT" "$TMP/tail"
as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -m immediate -w stop >/dev/null
t0=$(now)
start_pg
wait_read "$PPORT" "$first_read"
report "postgresql: restart after an immediate stop (crash recovery), to the first view read" "$(elapsed "$t0")" "s"
q "$PPORT" "DROP VIEW per_k, per_bucket, totals, top10, per_label" "DROP TABLE events, dims"
fi
restart_bench postgresql "$PPORT" "VIEW" state
update_rounds postgresql "$PPORT"
as_pg "$PGBIN/pg_ctl" -D "$TMP/pgdata" -m immediate -w stop >/dev/null
t0=$(now)
start_pg
wait_read "$PPORT" "$first_read"
report "postgresql: restart after an immediate stop, $HIST updates of history over $STATE_ROWS rows" "$(elapsed "$t0")" "s"
fi

# --- report ----------------------------------------------------------------
{
	echo "# bench-durable-vs-postgres $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "# tributary $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $("$PGBIN/postgres" --version)"
	printf '%s\n' "${results[@]}"
} | tee "$OUT"
