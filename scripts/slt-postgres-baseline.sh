#!/usr/bin/env bash
# Runs the SQLite corpus against a real PostgreSQL 15 with Tributary's
# sqllogictest runner and compares the per-file counts with
# ../shared/slt/postgresql15-baseline.txt. Matching counts are the evidence
# that the runner implements the format as the baseline's harness did.
#
# Installs PostgreSQL (Debian package) and starts a throwaway cluster on a
# free port if needed; idempotent; run as root. Not part of `make test`.
#
#   scripts/slt-postgres-baseline.sh [SUMMARY_FILE]
#
# Environment: SHARED (default ../shared), PGPORT (default 54329),
# PGDATA_DIR (default /tmp/tributary-slt-pg), TRIBUTARY (default bin/tributary).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED=${SHARED:-../shared}
PGPORT=${PGPORT:-54329}
PGDATA_DIR=${PGDATA_DIR:-/tmp/tributary-slt-pg}
TRIBUTARY=${TRIBUTARY:-bin/tributary}
SUMMARY=${1:-/tmp/slt-postgres-summary.txt}
BASELINE="$SHARED/slt/postgresql15-baseline.txt"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
	mkdir -p "$PGDATA_DIR"
	chown postgres:postgres "$PGDATA_DIR"
	su postgres -c "$PGBIN/initdb -D '$PGDATA_DIR' -A trust -U postgres" >/dev/null
fi
if ! su postgres -c "$PGBIN/pg_ctl -D '$PGDATA_DIR' status" >/dev/null 2>&1; then
	su postgres -c "$PGBIN/pg_ctl -D '$PGDATA_DIR' -l '$PGDATA_DIR/log' -w \
		-o '-p $PGPORT -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null
fi
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PGPORT"

if [ ! -x "$TRIBUTARY" ] || [ -n "$(find cmd sqllogictest -name '*.go' -newer "$TRIBUTARY" | head -1)" ]; then
	go build -o "$TRIBUTARY" ./cmd/tributary
fi

start=$(date +%s)
"$TRIBUTARY" slt --url "postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable" \
	--fresh-db --summary "$SUMMARY" "$SHARED/slt/sqlite" >/dev/null
echo "corpus run took $(( $(date +%s) - start ))s"

if diff <(grep -v '^#' "$BASELINE" | sort) <(grep -v '^#' "$SUMMARY" | sort); then
	echo "per-file counts match $BASELINE"
	grep -v '^#' "$SUMMARY" | awk '{p+=$2} END {print p " passed in total"}'
else
	echo "per-file counts DIFFER from $BASELINE (< baseline, > this run)" >&2
	exit 1
fi
