package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tributary-db/tributary/sqllogictest/pgtest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashViews are the crash test's views with their definitions; after every
// restart each must equal a fresh run of its definition.
var crashViews = []struct{ name, kind, def string }{
	{"per_writer", "MATERIALIZED VIEW", "SELECT w, count(*) AS n, sum(i) AS s FROM items GROUP BY w"},
	{"joined", "MATERIALIZED VIEW", "SELECT t.w, count(*) AS n, sum(t.n) AS rows FROM txlog t JOIN items i ON t.tx = i.tx GROUP BY t.w"},
	{"per_tx", "VIEW", "SELECT tx, w, count(*) AS n FROM items GROUP BY tx, w"},
	{"big_tx", "MATERIALIZED VIEW", "SELECT w, count(*) AS n FROM per_tx WHERE n >= 4 GROUP BY w"},
}

// txState is what the test knows of a transaction: acknowledged as present,
// acknowledged as deleted, or unknown (the server died before answering).
type txState uint8

const (
	txPresent txState = iota
	txDeleted
	txUnknown
)

// TestCrashRecovery kills a durable server (SIGKILL) under concurrent
// multi-row transactions at a random moment, restarts it on the same data
// directory and checks that every acknowledged transaction is there, none
// is there in part, and every view equals its definition. Three rounds.
//
// Beside the clients, a counter source ticks and a Kafka source reads
// numbered records that a producer writes to a cluster in this process
// (kfake) during each round: after each restart each source holds every
// value at most once and at least what a reader saw, and once the Kafka
// source has caught up with what the cluster acknowledged, exactly once;
// an ENVELOPE UPSERT source over the same records then holds each key's
// latest record. When PostgreSQL is installed, a POSTGRES source follows a
// table of a throwaway cluster that a writer changes (inserts, updates,
// key changes, deletes, several per transaction) during each round: after
// each restart, once caught up, it equals the upstream table, and the
// slot never acknowledged more than the source's log holds.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	tmp := t.TempDir()
	bin := buildServer(t, tmp)
	dataDir := filepath.Join(tmp, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(3, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("events"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var produced int64 // records 0..produced-1 are acknowledged by the cluster

	// The CDC upstream, or nil without PostgreSQL.
	var upstream *pgx.Conn
	var upstreamURL string
	if pgBin, why := pgtest.Bin(); pgBin == "" {
		t.Logf("no POSTGRES source: %s", why)
	} else {
		upstreamURL = pgtest.StartWith(t, pgBin, "wal_level=logical")
		if upstream, err = pgx.Connect(ctx, upstreamURL); err != nil {
			t.Fatal(err)
		}
		defer upstream.Close(context.Background())
		if _, err := upstream.Exec(ctx, `CREATE TABLE cdc (id int8 PRIMARY KEY, v int8 NOT NULL, note text);
			CREATE PUBLICATION cdc_pub FOR TABLE cdc;
			INSERT INTO cdc SELECT g, 0, 'seed' FROM generate_series(1, 100) g`); err != nil {
			t.Fatal(err)
		}
	}
	nextCDC := int64(101) // the next new id upstream

	srv := startServer(ctx, t, bin, dataDir)
	conn := srv.connect(ctx, t)
	if upstream != nil {
		for _, q := range []string{
			fmt.Sprintf(`CREATE SOURCE cdc (id int8, v int8, note text, PRIMARY KEY (id)) FROM POSTGRES WITH (connection = '%s', table = 'public.cdc', publication = 'cdc_pub', slot = 'cdc_slot')`, upstreamURL),
			"CREATE MATERIALIZED VIEW cdc_stats AS SELECT count(*) AS n, sum(v) AS s FROM cdc",
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	for _, q := range []string{
		// Records {"n": 0}, {"n": 1}, … on three partitions, read in
		// batches of at most 10.
		fmt.Sprintf("CREATE SOURCE events (n int8 NOT NULL) FROM KAFKA WITH (brokers = '%s', topic = 'events', max_batch_rows = 10) FORMAT JSON",
			strings.Join(cluster.ListenAddrs(), ",")),
		"CREATE MATERIALIZED VIEW event_stats AS SELECT count(*) AS n, max(n) AS m FROM events",
		// The same records as upserts of their key: the latest n of each.
		fmt.Sprintf("CREATE SOURCE latest (k int PRIMARY KEY, n int8 NOT NULL) FROM KAFKA WITH (brokers = '%s', topic = 'events') FORMAT JSON ENVELOPE UPSERT",
			strings.Join(cluster.ListenAddrs(), ",")),
		"CREATE TABLE items (tx int8, i int, w int, payload text, PRIMARY KEY (tx, i))",
		"CREATE TABLE txlog (tx int8 PRIMARY KEY, w int, n int)",
		"CREATE INDEX items_w ON items (w)",
		// A source writing beside the clients: after each crash it must
		// hold 1..n once each, in whole batches of 7 (exactly once).
		"CREATE SOURCE ticks FROM LOAD GENERATOR COUNTER WITH (tick_interval = '1ms', batch_size = 7)",
		"CREATE MATERIALIZED VIEW tick_stats AS SELECT count(*) AS n, max(counter) AS m FROM ticks",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, v := range crashViews {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE %s %s AS %s", v.kind, v.name, v.def)); err != nil {
			t.Fatalf("creating %s: %v", v.name, err)
		}
	}
	conn.Close(ctx)

	var mu sync.Mutex
	state := map[int64]txState{}
	rows := map[int64]int{} // rows per transaction
	// seen holds the transactions a reader saw committed, and doomed the
	// ones a writer ever tried to delete: a transaction seen and never
	// doomed must survive the crash even if its commit was never
	// acknowledged, since a read must not observe what a crash can lose.
	seen, doomed := map[int64]bool{}, map[int64]bool{}
	// ticksSeen is the largest counter value a reader saw: it was durable.
	var ticksSeen atomic.Int64
	// eventsSeen is the largest count of events a reader saw.
	var eventsSeen atomic.Int64
	fromCheckpoint := 0
	for round := 0; round < 3; round++ {
		killAfter := int64(20 + rng.IntN(150))
		t.Logf("round %d: kill after %d acknowledged commits", round, killAfter)
		kr := newKillRound(killAfter)
		killed, wg := &kr.killed, &kr.wg
		readerConn := srv.connect(ctx, t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer readerConn.Close(context.Background())
			for !killed.Load() {
				rs, err := readerConn.Query(ctx, "SELECT tx FROM txlog", pgx.QueryExecModeSimpleProtocol)
				if err != nil {
					return
				}
				var got []int64
				for rs.Next() {
					var tx int64
					if rs.Scan(&tx) == nil {
						got = append(got, tx)
					}
				}
				rs.Close()
				if rs.Err() != nil {
					return // killed mid-read: the rows are not a complete answer
				}
				mu.Lock()
				for _, tx := range got {
					seen[tx] = true
				}
				mu.Unlock()
				var ticks int64
				if readerConn.QueryRow(ctx, "SELECT coalesce(max(counter), 0) FROM ticks", pgx.QueryExecModeSimpleProtocol).Scan(&ticks) == nil {
					ticksSeen.Store(max(ticksSeen.Load(), ticks))
				}
				var events int64
				if readerConn.QueryRow(ctx, "SELECT count(*) FROM events", pgx.QueryExecModeSimpleProtocol).Scan(&events) == nil {
					eventsSeen.Store(max(eventsSeen.Load(), events))
				}
			}
		}()
		// The producer writes numbered records until the kill, at most
		// 2000 a round (every record is in every checkpoint, and the
		// server checkpoints every 40 updates), paced at a chunk a
		// millisecond so that the round's records spread over it; each
		// ProduceSync returns once the cluster acknowledged its records.
		wg.Add(1)
		go func() {
			defer wg.Done()
			prng := rand.New(rand.NewPCG(seed, uint64(round*10+9)))
			for limit := produced + 2000; !killed.Load() && produced < limit; time.Sleep(time.Millisecond) {
				chunk := 1 + prng.IntN(20)
				recs := make([]*kgo.Record, chunk)
				for i := range recs {
					// Keyed n % 50, each key on one partition (its order
					// kept), for the upsert source.
					n := produced + int64(i)
					recs[i] = &kgo.Record{Key: fmt.Appendf(nil, "%d", n%crashKeys), Value: fmt.Appendf(nil, `{"n": %d}`, n), Partition: int32(n % crashKeys % 3)}
				}
				if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Errorf("producing to kfake: %v", err)
					return
				}
				produced += int64(chunk)
			}
		}()
		if upstream != nil {
			// The upstream writer: transactions of 1 to 4 random changes
			// until the kill, at most 500 a round.
			wg.Add(1)
			go func() {
				defer wg.Done()
				urng := rand.New(rand.NewPCG(seed, uint64(round*10+8)))
				for i := 0; i < 500 && !killed.Load(); i++ {
					var stmts []string
					for j := 0; j < 1+urng.IntN(4); j++ {
						id := 1 + urng.Int64N(nextCDC)
						switch urng.IntN(6) {
						case 0, 1:
							stmts = append(stmts, fmt.Sprintf("INSERT INTO cdc VALUES (%d, 1, 'r%d-%d')", nextCDC, round, i))
							nextCDC++
						case 2, 3:
							stmts = append(stmts, fmt.Sprintf("UPDATE cdc SET v = v + 1, note = 'u%d-%d' WHERE id = %d", round, i, id))
						case 4:
							stmts = append(stmts, fmt.Sprintf("UPDATE cdc SET id = %d, v = v + 1 WHERE id = %d", nextCDC, id))
							nextCDC++
						case 5:
							stmts = append(stmts, fmt.Sprintf("DELETE FROM cdc WHERE id = %d", id))
						}
					}
					if _, err := upstream.Exec(ctx, "BEGIN; "+strings.Join(stmts, "; ")+"; COMMIT", pgx.QueryExecModeSimpleProtocol); err != nil {
						t.Errorf("upstream writer: %v", err)
						return
					}
					time.Sleep(time.Millisecond) // pacing: spread the round's changes over it
				}
			}()
		}
		for w := 0; w < 4; w++ {
			wrng := rand.New(rand.NewPCG(seed, uint64(round*10+w+1)))
			conn := srv.connect(ctx, t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close(context.Background())
				var mine []int64 // this writer's acknowledged, present transactions
				for seq := int64(0); ; seq++ {
					tx := int64(round)*1_000_000 + int64(w)*100_000 + seq
					del := len(mine) > 0 && wrng.IntN(5) == 0
					var victim int64
					var q string
					if del {
						j := wrng.IntN(len(mine))
						victim = mine[j]
						mine = slices.Delete(mine, j, j+1)
						q = fmt.Sprintf("BEGIN; DELETE FROM items WHERE tx = %d; DELETE FROM txlog WHERE tx = %d; COMMIT", victim, victim)
					} else {
						n := 2 + wrng.IntN(5)
						var vals []string
						for i := 0; i < n; i++ {
							vals = append(vals, fmt.Sprintf("(%d, %d, %d, 'w%d-%d-%d')", tx, i, w, w, seq, i))
						}
						q = fmt.Sprintf("BEGIN; INSERT INTO items VALUES %s; INSERT INTO txlog VALUES (%d, %d, %d); COMMIT", strings.Join(vals, ", "), tx, w, n)
						mu.Lock()
						rows[tx], state[tx] = n, txUnknown
						mu.Unlock()
					}
					if del {
						mu.Lock()
						state[victim], doomed[victim] = txUnknown, true
						mu.Unlock()
					}
					// One simple-protocol query: the server acknowledges it
					// after COMMIT is durable.
					_, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
					if err != nil {
						// After the kill this is expected, and the last
						// transaction stays unknown; before it, it is a bug.
						kr.failed(t, "writer %d before the kill: %s: %v", w, q, err)
						return
					}
					mu.Lock()
					if del {
						state[victim] = txDeleted
					} else {
						state[tx] = txPresent
						mine = append(mine, tx)
					}
					mu.Unlock()
					kr.answered()
				}
			}()
		}
		kr.kill(ctx, t, srv, round, "acknowledged commits")

		srv = startServer(ctx, t, bin, dataDir)
		mu.Lock()
		srv.verify(ctx, t, state, rows, seen, doomed)
		mu.Unlock()
		srv.verifyTicks(ctx, t, ticksSeen.Load())
		srv.verifyEvents(ctx, t, eventsSeen.Load(), produced)
		if upstream != nil {
			srv.verifyCDC(ctx, t, upstream)
		}
		vconn := srv.connect(ctx, t)
		restart := srv.rows(ctx, t, vconn, "SELECT checkpoint_valid_at IS NOT NULL, log_batches FROM tb_catalog.restart")
		vconn.Close(ctx)
		t.Logf("round %d: restarted from a checkpoint, log batches after it: %v", round, restart)
		if strings.HasPrefix(fmt.Sprint(restart), "[true") {
			fromCheckpoint++
		}
	}
	srv.stop(t)
	if fromCheckpoint == 0 {
		t.Errorf("no restart read a checkpoint; the test meant to exercise them")
	}
}

// killRound is one round of a kill test: clients write until killAfter
// writes were answered (or one failed, which is a bug before the kill),
// then the server gets SIGKILL. Clients stop once killed is set and are
// counted in wg.
type killRound struct {
	killAfter int64
	n         atomic.Int64
	killed    atomic.Bool
	wg        sync.WaitGroup
	reached   chan struct{}
	once      sync.Once
}

func newKillRound(killAfter int64) *killRound {
	return &killRound{killAfter: killAfter, reached: make(chan struct{})}
}

// answered counts a write the server answered.
func (k *killRound) answered() {
	if k.n.Add(1) == k.killAfter {
		k.once.Do(func() { close(k.reached) })
	}
}

// failed reports a write the server did not answer: an error before the
// kill (and the round ends), expected after it.
func (k *killRound) failed(t *testing.T, format string, args ...any) {
	if !k.killed.Load() {
		t.Errorf(format, args...)
		k.once.Do(func() { close(k.reached) })
	}
}

// kill waits for the round's answers, kills srv and waits for the clients.
func (k *killRound) kill(ctx context.Context, t *testing.T, srv *server, round int, what string) {
	t.Helper()
	select {
	case <-k.reached:
	case <-ctx.Done():
		t.Fatalf("round %d: only %d %s before the deadline", round, k.n.Load(), what)
	}
	k.killed.Store(true)
	srv.kill(t)
	k.wg.Wait()
	if t.Failed() {
		t.Fatalf("server log:\n%s", srv.stderr)
	}
	t.Logf("round %d: killed after %d %s", round, k.n.Load(), what)
}

type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildServer builds the tributary binary into dir and returns its path.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tributary")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer starts `tributary serve` on a free port, with the extra
// flags, and waits (with the context's deadline) until it logs that it is
// ready.
func startServer(ctx context.Context, t *testing.T, bin, dataDir string, extra ...string) *server {
	t.Helper()
	// Checkpoints every few dozen updates and every 20ms, so that kills
	// land before, during and after checkpoints, and restarts read one.
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--checkpoint-rows", "40", "--checkpoint-interval", "20ms"}, extra...)
	cmd := exec.Command(bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &lockedBuffer{}}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.mu.Lock()
			s.stderr.buf.WriteString(line + "\n")
			s.stderr.mu.Unlock()
			if strings.Contains(line, `msg="tributary is ready"`) {
				if _, addr, ok := strings.Cut(line, "addr="); ok {
					ready <- strings.Fields(addr)[0]
				}
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("the server exited before it was ready:\n%s", s.stderr)
		}
		s.addr = addr
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("the server was not ready before the deadline:\n%s", s.stderr)
	}
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "restored from the event log") {
			t.Log(line)
		}
	}
	return s
}

func (s *server) connect(ctx context.Context, t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://tributary@%s/postgres?sslmode=disable", s.addr))
	if err != nil {
		t.Fatalf("connecting: %v\n%s", err, s.stderr)
	}
	return conn
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

// stop shuts the server down cleanly and checks that it says so.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("clean shutdown: %v\n%s", err, s.stderr)
	}
}

func (s *server) rows(ctx context.Context, t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	rs, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	slices.Sort(out)
	return out
}

// verify checks the restarted server against what was acknowledged.
func (s *server) verify(ctx context.Context, t *testing.T, state map[int64]txState, rows map[int64]int, seen, doomed map[int64]bool) {
	t.Helper()
	conn := s.connect(ctx, t)
	defer conn.Close(ctx)
	items := map[int64]int{}
	for _, r := range s.rows(ctx, t, conn, "SELECT tx, count(*) FROM items GROUP BY tx") {
		var tx int64
		var n int
		fmt.Sscan(r, &tx, &n)
		items[tx] = n
	}
	logged := map[int64]int{}
	for _, r := range s.rows(ctx, t, conn, "SELECT tx, n FROM txlog") {
		var tx int64
		var n int
		fmt.Sscan(r, &tx, &n)
		logged[tx] = n
	}
	for tx, n := range items {
		if logged[tx] != n || rows[tx] != n {
			t.Errorf("transaction %d is there in part: %d item rows, txlog says %d, it wrote %d", tx, n, logged[tx], rows[tx])
		}
	}
	for tx := range logged {
		if _, ok := items[tx]; !ok {
			t.Errorf("transaction %d is there in part: in txlog, no items", tx)
		}
	}
	for tx := range seen {
		if _, there := logged[tx]; !there && !doomed[tx] {
			t.Errorf("transaction %d, which a reader saw, is missing after the crash", tx)
		}
	}
	present, deleted, unknown := 0, 0, 0
	for tx, st := range state {
		_, there := logged[tx]
		switch st {
		case txPresent:
			present++
			if !there {
				t.Errorf("acknowledged transaction %d is missing", tx)
			}
		case txDeleted:
			deleted++
			if there {
				t.Errorf("transaction %d, whose deletion was acknowledged, is back", tx)
			}
		case txUnknown:
			unknown++
			// Either outcome is right; settle it for the next round.
			if there {
				state[tx] = txPresent
			} else {
				state[tx] = txDeleted
			}
		}
	}
	t.Logf("verified: %d transactions present, %d deleted, %d in flight at the kill", present, deleted, unknown)
	for _, v := range crashViews {
		got, want := s.rows(ctx, t, conn, "SELECT * FROM "+v.name), s.rows(ctx, t, conn, v.def)
		if !slices.Equal(got, want) {
			t.Errorf("view %s after restart:\n%s\nits definition:\n%s", v.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", s.stderr)
		t.FailNow()
	}
}

// verifyTicks checks the counter source after a restart: it holds 1..n
// once each in whole batches of 7, n is at least what a reader saw before
// the crash, and its view equals its definition at the same time (one
// query: the source keeps writing).
func (s *server) verifyTicks(ctx context.Context, t *testing.T, seen int64) {
	t.Helper()
	conn := s.connect(ctx, t)
	defer conn.Close(ctx)
	var n, distinct, lo, hi, vn, vm int64
	err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT counter), coalesce(min(counter), 1), coalesce(max(counter), 0),
		(SELECT n FROM tick_stats), (SELECT coalesce(m, 0) FROM tick_stats) FROM ticks`).Scan(&n, &distinct, &lo, &hi, &vn, &vm)
	if err != nil {
		t.Fatalf("reading the source: %v", err)
	}
	if n != distinct || lo != 1 || hi != n || n%7 != 0 || n < seen || vn != n || vm != hi {
		t.Fatalf("source ticks after the restart: count %d, distinct %d, min %d, max %d (a reader saw %d before the crash); its view: n %d, m %d\nserver log:\n%s",
			n, distinct, lo, hi, seen, vn, vm, s.stderr)
	}
	t.Logf("source ticks: 1..%d once each (a reader saw %d before the crash)", n, seen)
}

// verifyEvents checks the Kafka source after a restart: it holds each of
// the records 0..produced-1 at most once, at least as many as a reader saw
// before the crash, its view equals its definition, and once it has caught
// up it holds every one exactly once.
func (s *server) verifyEvents(ctx context.Context, t *testing.T, seen, produced int64) {
	t.Helper()
	conn := s.connect(ctx, t)
	defer conn.Close(ctx)
	read := func() (n, distinct, hi, vn, vm int64) {
		err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT n), coalesce(max(n), -1),
			(SELECT n FROM event_stats), (SELECT coalesce(m, -1) FROM event_stats) FROM events`).Scan(&n, &distinct, &hi, &vn, &vm)
		if err != nil {
			t.Fatalf("reading the Kafka source: %v", err)
		}
		if n != distinct || hi >= produced || vn != n || vm != hi {
			t.Fatalf("source events: count %d, distinct %d, max %d of %d produced; its view: n %d, m %d\nserver log:\n%s",
				n, distinct, hi, produced, vn, vm, s.stderr)
		}
		return
	}
	n, _, _, _, _ := read()
	if n < seen {
		t.Fatalf("source events: %d rows after the restart, a reader saw %d before the crash", n, seen)
	}
	for n < produced {
		if ctx.Err() != nil {
			t.Fatalf("source events: %d of %d records before the deadline\nserver log:\n%s", n, produced, s.stderr)
		}
		time.Sleep(time.Millisecond)
		n, _, _, _, _ = read()
	}
	t.Logf("source events: %d after the restart (a reader saw %d), caught up with the %d produced, each once", n, seen, produced)

	// The upsert source: once caught up, one row per key holding the
	// key's latest n.
	var wantCount, wantSum int64
	for k := int64(0); k < min(crashKeys, produced); k++ {
		wantCount++
		wantSum += k + (produced-1-k)/crashKeys*crashKeys
	}
	var count, sum int64
	for {
		err := conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(n), 0) FROM latest`).Scan(&count, &sum)
		if err != nil {
			t.Fatalf("reading the upsert source: %v", err)
		}
		if count > crashKeys {
			t.Fatalf("source latest: %d rows for %d keys\nserver log:\n%s", count, crashKeys, s.stderr)
		}
		if count == wantCount && sum == wantSum {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("source latest: %d rows summing %d, want %d summing %d\nserver log:\n%s", count, sum, wantCount, wantSum, s.stderr)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("source latest: the latest of each of its %d keys", count)
}

// verifyCDC checks the POSTGRES source after a restart: the slot has not
// acknowledged past the source's position, and once caught up the source
// and its view equal the upstream table (the writer has stopped).
func (s *server) verifyCDC(ctx context.Context, t *testing.T, upstream *pgx.Conn) {
	t.Helper()
	conn := s.connect(ctx, t)
	defer conn.Close(ctx)
	var position string
	if err := conn.QueryRow(ctx, "SELECT coalesce(position, '') FROM tb_catalog.sources WHERE name = 'cdc'").Scan(&position); err != nil {
		t.Fatalf("reading the CDC source's position: %v", err)
	}
	if lsn, ok := strings.CutPrefix(position, "lsn "); ok {
		var ahead bool
		if err := upstream.QueryRow(ctx, "SELECT confirmed_flush_lsn > $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'", lsn).Scan(&ahead); err != nil {
			t.Fatalf("reading the slot: %v", err)
		}
		if ahead {
			t.Fatalf("the slot acknowledged past the source's position %s", position)
		}
	}
	want := s.rows(ctx, t, upstream, "SELECT id, v, note FROM cdc")
	wantStats := s.rows(ctx, t, upstream, "SELECT count(*), coalesce(sum(v), 0) FROM cdc")
	for {
		got := s.rows(ctx, t, conn, "SELECT id, v, note FROM cdc")
		stats := s.rows(ctx, t, conn, "SELECT n, coalesce(s, 0) FROM cdc_stats")
		if slices.Equal(got, want) && slices.Equal(stats, wantStats) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("source cdc: %d rows (view %v), upstream %d (%v)\nserver log:\n%s", len(got), stats, len(want), wantStats, s.stderr)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("source cdc: equals the upstream table's %d rows (position %s)", len(want), position)
}

// crashKeys is the number of keys of the crash test's upsert source.
const crashKeys = 50

func init() {
	// The test builds the binary with the go command of this toolchain.
	if p, err := exec.LookPath("go"); err != nil || p == "" {
		os.Setenv("PATH", filepath.Join(os.Getenv("GOROOT"), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
}
