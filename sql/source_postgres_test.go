package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tributary-db/tributary/sqllogictest/pgtest"
)

// upstream is a throwaway PostgreSQL with wal_level = logical, the
// upstream of a POSTGRES source.
type upstream struct {
	t    testing.TB
	url  string
	conn *pgconn.PgConn
}

// startUpstream starts the upstream, or skips the test when PostgreSQL's
// binaries are not installed.
func startUpstream(t testing.TB) *upstream {
	t.Helper()
	bin, why := pgtest.Bin()
	if bin == "" {
		t.Skipf("no PostgreSQL to replicate from: %s", why)
	}
	url := pgtest.StartWith(t, bin, "wal_level=logical", "max_wal_senders=10", "max_replication_slots=10")
	conn, err := pgconn.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &upstream{t: t, url: url, conn: conn}
}

// exec runs sql (one or more statements, one implicit transaction) upstream.
func (u *upstream) exec(sql string) {
	u.t.Helper()
	if _, err := u.conn.Exec(context.Background(), sql).ReadAll(); err != nil {
		u.t.Fatalf("upstream: %s: %v", sql, err)
	}
}

// rows answers q upstream as sorted "a | b" rows joined by "; ".
func (u *upstream) rows(q string) string {
	u.t.Helper()
	res, err := u.conn.Exec(context.Background(), q).ReadAll()
	if err != nil {
		u.t.Fatalf("upstream: %s: %v", q, err)
	}
	return strings.Join(renderPGResults(res), "; ")
}

// waitSame waits until Tributary's answer to q equals upstream's to uq.
func (ts *testSession) waitSame(u *upstream, q, uq string) {
	ts.t.Helper()
	ts.waitRows(q, u.rows(uq))
}

// sourceSQL is the CREATE SOURCE of a POSTGRES source of table items.
func pgSourceSQL(name string, u *upstream, slot string, extra string) string {
	return fmt.Sprintf(`CREATE SOURCE %s (id int8, name text, qty int4, at timestamptz, PRIMARY KEY (id))
		FROM POSTGRES WITH (connection = '%s', table = 'public.items', publication = 'items_pub', slot = '%s'%s)`,
		name, u.url, slot, extra)
}

const (
	itemsSchema = `CREATE TABLE items (id int8 PRIMARY KEY, name text, qty int4, at timestamptz, extra text);
		CREATE PUBLICATION items_pub FOR TABLE items`
	itemsQ   = `SELECT id, name, qty, at FROM items`
	itemsSrc = `SELECT id, name, qty, at FROM src`
)

// TestSourcePostgres: the snapshot of the upstream table, then streamed
// inserts, updates (of values and of the key), deletes and a TRUNCATE;
// a multi-statement upstream transaction appears atomically (a view that
// counts the rows never sees half of it); the slot's flush LSN is
// acknowledged only up to what the source's log holds.
func TestSourcePostgres(t *testing.T) {
	u := startUpstream(t)
	u.exec(itemsSchema)
	u.exec(`SET TimeZone = 'UTC'; INSERT INTO items SELECT g, 'item ' || g, g * 10, '2026-11-28 12:00:00+00'::timestamptz + g * interval '1 minute', 'x' FROM generate_series(1, 50) g`)
	ts := newTestSession(t)
	ts.mustExec(pgSourceSQL("src", u, "src_slot", ", status_interval = '20ms'"))
	ts.waitSame(u, itemsSrc, itemsQ)
	ts.mustExec(`CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(qty) AS q FROM src`)

	u.exec(`INSERT INTO items VALUES (100, 'new', 1, NULL, 'y')`)
	u.exec(`UPDATE items SET qty = qty + 1 WHERE id <= 10`)
	u.exec(`UPDATE items SET id = id + 1000 WHERE id BETWEEN 11 AND 15`) // key changes
	u.exec(`DELETE FROM items WHERE id BETWEEN 20 AND 29`)
	u.exec(`UPDATE items SET name = NULL, extra = 'z' WHERE id = 30`)
	u.exec(`INSERT INTO items VALUES (101, 'it''s', 5, '2026-01-01 00:00:00+00', NULL); DELETE FROM items WHERE id = 101; INSERT INTO items VALUES (101, 'again', 6, NULL, NULL)`)
	ts.waitSame(u, itemsSrc, itemsQ)
	ts.waitSame(u, `SELECT n, q FROM totals`, `SELECT count(*), sum(qty) FROM items`)

	// A transaction moving qty between rows keeps the sum; the view never
	// sees it half done. Poll while it streams.
	want := u.rows(`SELECT sum(qty) FROM items`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			u.exec(`BEGIN; UPDATE items SET qty = qty - 7 WHERE id = 1; UPDATE items SET qty = qty + 7 WHERE id = 2; COMMIT`)
		}
	}()
	for polling := true; polling; {
		select {
		case <-done:
			polling = false
		default:
		}
		rows, err := ts.query(`SELECT q FROM totals`)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rows, "; "); got != want {
			t.Fatalf("sum(qty) mid-stream is %s, want %s: a reader saw half of an upstream transaction", got, want)
		}
	}
	ts.waitSame(u, itemsSrc, itemsQ)

	// The slot never acknowledges more than the log holds, and the
	// periodic status updates (every 20ms here) bring it up to the
	// position once the source is idle.
	pos := ts.restoredRows(`SELECT position FROM tb_catalog.sources WHERE name = 'src'`)
	if len(pos) != 1 || !strings.HasPrefix(pos[0], "lsn ") {
		t.Fatalf("position: %v", pos)
	}
	lsn := strings.TrimPrefix(pos[0], "lsn ")
	for deadline := time.Now().Add(30 * time.Second); ; {
		switch u.rows(fmt.Sprintf(`SELECT (confirmed_flush_lsn > '%[1]s')::text || (confirmed_flush_lsn = '%[1]s')::text FROM pg_replication_slots WHERE slot_name = 'src_slot'`, lsn)) {
		case "falsetrue":
		case "falsefalse":
			if time.Now().After(deadline) {
				t.Fatalf("the slot's confirmed flush LSN does not reach the source's position %s", lsn)
			}
			time.Sleep(time.Millisecond)
			continue
		default:
			t.Fatalf("the slot acknowledges past the source's position %s", lsn)
		}
		break
	}

	u.exec(`BEGIN; INSERT INTO items VALUES (500, 'before', 1, NULL, NULL); TRUNCATE items; INSERT INTO items VALUES (501, 'after', 2, NULL, NULL); COMMIT`)
	ts.waitRows(itemsSrc, "501 | after | 2 | NULL")
	ts.waitRows(`SELECT n, q FROM totals`, "1 | 2")

	// DROP SOURCE leaves the slot upstream (docs/operations.md).
	ts.mustExec(`DROP SOURCE src CASCADE`)
	u.waitRows(`SELECT slot_name, active FROM pg_replication_slots`, "src_slot | f")
}

// waitRows waits until q answers want upstream.
func (u *upstream) waitRows(q, want string) {
	u.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		got := u.rows(q)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("upstream: timed out waiting for %s to answer %s; last: %s", q, want, got)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSourcePostgresErrors: what the upstream refuses shows in
// tb_catalog.sources, and the source recovers once it is fixed.
func TestSourcePostgresErrors(t *testing.T) {
	u := startUpstream(t)
	u.exec(`CREATE TABLE items (id int8 PRIMARY KEY, name text, qty int4, at timestamptz, extra text)`)
	ts := newTestSession(t)
	ts.mustExec(pgSourceSQL("src", u, "src_slot", ""))
	waitErr := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rows := ts.restoredRows(`SELECT status, error FROM tb_catalog.sources WHERE name = 'src'`)
			if len(rows) == 1 && strings.Contains(rows[0], want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for the error %q: %v", want, rows)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitErr(`publication "items_pub" does not exist or does not include table "public"."items"`)
	ts.mustExec(`DROP SOURCE src`)
	u.exec(`CREATE PUBLICATION items_pub FOR TABLE items`)
	ts.mustExec(`CREATE SOURCE src (id int8 PRIMARY KEY, nosuch text) FROM POSTGRES WITH (connection = '` + u.url + `', table = 'items', publication = 'items_pub', slot = 'src_slot')`)
	waitErr(`table "public"."items" has no column "nosuch"`)
	ts.mustExec(`DROP SOURCE src`)
	ts.mustExec(`CREATE SOURCE src (id int8 PRIMARY KEY, at interval) FROM POSTGRES WITH (connection = '` + u.url + `', table = 'items', publication = 'items_pub', slot = 'src_slot')`)
	waitErr(`column "at" of "public"."items" is of type timestamp with time zone, which does not convert to interval`)
	ts.mustExec(`DROP SOURCE src`)
	ts.mustExec(`CREATE SOURCE src (id int8 PRIMARY KEY) FROM POSTGRES WITH (connection = 'postgres://postgres@127.0.0.1:1/postgres?connect_timeout=5', table = 'items', publication = 'items_pub', slot = 'src_slot')`)
	waitErr(`failed (retrying) | postgres: connecting to 127.0.0.1:1`)
	ts.mustExec(`DROP SOURCE src`)

	// snapshot = false: only what happens after the slot exists.
	u.exec(`INSERT INTO items VALUES (1, 'old', 1, NULL, NULL)`)
	ts.mustExec(pgSourceSQL("src", u, "src_slot", ", snapshot = false"))
	ts.waitRows(`SELECT count(*) FROM tb_catalog.sources WHERE name = 'src' AND position LIKE 'lsn %'`, "1")
	u.exec(`INSERT INTO items VALUES (2, 'new', 2, NULL, NULL); UPDATE items SET qty = 10 WHERE id = 1`)
	ts.waitRows(itemsSrc, "1 | old | 10 | NULL; 2 | new | 2 | NULL")
}

// TestSourcePostgresRestart: the engine restarts on its data directory
// several times while an upstream writer runs random inserts, updates,
// key changes and deletes; after each restart the source and a view over
// it equal the upstream table. A lost transaction leaves a difference, and
// so does an old transaction applied again after newer ones (it revives a
// deleted or moved key, or an older qty); the upserts make a transaction
// replayed in order invisible, which the skip by commit LSN prevents
// anyway (TestPostgresPosition in package source covers the encoding).
func TestSourcePostgresRestart(t *testing.T) {
	u := startUpstream(t)
	u.exec(`CREATE TABLE items (id int8 PRIMARY KEY, name text, qty int4, at timestamptz, extra text);
		CREATE PUBLICATION items_pub FOR TABLE items;
		INSERT INTO items SELECT g, 'seed', 0, NULL, NULL FROM generate_series(1, 20) g`)
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(pgSourceSQL("src", u, "src_slot", ""))
	ts.mustExec(`CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(qty) AS q FROM src`)
	nextID := 21
	write := func(n int) {
		for i := 0; i < n; i++ {
			var stmts []string
			for j := 0; j < 1+rng.IntN(4); j++ {
				id := 1 + rng.IntN(nextID)
				switch rng.IntN(5) {
				case 0, 1:
					stmts = append(stmts, fmt.Sprintf(`INSERT INTO items VALUES (%d, 'n%d', 1, NULL, NULL) ON CONFLICT (id) DO UPDATE SET qty = items.qty + 1`, nextID, i))
					nextID++
				case 2:
					stmts = append(stmts, fmt.Sprintf(`UPDATE items SET qty = qty + 1 WHERE id = %d`, id))
				case 3:
					stmts = append(stmts, fmt.Sprintf(`UPDATE items SET id = %d, qty = qty + 1 WHERE id = %d`, nextID, id))
					nextID++
				case 4:
					stmts = append(stmts, fmt.Sprintf(`DELETE FROM items WHERE id = %d`, id))
				}
			}
			u.exec("BEGIN; " + strings.Join(stmts, "; ") + "; COMMIT")
		}
	}
	for round := 0; round < 4; round++ {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					write(1)
				}
			}
		}()
		// Stop the engine while the writer runs, once the source has
		// streamed some of it: wherever the source is, it resumes from
		// its log's position.
		ts.waitRows(`SELECT batches >= 3 FROM tb_catalog.sources WHERE name = 'src'`, "t")
		ts.e.Close()
		close(stop)
		<-done
		ts = openTestEngine(t, dir)
		ts.waitSame(u, itemsSrc, itemsQ)
		ts.waitSame(u, `SELECT n, q FROM totals`, `SELECT count(*), sum(qty) FROM items`)
	}
	ts.e.Close()
}

// BenchmarkPostgresSource: a durable POSTGRES source streaming a backlog
// of upstream INSERTs. Each iteration creates a slot upstream, inserts the
// rows (outside the measurement: they wait in the slot), then creates the
// source (snapshot = false, on that slot) and measures until
// tb_catalog.sources.rows says all of them are committed to the Pebble log.
func BenchmarkPostgresSource(b *testing.B) {
	const rows = 100_000
	u := startUpstream(b)
	u.exec(`CREATE TABLE items (id int8 PRIMARY KEY, name text, qty int4, at timestamptz, extra text);
		CREATE PUBLICATION items_pub FOR TABLE items`)
	ts := openBenchEngine(b, b.TempDir())
	for _, bc := range []struct {
		name   string
		txRows int // rows per upstream transaction
	}{{"tx-1000-rows", 1000}, {"tx-1-row", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				u.exec(`TRUNCATE items`)
				u.exec(`SELECT pg_create_logical_replication_slot('bench_slot', 'pgoutput')`)
				var sb strings.Builder
				for n := 0; n < rows; n += bc.txRows {
					fmt.Fprintf(&sb, "BEGIN; INSERT INTO items SELECT g, 'item ' || g, g %% 100, '2026-11-28 12:00:00+00', NULL FROM generate_series(%d, %d) g; COMMIT;", n, n+bc.txRows-1)
					if sb.Len() > 1<<20 {
						u.exec(sb.String())
						sb.Reset()
					}
				}
				if sb.Len() > 0 {
					u.exec(sb.String())
				}
				start := time.Now()
				ts.mustExec(pgSourceSQL("bench", u, "bench_slot", ", snapshot = false"))
				for {
					got, err := ts.query(`SELECT rows, coalesce(error, '') FROM tb_catalog.sources WHERE name = 'bench'`)
					if err != nil {
						b.Fatal(err)
					}
					if got[0] == fmt.Sprint(rows)+" | " {
						break
					}
					time.Sleep(time.Millisecond)
				}
				elapsed += time.Since(start)
				ts.mustExec(`DROP SOURCE bench`)
				// The connector may still be letting go of the slot.
				for deadline := time.Now().Add(30 * time.Second); u.rows(`SELECT count(*) FROM pg_replication_slots WHERE active`) != "0"; {
					if time.Now().After(deadline) {
						b.Fatal("the slot stays active after DROP SOURCE")
					}
					time.Sleep(time.Millisecond)
				}
				u.exec(`SELECT pg_drop_replication_slot('bench_slot')`)
			}
			b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
		})
	}
}

// TestSourcePostgresTypes: values of every column type a source can
// declare arrive from their upstream text form equal to upstream's, by
// the same text output, NULLs included; an upstream int4 read into an
// int8 column converts.
func TestSourcePostgresTypes(t *testing.T) {
	u := startUpstream(t)
	const cols = `k int4, i2 int2, i8 int8, f4 real, f8 float8, n numeric, b bool, t text, vc varchar(10),
		c char(5), by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval, j jsonb, id uuid`
	u.exec(`SET TimeZone = 'UTC'; CREATE TABLE typed (` + cols + `, PRIMARY KEY (k));
		CREATE PUBLICATION typed_pub FOR TABLE typed;
		INSERT INTO typed VALUES (1, -32768, 9223372036854775807, 1.5, 0.1, 12345678901234567890.123456789, true, 'héllo ''q''', 'ab', 'x',
			'\x00ff10', '2026-02-28', '23:59:59.999999', '2026-11-28 12:00:00.5', '2026-11-28 12:00:00+05', '1 year 2 mons 3 days 04:05:06.789',
			'{"a": [1, 2.5, null], "b": {"c": "d"}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
		INSERT INTO typed (k) VALUES (2)`)
	ts := newTestSession(t)
	ts.mustExec(`CREATE SOURCE typed (` + strings.Replace(cols, "k int4", "k int8", 1) + `, PRIMARY KEY (k)) FROM POSTGRES WITH (connection = '` + u.url + `', table = 'typed', publication = 'typed_pub', slot = 'typed_slot')`)
	const q = `SELECT k, i2, i8, f4, f8, n, b, t, vc, c, by, d, tm, ts, tz, iv, j, id FROM typed`
	ts.mustExec(`SET TimeZone = 'UTC'`)
	ts.waitSame(u, q, q)
	u.exec(`SET TimeZone = 'UTC'; INSERT INTO typed VALUES (3, 7, -1, 'NaN', '-Infinity', -0.5, false, '', '', 'abcde',
			'', '0001-01-01', '00:00', '1999-12-31 23:59:59', '2000-01-01 00:00:00-08', '-3 hours', '[]', '00000000-0000-0000-0000-000000000000');
		UPDATE typed SET t = 'changed' WHERE k = 1`)
	ts.waitSame(u, q, q)
}

// TestSourcePostgresToast: an UPDATE that leaves a TOASTed value unchanged
// does not send it; under REPLICA IDENTITY FULL the source takes it from
// the old row, otherwise it fails saying so.
func TestSourcePostgresToast(t *testing.T) {
	u := startUpstream(t)
	u.exec(`CREATE TABLE docs (id int8 PRIMARY KEY, v int4, body text);
		ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
		CREATE TABLE docs_full (id int8 PRIMARY KEY, v int4, body text);
		ALTER TABLE docs_full ALTER COLUMN body SET STORAGE EXTERNAL;
		ALTER TABLE docs_full REPLICA IDENTITY FULL;
		CREATE PUBLICATION docs_pub FOR TABLE docs, docs_full`)
	ts := newTestSession(t)
	for _, name := range []string{"docs", "docs_full"} {
		ts.mustExec(fmt.Sprintf(`CREATE SOURCE %[1]s (id int8 PRIMARY KEY, v int4, body text) FROM POSTGRES WITH (connection = '%[2]s', table = '%[1]s', publication = 'docs_pub', slot = '%[1]s_slot')`, name, u.url))
	}
	ts.waitRows(`SELECT count(*) FROM tb_catalog.sources WHERE position LIKE 'lsn %'`, "2")
	for _, name := range []string{"docs", "docs_full"} {
		u.exec(fmt.Sprintf(`INSERT INTO %[1]s VALUES (1, 0, repeat('x', 10000)), (2, 0, 'short'); UPDATE %[1]s SET v = 1`, name))
	}
	ts.waitRows(`SELECT id, v, length(body) FROM docs_full`, "1 | 1 | 10000; 2 | 1 | 5")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := ts.restoredRows(`SELECT status, error FROM tb_catalog.sources WHERE name = 'docs'`)
		if strings.Contains(rows[0], `failed (retrying) | postgres: UPDATE on "public"."docs"`) && strings.Contains(rows[0], "set REPLICA IDENTITY FULL upstream") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the docs source: %v", rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing of the failed transaction is in the source.
	ts.waitRows(`SELECT count(*) FROM docs`, "0")
}
