package source

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newCluster starts an in-process Kafka cluster with topic t of the given
// partitions.
func newCluster(t testing.TB, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(partitions, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes values to topic t, value i to partition i % partitions,
// and waits for the cluster's acknowledgements.
func produce(t testing.TB, c *kfake.Cluster, partitions int32, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: []byte(v), Partition: int32(i) % partitions}
		if v == "<nil>" {
			recs[i].Value = nil
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// kafkaSpec is a Kafka source's spec on cluster c.
func kafkaSpec(c *kfake.Cluster, format string, cols []Column, opts ...string) Spec {
	values := map[string]string{"brokers": strings.Join(c.ListenAddrs(), ","), "topic": "t"}
	for i := 0; i+1 < len(opts); i += 2 {
		values[opts[i]] = opts[i+1]
	}
	return Spec{Connector: "kafka", Format: format, Columns: cols, Options: NewOptions(values)}
}

// runUntil runs conn from position until done says the emitted batches are
// enough (or 30 s pass: a failure), then stops it and returns them.
func runUntil(t *testing.T, conn Connector, position []byte, done func([]Batch) bool) []Batch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var batches []Batch
	ran := make(chan error, 1)
	go func() {
		ran <- conn.Run(ctx, position, func(ctx context.Context, b Batch) error {
			mu.Lock()
			batches = append(batches, b)
			mu.Unlock()
			return nil
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		ok := done(batches)
		mu.Unlock()
		if ok {
			break
		}
		select {
		case err := <-ran:
			cancel()
			t.Fatalf("the connector stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("timed out; %d batches: %s", len(batches), rowsOf(batches))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped connector returned %v", err)
	}
	return batches
}

// rowsOf prints the batches' rows, sorted, joined by "; ".
func rowsOf(batches []Batch) string {
	var rows []string
	for _, b := range batches {
		for _, c := range b.Changes {
			parts := make([]string, len(c.Row))
			for i, d := range c.Row {
				if d.IsNull() {
					parts[i] = "NULL"
				} else {
					parts[i] = types.FormatText(d)
				}
			}
			rows = append(rows, strings.Join(parts, " | "))
		}
	}
	slices.Sort(rows)
	return strings.Join(rows, "; ")
}

func countRows(batches []Batch) int {
	n := 0
	for _, b := range batches {
		n += len(b.Changes)
	}
	return n
}

func lastPosition(batches []Batch) []byte {
	if len(batches) == 0 {
		return nil
	}
	return batches[len(batches)-1].Position
}

// TestKafkaFormats reads the same kinds of messages as TEXT, BYTES and
// JSON (with and without columns): the rows, the malformed messages
// skipped and counted, and the position past all of them.
func TestKafkaFormats(t *testing.T) {
	c := newCluster(t, 2)
	msgs := []string{
		`{"id": 1, "name": "a", "ok": true, "doc": {"y": [1, 2], "x": null}, "at": "2026-11-28 12:00:00+00"}`,
		`{"id": "2", "NAME": "b\u00e9\"", "extra": 5, "score": 1.25}`,
		`{"id": 3, "id": 4, "name": {"k": 1}}`, // a duplicate key: the last wins
		`{"id": 5, "ok": "yes", "score": null}`,
		`{"id": "x"}`,       // malformed: id is not an integer
		`{"name": "no id"}`, // malformed: id is NOT NULL
		`not json`,          // malformed
		`[1, 2]`,            // malformed: not an object
		"<nil>",             // a tombstone: NULL, malformed for a column list
		"\xff\xfe",          // invalid UTF-8: malformed as TEXT and JSON
	}
	produce(t, c, 2, msgs...)
	all := func(bs []Batch) bool {
		return kafkaOffsets(lastPosition(bs)) == "0:5 1:5"
	}
	cols := []Column{
		{Name: "id", Type: types.Int8, NotNull: true},
		{Name: "name", Type: types.Text},
		{Name: "ok", Type: types.Bool},
		{Name: "score", Type: types.Numeric},
		{Name: "doc", Type: types.JSONB},
		{Name: "at", Type: types.TimestampTZ},
	}
	for _, tc := range []struct {
		format    string
		cols      []Column
		want      string
		malformed int64
		last      string
	}{
		{"text", nil, `<nil>`, 1, "partition 1 offset 4: invalid UTF-8"},
		{"bytes", nil, `<nil>`, 0, ""},
		{"json", nil, `<nil>`, 2, "offset "},
		{"json", cols,
			`1 | a | t | NULL | {"x": null, "y": [1, 2]} | 2026-11-28 12:00:00+00; ` +
				`2 | bé" | NULL | 1.25 | NULL | NULL; ` +
				`4 | {"k": 1} | NULL | NULL | NULL | NULL; ` +
				`5 | NULL | t | NULL | NULL | NULL`,
			6, "offset 4: invalid JSON"},
	} {
		t.Run(tc.format+fmt.Sprint(len(tc.cols)), func(t *testing.T) {
			conn, err := New(kafkaSpec(c, tc.format, tc.cols))
			if err != nil {
				t.Fatal(err)
			}
			bs := runUntil(t, conn, nil, all)
			got := rowsOf(bs)
			want := tc.want
			if want == "<nil>" {
				// One row per message, the tombstone a NULL; TEXT and
				// JSON skip what they cannot read.
				var rows []string
				for _, m := range msgs {
					switch {
					case m == "<nil>":
						rows = append(rows, "NULL")
					case tc.format == "bytes":
						rows = append(rows, types.FormatText(types.NewString(types.Bytea, m)))
					case m == "\xff\xfe":
					case tc.format == "json":
						if d, err := types.ParseJSONB(m); err == nil {
							rows = append(rows, types.FormatText(d))
						}
					default:
						rows = append(rows, m)
					}
				}
				slices.Sort(rows)
				want = strings.Join(rows, "; ")
			}
			if got != want {
				t.Errorf("rows:\n got %s\nwant %s", got, want)
			}
			n, last := conn.(MalformedCounter).Malformed(lastPosition(bs))
			if n != tc.malformed || !strings.Contains(last, tc.last) {
				t.Errorf("malformed: %d, %q; want %d, %q…", n, last, tc.malformed, tc.last)
			}
			if d := conn.Describe(lastPosition(bs)); d != "kafka t 0:5 1:5" {
				t.Errorf("Describe: %q", d)
			}
		})
	}
}

// TestKafkaResume stops a connector and runs it again from a position
// (the last one, and an older one as after a crash that lost the batches
// after it): it reads exactly what follows that position.
func TestKafkaResume(t *testing.T) {
	const parts = 3
	c := newCluster(t, parts)
	var first []string
	for i := 0; i < 300; i++ {
		first = append(first, fmt.Sprint(i))
	}
	produce(t, c, parts, first...)
	conn, err := New(kafkaSpec(c, "text", nil, "max_batch_rows", "50"))
	if err != nil {
		t.Fatal(err)
	}
	bs := runUntil(t, conn, nil, func(bs []Batch) bool { return countRows(bs) >= 300 })
	if countRows(bs) != 300 || len(bs) < 6 {
		t.Fatalf("%d rows in %d batches from 300 messages, batches ≤ 50 rows", countRows(bs), len(bs))
	}
	for _, b := range bs {
		if len(b.Changes) > 50 {
			t.Fatalf("a batch of %d rows; max_batch_rows is 50", len(b.Changes))
		}
	}
	var second []string
	for i := 300; i < 400; i++ {
		second = append(second, fmt.Sprint(i))
	}
	produce(t, c, parts, second...)

	// From the last position: the new 100 only.
	again := runUntil(t, conn, lastPosition(bs), func(b []Batch) bool { return countRows(b) >= 100 })
	if got, want := rowsOf(again), rowsOf([]Batch{{Changes: textChanges(second)}}); got != want {
		t.Fatalf("resumed from the last position:\n got %s\nwant %s", got, want)
	}
	// From an older one: what the first run emitted after it, then the
	// new 100; nothing twice.
	k := len(bs) / 2
	lost := append(slices.Clone(bs[k+1:]), Batch{Changes: textChanges(second)})
	replay := runUntil(t, conn, bs[k].Position, func(b []Batch) bool { return countRows(b) >= countRows(lost) })
	if got, want := rowsOf(replay), rowsOf(lost); got != want {
		t.Fatalf("resumed from batch %d's position:\n got %s\nwant %s", k, got, want)
	}
	if got := kafkaOffsets(lastPosition(replay)); got != "0:134 1:133 2:133" {
		t.Fatalf("the position after 400 messages: %s", got)
	}
}

func textChanges(values []string) []Change {
	out := make([]Change, len(values))
	for i, v := range values {
		out[i] = Change{Row: types.Row{types.NewText(v)}, Diff: 1}
	}
	return out
}

// TestKafkaNewPartition adds partitions to the topic while the connector
// runs: the metadata refresh finds them and reads them from their start.
func TestKafkaNewPartition(t *testing.T) {
	c := newCluster(t, 2)
	produce(t, c, 2, "a", "b")
	conn, err := New(kafkaSpec(c, "text", nil, "metadata_refresh_interval", "20ms"))
	if err != nil {
		t.Fatal(err)
	}
	added := false
	bs := runUntil(t, conn, nil, func(bs []Batch) bool {
		if !added && countRows(bs) == 2 {
			added = true
			addPartitions(t, c, 4)
			produce(t, c, 4, "c", "d", "e", "f")
		}
		return countRows(bs) == 6
	})
	if got := rowsOf(bs); got != "a; b; c; d; e; f" {
		t.Fatalf("rows: %s", got)
	}
	if got := kafkaOffsets(lastPosition(bs)); got != "0:2 1:2 2:1 3:1" {
		t.Fatalf("position: %s", got)
	}
}

// addPartitions grows topic t to n partitions.
func addPartitions(t *testing.T, c *kfake.Cluster, n int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "t", n
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("adding partitions: %v %+v", err, resp)
	}
}

// TestKafkaLatest: start_offset = 'latest' pins the end offsets in a first
// empty batch, so what arrives after it is read even if the connector
// restarts before reading anything.
func TestKafkaLatest(t *testing.T) {
	c := newCluster(t, 2)
	produce(t, c, 2, "old1", "old2", "old3")
	conn, err := New(kafkaSpec(c, "text", nil, "start_offset", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	bs := runUntil(t, conn, nil, func(bs []Batch) bool { return len(bs) == 1 })
	if len(bs[0].Changes) != 0 || kafkaOffsets(bs[0].Position) != "0:2 1:1" {
		t.Fatalf("first batch: %d rows, position %s", len(bs[0].Changes), kafkaOffsets(bs[0].Position))
	}
	produce(t, c, 2, "new1", "new2")
	bs = runUntil(t, conn, bs[0].Position, func(bs []Batch) bool { return countRows(bs) == 2 })
	if got := rowsOf(bs); got != "new1; new2" {
		t.Fatalf("rows: %s", got)
	}
}

// TestKafkaUpsert: ENVELOPE UPSERT messages become upserts (Diff 1) and
// deletions (Diff -1, the key's columns set), the key columns from the
// message key: a JSON object by field name, or for one column a JSON
// scalar or plain text.
func TestKafkaUpsert(t *testing.T) {
	c := newCluster(t, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, kv := range [][2]string{
		{`{"k": 1, "s": "a"}`, `{"v": "one", "k": 99}`},
		{`{"S": "b", "k": 2}`, "<nil>"},
		{`{"k": 3}`, `{"v": "no s"}`},   // malformed: s is missing
		{"<nil>", `{"v": "no key"}`},    // malformed
		{`7`, `{"v": "not an object"}`}, // malformed: two key columns
	} {
		r := &kgo.Record{Key: []byte(kv[0]), Value: []byte(kv[1])}
		if kv[0] == "<nil>" {
			r.Key = nil
		}
		if kv[1] == "<nil>" {
			r.Value = nil
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cols := []Column{{Name: "v", Type: types.Text}, {Name: "k", Type: types.Int8, NotNull: true}, {Name: "s", Type: types.Text, NotNull: true}}
	spec := kafkaSpec(c, "json", cols)
	spec.Envelope, spec.Key = "upsert", []int{1, 2}
	conn, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	bs := runUntil(t, conn, nil, func(bs []Batch) bool { return kafkaOffsets(lastPosition(bs)) == "0:5" })
	var got []string
	for _, b := range bs {
		for _, ch := range b.Changes {
			got = append(got, fmt.Sprintf("%d %s", ch.Diff, rowsOf([]Batch{{Changes: []Change{ch}}})))
		}
	}
	if want := "1 one | 1 | a; -1 NULL | 2 | b"; strings.Join(got, "; ") != want {
		t.Fatalf("changes: %s, want %s", strings.Join(got, "; "), want)
	}
	if n, last := conn.(MalformedCounter).Malformed(lastPosition(bs)); n != 3 || !strings.Contains(last, "offset 4: key: a key of 2 columns must be a JSON object") {
		t.Fatalf("malformed: %d, %q", n, last)
	}

	// One key column: the key as a JSON scalar or as text.
	spec = kafkaSpec(c, "json", []Column{{Name: "v", Type: types.Text}, {Name: "k", Type: types.Text, NotNull: true}})
	spec.Envelope, spec.Key = "upsert", []int{1}
	conn, err = New(spec)
	if err != nil {
		t.Fatal(err)
	}
	keyed := func(key []byte) string {
		row := make(types.Row, 2)
		if _, err := conn.(*kafka).upsert(key, []byte(`{"v": "x"}`), row); err != nil {
			return err.Error()
		}
		return types.FormatText(row[1])
	}
	for key, want := range map[string]string{`"q\"uoted"`: `q"uoted`, `plain text`: `plain text`, ` 12 `: `12`, `{"k": "obj"}`: `obj`, `null`: `key: null value in key column "k"`} {
		if got := keyed([]byte(key)); got != want {
			t.Errorf("key %q: %q, want %q", key, got, want)
		}
	}
}

// TestKafkaUnreachable: a connector whose brokers do not answer fails (the
// runner retries it and shows the error).
func TestKafkaUnreachable(t *testing.T) {
	c := newCluster(t, 1)
	spec := kafkaSpec(c, "text", nil, "request_timeout", "300ms")
	c.Close()
	conn, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = conn.Run(ctx, nil, func(context.Context, Batch) error { return nil })
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "kafka: brokers") {
		t.Fatalf("Run against a closed cluster: %v", err)
	}
}

func TestKafkaPositionEncoding(t *testing.T) {
	p := kafkaPosition{malformed: 7, lastMalformed: "partition 3 offset 9: invalid JSON"}
	for _, part := range []int32{5, 0, 1, 2, 1000} {
		p.set(part, int64(part)*1_000_003)
	}
	b := p.encode(nil)
	q, err := decodeKafkaPosition(b)
	if err != nil || fmt.Sprint(q) != fmt.Sprint(p) {
		t.Fatalf("round trip: %+v, %v; want %+v", q, err, p)
	}
	if got := kafkaOffsets(b); got != "0:0 1:1000003 2:2000006 5:5000015 1000:1000003000" {
		t.Fatalf("offsets: %s", got)
	}
	for i := 1; i < len(b); i++ {
		if _, err := decodeKafkaPosition(b[:i]); err == nil {
			t.Fatalf("a position cut to %d bytes decoded", i)
		}
	}
	if _, err := decodeKafkaPosition([]byte{2}); err == nil {
		t.Fatal("an unknown position format decoded")
	}
	// 4 partitions, small offsets, no error: 4 + 2·4 bytes.
	var small kafkaPosition
	for part := int32(0); part < 4; part++ {
		small.set(part, 100)
	}
	if n := len(small.encode(nil)); n != 12 {
		t.Fatalf("4 partitions encode in %d bytes", n)
	}
}

func TestKafkaOptions(t *testing.T) {
	c := newCluster(t, 1)
	cols := []Column{{Name: "x", Type: types.Int4}}
	for _, tc := range []struct {
		spec Spec
		code pgerror.Code
		msg  string
	}{
		{Spec{Connector: "kafka", Format: "text", Options: NewOptions(map[string]string{"topic": "t"})}, pgerror.InvalidParameterValue, "brokers"},
		{Spec{Connector: "kafka", Format: "text", Options: NewOptions(map[string]string{"brokers": "b:1"})}, pgerror.InvalidParameterValue, "topic"},
		{kafkaSpec(c, "", nil), pgerror.InvalidParameterValue, "needs a FORMAT"},
		{kafkaSpec(c, "avro", nil), pgerror.FeatureNotSupported, "FORMAT AVRO"},
		{kafkaSpec(c, "text", cols), pgerror.InvalidTableDefinition, "remove the column list"},
		{kafkaSpec(c, "bytes", cols), pgerror.InvalidTableDefinition, "remove the column list"},
		{kafkaSpec(c, "json", []Column{}), pgerror.InvalidTableDefinition, "at least one column"},
		{kafkaSpec(c, "json", nil, "start_offset", "middle"), pgerror.InvalidParameterValue, "start_offset"},
		{kafkaSpec(c, "json", nil, "group", "g"), pgerror.InvalidParameterValue, `unrecognized option "group"`},
		{kafkaSpec(c, "json", nil, "max_batch_rows", "0"), pgerror.InvalidParameterValue, "max_batch_rows"},
		{func() Spec { s := kafkaSpec(c, "json", cols); s.Envelope = "upsert"; return s }(), pgerror.InvalidTableDefinition, "PRIMARY KEY"},
		{func() Spec { s := kafkaSpec(c, "json", cols); s.Key = []int{0}; return s }(), pgerror.InvalidTableDefinition, "needs ENVELOPE UPSERT"},
		{func() Spec { s := kafkaSpec(c, "json", nil); s.Envelope = "upsert"; return s }(), pgerror.InvalidTableDefinition, "PRIMARY KEY"},
		{func() Spec { s := kafkaSpec(c, "json", cols); s.Envelope = "debezium"; return s }(), pgerror.FeatureNotSupported, "ENVELOPE DEBEZIUM is not supported yet"},
	} {
		_, err := New(tc.spec)
		var pe *pgerror.Error
		if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
			t.Errorf("%+v: %v, want %s with %q", tc.spec, err, tc.code, tc.msg)
		}
	}
	s := kafkaSpec(c, "json", cols)
	s.Envelope = "none"
	if _, err := New(s); err != nil {
		t.Errorf("ENVELOPE NONE: %v", err)
	}
}

// BenchmarkKafkaBatch measures turning one poll of 10 000 records into a
// batch (the connector's hot path, without Kafka): allocs/op divided by
// 10 000 is the allocations per record, which should be the row's own
// values (a text's string; JSON's per-field values) and nothing more.
//
//	timeout 900 go test -p 1 -run XXX -bench KafkaBatch -benchmem ./source/
func BenchmarkKafkaBatch(b *testing.B) {
	const n = 10_000
	for _, bc := range []struct {
		name, format string
		cols         []Column
		msg          func(i int) string
	}{
		{"text", "text", nil, func(i int) string { return fmt.Sprintf("line %d", i) }},
		{"json-jsonb", "json", nil, func(i int) string { return fmt.Sprintf(`{"n": %d, "name": "item %d"}`, i, i) }},
		{"json-columns", "json", []Column{{Name: "n", Type: types.Int8, NotNull: true}, {Name: "name", Type: types.Text}, {Name: "qty", Type: types.Int4}},
			func(i int) string {
				return fmt.Sprintf(`{"n": %d, "name": "item %d", "qty": %d, "other": [1, 2]}`, i, i, i%100)
			}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			spec := Spec{Connector: "kafka", Format: bc.format, Columns: bc.cols, Options: NewOptions(map[string]string{"brokers": "b:1", "topic": "t"})}
			conn, err := New(spec)
			if err != nil {
				b.Fatal(err)
			}
			k := conn.(*kafka)
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = &kgo.Record{Value: []byte(bc.msg(i)), Partition: 0, Offset: int64(i)}
			}
			fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs}}}}}}
			var pos kafkaPosition
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if bt := k.batch(fetches, n, &pos); len(bt.Changes) != n {
					b.Fatalf("%d rows", len(bt.Changes))
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
