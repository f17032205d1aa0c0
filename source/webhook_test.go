package source

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

func webhookSpec(format string, opts map[string]string) Spec {
	return Spec{Connector: "webhook", Format: format, Options: NewOptions(opts)}
}

// post sends body to srv's webhook URL for public.<name> and returns the
// status code.
func post(t *testing.T, srv *httptest.Server, name, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/webhook/public/"+name, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestWebhook(t *testing.T) {
	c, err := New(webhookSpec("json", map[string]string{"secret": "s3cret", "max_body_bytes": "64"}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.(*Webhook)
	if cols := w.Columns(); len(cols) != 1 || cols[0].Name != "body" || cols[0].Type != types.JSONB {
		t.Fatalf("columns %+v", cols)
	}
	// The connector commits what arrives; the test's emit records it and
	// refuses batches while full is set, as a full disk does.
	var mu sync.Mutex
	var committed []string
	var batches int
	full := false
	emit := func(_ context.Context, b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		if !b.FailFast {
			t.Error("a webhook batch that may wait for disk space: its senders are waiting")
		}
		if full {
			return pgerror.New(pgerror.DiskFull, "disk full")
		}
		batches++
		for _, ch := range b.Changes {
			committed = append(committed, types.FormatText(ch.Row[0]))
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx, nil, emit) }()
	srv := httptest.NewServer(WebhookHandler(func(schema, name string) (*Webhook, error) {
		switch name {
		case "events":
			return w, nil
		case "starting":
			return nil, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "starting up")
		}
		return nil, pgerror.New(pgerror.UndefinedTable, "no such source")
	}))
	defer srv.Close()
	auth := map[string]string{"Authorization": "Bearer s3cret"}

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := post(t, srv, "events", fmt.Sprintf(`{"n": %d}`, i), auth); code != http.StatusOK {
				t.Errorf("event %d: %d", i, code)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	if len(committed) != 50 || batches > 50 {
		t.Fatalf("%d rows in %d batches, want 50", len(committed), batches)
	}
	t.Logf("50 concurrent requests committed in %d batches", batches)
	full = true
	mu.Unlock()
	for _, c := range []struct {
		name, body string
		header     map[string]string
		want       int
	}{
		{"events", `{"n": 1}`, auth, http.StatusInsufficientStorage}, // full: nothing written
		{"events", `{"n": 1}`, nil, http.StatusUnauthorized},
		{"events", `{"n": 1}`, map[string]string{"Authorization": "Bearer wrong"}, http.StatusUnauthorized},
		{"events", `{not json`, auth, http.StatusBadRequest},
		{"events", `{"pad": "` + strings.Repeat("x", 64) + `"}`, auth, http.StatusRequestEntityTooLarge},
		{"nosuch", `{}`, auth, http.StatusNotFound},
		{"starting", `{}`, auth, http.StatusServiceUnavailable},
		{"events/extra/more", `{}`, auth, http.StatusNotFound},
		{"", `{}`, auth, http.StatusNotFound},
	} {
		if got := post(t, srv, c.name, c.body, c.header); got != c.want {
			t.Errorf("POST %s %q: %d, want %d", c.name, c.body, got, c.want)
		}
	}
	res, err := srv.Client().Get(srv.URL + "/api/webhook/public/events")
	if err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", res.StatusCode, err)
	}
	mu.Lock()
	full = false
	n := len(committed)
	mu.Unlock()
	if n != 50 {
		t.Fatalf("refused requests were committed: %d rows", n)
	}
	// Materialize's URLs name the database first.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/webhook/materialize/public/events", strings.NewReader(`{"mz": 1}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	if res, err := srv.Client().Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST with a database segment: %v %v", res, err)
	}
	// Still serving after a full disk.
	if code := post(t, srv, "events", `{"after": true}`, auth); code != http.StatusOK {
		t.Fatalf("after the disk has space again: %d", code)
	}
	cancel()
	if err := <-ran; err != context.Canceled {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestWebhookSpecErrors(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		code pgerror.Code
		msg  string
	}{
		{webhookSpec("", nil), pgerror.SyntaxError, "needs FORMAT TEXT, BYTES or JSON"},
		{webhookSpec("avro", nil), pgerror.FeatureNotSupported, "FORMAT AVRO"},
		{webhookSpec("text", map[string]string{"topic": "x"}), pgerror.InvalidParameterValue, `unrecognized option "topic" for a WEBHOOK source`},
		{webhookSpec("text", map[string]string{"max_body_bytes": "0"}), pgerror.InvalidParameterValue, "at least 1"},
		{Spec{Connector: "webhook", Format: "text", Columns: []Column{}, Options: NewOptions(nil)}, pgerror.InvalidTableDefinition, "one column, body"},
	} {
		_, err := New(c.spec)
		if pgerror.CodeOf(err) != c.code || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("%+v: %v, want %s with %q", c.spec, err, c.code, c.msg)
		}
	}
	for format, body := range map[string]string{"text": "caf\xe9", "json": "{"} {
		c, _ := New(webhookSpec(format, nil))
		if _, err := c.(*Webhook).row([]byte(body)); err == nil {
			t.Errorf("FORMAT %s took %q", format, body)
		}
	}
	c, _ := New(webhookSpec("bytes", nil))
	if row, err := c.(*Webhook).row([]byte("caf\xe9")); err != nil || types.FormatText(row[0]) != `\x636166e9` {
		t.Errorf("FORMAT BYTES: %v %v", row, err)
	}
}
