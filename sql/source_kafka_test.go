package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newKafka starts an in-process Kafka cluster with topic t of the given
// partitions and returns it with a producer that writes to t, each record
// to the partition it names.
func newKafka(t testing.TB, partitions int32) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(partitions, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return c, p
}

// produceJSON writes the JSON messages to t, message i to partition
// i % partitions, and waits for the acknowledgements.
func produceJSON(t testing.TB, p *kgo.Client, partitions int32, msgs ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Value: []byte(m), Partition: int32(i) % partitions}
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestSourceKafka: a JSON source with a column list, NOT NULL and a
// watermark; malformed messages are skipped, counted and shown in
// tb_catalog.sources; a view over the source follows it.
func TestSourceKafka(t *testing.T) {
	c, p := newKafka(t, 2)
	brokers := strings.Join(c.ListenAddrs(), ",")
	ts := newTestSession(t)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE orders (id int8 NOT NULL, item text, qty int4, at timestamptz,
		WATERMARK FOR at AS at - INTERVAL '1 minute')
		FROM KAFKA WITH (brokers = '%s', topic = 't') FORMAT JSON ENVELOPE NONE`, brokers))
	ts.mustExec(`CREATE MATERIALIZED VIEW per_item AS SELECT item, sum(qty) AS qty FROM orders GROUP BY item`)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE lines FROM KAFKA WITH (brokers = '%s', topic = 't') FORMAT TEXT`, brokers))
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE docs FROM KAFKA WITH (brokers = '%s', topic = 't', start_offset = 'earliest') FORMAT JSON`, brokers))
	produceJSON(t, p, 2,
		`{"id": 1, "item": "apple", "qty": 3, "at": "2026-11-28 12:00:00+00"}`,
		`{"id": 2, "item": "pear", "qty": "2", "at": "2026-11-28 12:05:00+00"}`,
		`{"id": 3, "item": "apple", "qty": 4}`,
		`{"id": 4, "item": "pear", "qty": "many"}`, // malformed: qty
		`{"item": "fig", "qty": 1}`,                // malformed: id is NOT NULL
		`{"id": 6, "item": "fig", "qty": 5`,        // malformed: invalid JSON
	)
	ts.waitRows(`SELECT name, connector, status, position, rows, error, malformed FROM tb_catalog.sources `,
		"docs | kafka | running | kafka t 0:3 1:3 | 5 | NULL | 1; "+
			"lines | kafka | running | kafka t 0:3 1:3 | 6 | NULL | 0; "+
			"orders | kafka | running | kafka t 0:3 1:3 | 3 | NULL | 3")
	for q, want := range map[string]string{
		`SELECT * FROM per_item`:                                              "apple | 7; pear | 2",
		`SELECT id, at FROM orders`:                                           "1 | 2026-11-28 12:00:00+00; 2 | 2026-11-28 12:05:00+00; 3 | NULL",
		`SELECT count(*) FROM lines WHERE text LIKE '{"id": 6%'`:              "1",
		`SELECT data->>'item' FROM docs WHERE (data->'id')::int = 2`:          "pear",
		`SELECT name, last_malformed IS NULL FROM tb_catalog.sources`:         "docs | f; lines | t; orders | f",
		`SELECT watermark FROM tb_catalog.watermarks WHERE object = 'orders'`: "2026-11-28 12:04:00+00",
		`SELECT ordinal_position, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'orders'`: "1 | id | bigint | NO; 2 | item | text | YES; 3 | qty | integer | YES; 4 | at | timestamp with time zone | YES",
	} {
		rows, err := ts.query(q)
		if err != nil || strings.Join(rows, "; ") != want {
			t.Errorf("%s: %v %v, want %s", q, rows, err, want)
		}
	}
	rows, _ := ts.query(`SELECT last_malformed FROM tb_catalog.sources WHERE name = 'orders'`)
	if len(rows) != 1 || !strings.Contains(rows[0], "offset 2: ") {
		t.Errorf("orders' last malformed message: %v", rows)
	}

	for _, c := range []struct {
		sql  string
		code pgerror.Code
		msg  string
	}{
		{`CREATE SOURCE d (x int) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT TEXT`, pgerror.InvalidTableDefinition, "remove the column list"},
		{`CREATE SOURCE d (x int PRIMARY KEY) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON`, pgerror.InvalidTableDefinition, "needs ENVELOPE UPSERT"},
		{`CREATE SOURCE d (x int UNIQUE) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON`, pgerror.FeatureNotSupported, "UNIQUE"},
		{`CREATE SOURCE d (x int, PRIMARY KEY (y)) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON ENVELOPE UPSERT`, pgerror.UndefinedColumn, `"y"`},
		{`CREATE SOURCE d (x int) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON ENVELOPE UPSERT`, pgerror.InvalidTableDefinition, "PRIMARY KEY"},
		{`CREATE SOURCE d FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT TEXT ENVELOPE UPSERT`, pgerror.InvalidTableDefinition, "FORMAT JSON"},
		{`CREATE SOURCE d (x serial) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON`, pgerror.FeatureNotSupported, "serial"},
		{`CREATE SOURCE d (x int, X text) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON`, pgerror.DuplicateColumn, "specified more than once"},
		{`CREATE SOURCE d (x nosuchtype) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON`, pgerror.UndefinedObject, "nosuchtype"},
		{`CREATE SOURCE d (x int) FROM KAFKA WITH (brokers = 'b:1', topic = 't') FORMAT JSON ENVELOPE DEBEZIUM`, pgerror.FeatureNotSupported, "ENVELOPE DEBEZIUM is not supported yet"},
		{`CREATE SOURCE d FROM KAFKA WITH (topic = 't') FORMAT JSON`, pgerror.InvalidParameterValue, "brokers"},
		{`CREATE SOURCE d FROM POSTGRES`, pgerror.InvalidParameterValue, "a POSTGRES source needs the option connection"},
	} {
		_, err := ts.exec(c.sql)
		if errCode(err) != c.code || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("%s: %v (%s), want %s with %q", c.sql, err, errCode(err), c.code, c.msg)
		}
	}
}

// produceKeyed writes keyed messages to partition 0 of t, in order: each
// pair is a key and a value ("<nil>" for a null value, a deletion).
func produceKeyed(t testing.TB, p *kgo.Client, kv ...string) {
	t.Helper()
	var recs []*kgo.Record
	for i := 0; i+1 < len(kv); i += 2 {
		r := &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1])}
		if kv[i+1] == "<nil>" {
			r.Value = nil
		}
		recs = append(recs, r)
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestSourceKafkaUpsert: ENVELOPE UPSERT keeps one row per key, the
// latest message's (a null message deletes it), also across a restart,
// when the previous value of a key is only in the engine: with the key
// leading the columns (the contents answer for the key) and not (an index
// does), and with a two-column key read from a JSON object.
func TestSourceKafkaUpsert(t *testing.T) {
	c, p := newKafka(t, 1)
	brokers := strings.Join(c.ListenAddrs(), ",")
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE lead (id text PRIMARY KEY, qty int NOT NULL) FROM KAFKA WITH (brokers = '%[1]s', topic = 't') FORMAT JSON ENVELOPE UPSERT;
		CREATE SOURCE trail (qty int, id text, PRIMARY KEY (id)) FROM KAFKA WITH (brokers = '%[1]s', topic = 't') FORMAT JSON ENVELOPE UPSERT;
		CREATE SOURCE pair (a int, b text, qty int, PRIMARY KEY (a, b)) FROM KAFKA WITH (brokers = '%[1]s', topic = 't') FORMAT JSON ENVELOPE UPSERT`, brokers))
	ts.mustExec(`CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(qty) AS q FROM lead`)
	all := `SELECT 'lead', id, qty FROM lead UNION ALL SELECT 'trail', id, qty FROM trail UNION ALL SELECT 'pair', a || b, qty FROM pair`
	produceKeyed(t, p,
		`x`, `{"qty": 1}`,
		`"y"`, `{"qty": 2, "id": "ignored: the key wins"}`,
		`x`, `{"qty": 3}`, // replaces x's 1
		`z`, `{"qty": 4}`,
		`z`, `<nil>`, // deletes z
		`{"id": "w", "a": 1, "b": "w"}`, `{"qty": 5}`,
		`{"id": "v", "a": 2, "b": "v"}`, `{"qty": 6}`,
		`{"id": "v", "a": 2, "b": "v"}`, `<nil>`,
		`x`, `{"qty": null}`, // malformed for lead (NOT NULL), a NULL for trail; pair wants a JSON object key
	)
	ts.waitRows(`SELECT name, position, malformed FROM tb_catalog.sources`, "lead | kafka t 0:9 | 1; pair | kafka t 0:9 | 6; trail | kafka t 0:9 | 0")
	ts.waitRows(all, "lead | w | 5; lead | x | 3; lead | y | 2; pair | 1w | 5; trail | w | 5; trail | x | NULL; trail | y | 2")
	ts.waitRows(`SELECT * FROM totals`, "3 | 10")

	// Restart from a checkpoint: the keys' rows and indexes come back from it.
	if _, err := ts.e.Checkpoint(ts.ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.e.Close(); err != nil {
		t.Fatal(err)
	}
	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	produceKeyed(t, p,
		`y`, `{"qty": 20}`,
		`w`, `<nil>`,
		`{"a": 1, "b": "w"}`, `{"qty": 50}`,
		`{"a": 1}`, `{"qty": 0}`, // malformed: a key column is missing
		`q`, `<nil>`, // deletes nothing
	)
	ts.waitRows(`SELECT name, position, malformed FROM tb_catalog.sources`, "lead | kafka t 0:14 | 3; pair | kafka t 0:14 | 10; trail | kafka t 0:14 | 2")
	ts.waitRows(all, "lead | x | 3; lead | y | 20; pair | 1w | 50; trail | x | NULL; trail | y | 20")
	ts.waitRows(`SELECT * FROM totals`, "2 | 23")
}

// TestSourceKafkaUpsertRandom applies random upserts and deletions of a
// few keys, in chunks, with engine restarts between some chunks, and
// compares the source with a map that applied the same messages in order.
func TestSourceKafkaUpsertRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const parts = 3
	c, p := newKafka(t, parts)
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE u (v int, k int PRIMARY KEY) FROM KAFKA WITH (brokers = '%s', topic = 't', max_batch_rows = 7) FORMAT JSON ENVELOPE UPSERT`,
		strings.Join(c.ListenAddrs(), ",")))
	model := map[int]int{}
	offsets := make([]int, parts)
	for chunk := 0; chunk < 12; chunk++ {
		var recs []*kgo.Record
		for i := 0; i < 1+rng.IntN(40); i++ {
			k := rng.IntN(15)
			// A key's messages go to one partition (k % parts), as
			// Kafka's key partitioning does: its order is kept.
			r := &kgo.Record{Key: fmt.Appendf(nil, "%d", k), Partition: int32(k % parts)}
			if rng.IntN(4) == 0 {
				delete(model, k)
			} else {
				v := rng.IntN(1000)
				model[k] = v
				r.Value = fmt.Appendf(nil, `{"v": %d}`, v)
			}
			offsets[k%parts]++
			recs = append(recs, r)
		}
		if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			if rng.IntN(2) == 0 {
				if _, err := ts.e.Checkpoint(ts.ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := ts.e.Close(); err != nil {
				t.Fatal(err)
			}
			ts = openTestEngine(t, dir)
		}
	}
	var want []string
	for k, v := range model {
		want = append(want, fmt.Sprintf("%d | %d", k, v))
	}
	slices.Sort(want)
	ts.waitRows(`SELECT position FROM tb_catalog.sources`, fmt.Sprintf("kafka t 0:%d 1:%d 2:%d", offsets[0], offsets[1], offsets[2]))
	ts.waitRows(`SELECT k, v FROM u`, strings.Join(want, "; "))
	ts.e.Close()
}

// TestSourceKafkaUnreachable: a source whose brokers do not answer keeps
// the server serving; tb_catalog.sources shows the failure.
func TestSourceKafkaUnreachable(t *testing.T) {
	c, _ := newKafka(t, 1)
	brokers := strings.Join(c.ListenAddrs(), ",")
	c.Close()
	ts := newTestSession(t)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE k FROM KAFKA WITH (brokers = '%s', topic = 't', request_timeout = '200ms') FORMAT TEXT`, brokers))
	waitFor(t, "the source to fail", func() bool {
		rows, _ := ts.query(`SELECT status, error LIKE 'kafka: brokers %' FROM tb_catalog.sources`)
		return strings.Join(rows, "") == "failed (retrying) | t"
	})
	if n := ts.countOf("k"); n != 0 {
		t.Fatalf("%d rows from nowhere", n)
	}
}

// TestSourceKafkaRestartExactlyOnce produces numbered records across four
// partitions while the engine restarts on its directory (from the log and
// from a checkpoint) mid-stream: every record is in the source exactly
// once at the end, and at most once after each restart, and the malformed
// ones are counted exactly once.
func TestSourceKafkaRestartExactlyOnce(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	// Every bad-th record is malformed: skipped, and counted exactly once
	// across the restarts (the count is in the position).
	const parts, total, bad = 4, 6000, 97
	const good = total - (total+bad-1)/bad
	c, p := newKafka(t, parts)
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(fmt.Sprintf(`CREATE SOURCE k (n int8 NOT NULL, p int4) FROM KAFKA WITH (brokers = '%s', topic = 't', max_batch_rows = 97) FORMAT JSON`,
		strings.Join(c.ListenAddrs(), ",")))
	ts.mustExec(`CREATE MATERIALIZED VIEW ks AS SELECT count(*) AS n, max(n) AS m FROM k`)

	var produced atomic.Int64
	done := make(chan error, 1)
	go func() {
		prng := rand.New(rand.NewPCG(seed, 1))
		for n := 0; n < total; {
			chunk := min(1+prng.IntN(200), total-n)
			recs := make([]*kgo.Record, chunk)
			for i := range recs {
				part := prng.Int32N(parts)
				recs[i] = &kgo.Record{Value: fmt.Appendf(nil, `{"n": %d, "p": %d}`, n+i, part), Partition: part}
				if (n+i)%bad == 0 {
					recs[i].Value = fmt.Appendf(nil, `{"n": "bad %d"}`, n+i) // malformed
				}
			}
			if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				done <- err
				return
			}
			n += chunk
			produced.Store(int64(n))
		}
		done <- nil
	}()
	check := func(what string) int {
		t.Helper()
		rows, err := ts.query(`SELECT count(*), count(DISTINCT n), coalesce(max(n), -1), (SELECT n FROM ks) FROM k`)
		if err != nil {
			t.Fatal(err)
		}
		var n, distinct, hi, vn int
		fmt.Sscanf(rows[0], "%d | %d | %d | %d", &n, &distinct, &hi, &vn)
		if n != distinct || hi >= total || vn != n {
			t.Fatalf("%s: count %d, distinct %d, max %d, the view's count %d", what, n, distinct, hi, vn)
		}
		return n
	}
	for round := 0; round < 4; round++ {
		at := (round + 1) * total / 6
		at += rng.IntN(total / 12)
		waitFor(t, fmt.Sprintf("%d rows", at), func() bool { return ts.countOf("k") >= at })
		if round == 2 {
			if _, err := ts.e.Checkpoint(ts.ctx); err != nil {
				t.Fatal(err)
			}
		}
		before := ts.countOf("k")
		if err := ts.e.Close(); err != nil {
			t.Fatal(err)
		}
		ts = openTestEngine(t, dir)
		n := check(fmt.Sprintf("round %d after the restart", round))
		if n < before {
			t.Fatalf("round %d: %d rows after the restart, %d before", round, n, before)
		}
		t.Logf("round %d: %d rows before the stop, %d after the restart, %d produced", round, before, n, produced.Load())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every record", func() bool { return ts.countOf("k") >= good })
	if n := check("at the end"); n != good {
		t.Fatalf("%d rows, %d good ones produced", n, good)
	}
	ts.waitRows(`SELECT status, malformed, error FROM tb_catalog.sources`, fmt.Sprintf("running | %d | NULL", total-good))
	ts.e.Close()
}

// BenchmarkKafkaSource measures how fast a durable source takes in
// messages from an in-process Kafka cluster (kfake): each iteration creates
// a source over a topic of 100 000 JSON messages on 4 partitions and waits
// until all are committed to the log (Pebble on disk, fsynced), as a JSON
// source with four typed columns and as a TEXT source.
//
//	timeout 900 go test -p 1 -run XXX -bench KafkaSource -benchtime 5x ./sql/
func BenchmarkKafkaSource(b *testing.B) {
	const parts, msgs = 4, 100_000
	c, p := newKafka(b, parts)
	for n := 0; n < msgs; n += 10_000 {
		batch := make([]string, 10_000)
		for i := range batch {
			batch[i] = fmt.Sprintf(`{"n": %d, "name": "item %d", "price": %d.25, "at": "2026-11-28 12:%02d:00+00"}`, n+i, n+i, (n+i)%100, (n+i)%60)
		}
		produceJSON(b, p, parts, batch...)
	}
	ts := openBenchEngine(b, b.TempDir())
	brokers := strings.Join(c.ListenAddrs(), ",")
	for _, bc := range []struct{ name, cols, format string }{
		{"json-columns", "(n int8 NOT NULL, name text, price numeric, at timestamptz)", "JSON"},
		{"text", "", "TEXT"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				ts.mustExec(fmt.Sprintf(`CREATE SOURCE k %s FROM KAFKA WITH (brokers = '%s', topic = 't') FORMAT %s`, bc.cols, brokers, bc.format))
				for {
					rows, err := ts.query(`SELECT rows FROM tb_catalog.sources WHERE name = 'k'`)
					if err != nil {
						b.Fatal(err)
					}
					if rows[0] == fmt.Sprint(msgs) {
						break
					}
					time.Sleep(time.Millisecond)
				}
				elapsed += time.Since(start)
				ts.mustExec(`DROP SOURCE k`)
			}
			b.ReportMetric(float64(msgs*b.N)/elapsed.Seconds(), "rows/s")
		})
	}
}
