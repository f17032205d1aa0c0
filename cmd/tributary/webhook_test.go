package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// webhookURL is the URL of webhook source public.name on s (its
// --webhook-listen address, from its log).
func (s *server) webhookURL(t *testing.T, name string) string {
	t.Helper()
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "msg=webhooks addr="); ok {
			base, _, _ := strings.Cut(strings.Fields(rest)[0], "/api/")
			return base + "/api/webhook/public/" + name
		}
	}
	t.Fatalf("no webhook listener in the server's log:\n%s", s.stderr)
	return ""
}

// TestWebhookSurvivesKill posts events to a WEBHOOK source from several
// clients, kills the server (SIGKILL) after a random number of answers,
// restarts it and checks that every event answered 200 is there, once,
// and the view over the source agrees. Three rounds on one directory.
func TestWebhookSurvivesKill(t *testing.T) {
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
	srv := startServer(ctx, t, bin, dataDir, "--webhook-listen", "127.0.0.1:0")
	conn := srv.connect(ctx, t)
	for _, q := range []string{
		"CREATE SOURCE hooks FROM WEBHOOK FORMAT JSON",
		"CREATE MATERIALIZED VIEW hook_stats AS SELECT count(*) AS n, count(DISTINCT body->>'id') AS ids FROM hooks",
	} {
		mustExec(ctx, t, conn, q)
	}
	conn.Close(ctx)
	var acked sync.Map // event id -> true, answered 200
	for round := 0; round < 3; round++ {
		url := srv.webhookURL(t, "hooks")
		kr := newKillRound(int64(50 + rng.IntN(300)))
		client := &http.Client{Timeout: 30 * time.Second}
		for w := 0; w < 4; w++ {
			kr.wg.Add(1)
			go func() {
				defer kr.wg.Done()
				for k := 0; ; k++ {
					id := fmt.Sprintf("%d-%d-%d", round, w, k)
					res, err := client.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"id": %q, "w": %d}`, id, w)))
					if err != nil {
						kr.failed(t, "posting %s before the kill: %v", id, err)
						return
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						kr.failed(t, "posting %s before the kill: %s", id, res.Status)
						return
					}
					acked.Store(id, true)
					kr.answered()
				}
			}()
		}
		kr.kill(ctx, t, srv, round, "events answered 200")
		srv = startServer(ctx, t, bin, dataDir, "--webhook-listen", "127.0.0.1:0")
		conn := srv.connect(ctx, t)
		present := map[string]int{}
		for _, id := range srv.rows(ctx, t, conn, "SELECT body->>'id' FROM hooks") {
			present[id]++
		}
		var n, ids int
		if err := conn.QueryRow(ctx, "SELECT n, ids FROM hook_stats").Scan(&n, &ids); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		missing := 0
		acked.Range(func(k, _ any) bool {
			if present[k.(string)] == 0 {
				missing++
				t.Errorf("event %s was answered 200 and is missing after the kill", k)
			}
			return true
		})
		for id, c := range present {
			if c != 1 {
				t.Errorf("event %s is there %d times", id, c)
			}
		}
		if n != len(present) || ids != len(present) {
			t.Errorf("the view says %d events, %d ids; the source holds %d", n, ids, len(present))
		}
		if t.Failed() {
			t.Fatalf("server log:\n%s", srv.stderr)
		}
		t.Logf("round %d: %d events present, none answered 200 missing", round, len(present))
	}
	srv.stop(t)
}
