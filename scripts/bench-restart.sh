#!/usr/bin/env bash
# bench-restart.sh: time restarts of tributary binaries on one large data
# directory, alternating them, to compare a change with its base.
#
#   scripts/bench-restart.sh setup DIR [ROWS]     build bin/tributary, fill DIR
#   scripts/bench-restart.sh measure DIR BIN...   one restart of each BIN, in turn
#
# setup loads the schema of bench-durable-vs-postgres.sh (events(id int8
# PRIMARY KEY, k int, v int, note text), a 1000-row dims table and the same
# five materialized views) with ROWS rows (default 10M) through COPY, stops
# the server cleanly (a checkpoint), then copies DIR to DIR-tail and adds a
# 100k-row COPY there before a SIGKILL: DIR restarts with an empty log tail,
# DIR-tail replays 100k rows after its checkpoint.
#
# measure starts each BIN on DIR, times it from the start to the first
# answered `SELECT * FROM per_k WHERE k = 7` (polled every 20 ms, as the
# other script does) and stops it with SIGKILL, so that DIR keeps its
# checkpoint and tail for the next run. /usr/bin/time reports the process'
# user and system CPU, peak RSS and minor page faults. Binaries must read
# DIR's format; a binary whose views' state fingerprint differs recomputes
# those views at every restart (run it once with a write and CHECKPOINT
# first, on a copy).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. "$ROOT/scripts/bench-lib.sh"
PORT=${PORT:-55432}
q() { "$PSQL" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
wait_read() { until q -c "$1" >/dev/null 2>&1; do sleep 0.02; done; }

case "${1:-}" in
setup)
	DIR=$2
	ROWS=${3:-10000000}
	go build -o bin/tributary ./cmd/tributary
	rm -rf "$DIR" "$DIR-tail"
	mkdir -p "$DIR"
	bin/tributary serve --listen "127.0.0.1:$PORT" --data-dir "$DIR" >"$DIR.log" 2>&1 &
	pid=$!
	wait_read "SELECT 1"
	q -c "CREATE TABLE dims (k int PRIMARY KEY, label text)" \
		-c "INSERT INTO dims SELECT g, 'label ' || (g % 7) FROM generate_series(0, 999) AS g" \
		-c "CREATE TABLE events (id int8 PRIMARY KEY, k int, v int, note text)"
	for v in "per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM events GROUP BY k" \
		"per_bucket AS SELECT k % 10 AS b, min(v) AS lo, max(v) AS hi FROM events GROUP BY k % 10" \
		"totals AS SELECT count(*) AS n, sum(v) AS s FROM events" \
		"top10 AS SELECT id, v FROM events ORDER BY v DESC, id LIMIT 10" \
		"per_label AS SELECT d.label, count(*) AS n FROM events e JOIN dims d ON e.k = d.k GROUP BY d.label"; do
		q -c "CREATE MATERIALIZED VIEW $v"
	done
	csv=$(mktemp)
	trap 'rm -f "$csv"' EXIT
	for ((first = 0; first < ROWS; first += 1000000)); do
		awk -v first="$first" -v n="$((ROWS - first < 1000000 ? ROWS - first : 1000000))" 'BEGIN {
			srand(42 + first)
			for (i = first; i < first + n; i++) printf "%d,%d,%d,note %d\n", i, i % 1000, int(rand() * 1000000), i
		}' >"$csv"
		q -c "\\copy events FROM '$csv' WITH (FORMAT csv)"
	done
	kill -TERM "$pid"
	wait "$pid" || true
	cp -r "$DIR" "$DIR-tail"
	bin/tributary serve --listen "127.0.0.1:$PORT" --data-dir "$DIR-tail" >>"$DIR.log" 2>&1 &
	pid=$!
	wait_read "SELECT 1"
	awk -v first="$((ROWS + 10000000))" 'BEGIN {
		srand(7)
		for (i = first; i < first + 100000; i++) printf "%d,%d,%d,note %d\n", i, i % 1000, int(rand() * 1000000), i
	}' >"$csv"
	q -c "\\copy events FROM '$csv' WITH (FORMAT csv)"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	du -sh "$DIR" "$DIR-tail"
	;;
measure)
	DIR=$2
	shift 2
	for bin in "$@"; do
		times=$(mktemp)
		t0=$(date +%s.%N)
		/usr/bin/time -o "$times" -f "%U s user, %S s system, %M KB peak RSS, %R minor faults" \
			"$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR" >"$DIR.log" 2>&1 &
		pid=$!
		wait_read "SELECT * FROM per_k WHERE k = 7"
		t1=$(date +%s.%N)
		phases=$(q -c "SELECT load_ms, views_ms, elapsed_ms FROM tb_catalog.restart")
		pkill -KILL -P "$pid" || true
		wait "$pid" 2>/dev/null || true
		printf '%s: first read %.2f s (load | views | restore ms: %s); %s\n' "$bin" "$(echo "$t1 - $t0" | bc)" "$phases" "$(tail -1 "$times")"
		rm -f "$times"
	done
	;;
*)
	sed -n '2,22p' "$0" >&2
	exit 2
	;;
esac
