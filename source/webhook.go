package source

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Webhook is CREATE SOURCE name FROM WEBHOOK [WITH (secret = '…',
// max_body_bytes = n)] FORMAT TEXT | BYTES | JSON: every HTTP POST to
// /api/webhook/<schema>/<name> on the server's webhook listener (serve
// --webhook-listen) is one row of one column, body (text, bytea or jsonb),
// answered 200 once the row is durable in the log. Requests that arrive
// together are committed together (one synced write). With a secret, a
// request must carry "Authorization: Bearer <secret>".
//
// Delivery is at least once: a client that got no answer (a crash, a
// timeout) and sends again may add the row twice; nothing answered 200 is
// ever lost. The position is the number of requests committed, as a
// uvarint.
type Webhook struct {
	format  string
	secret  string
	maxBody int64
	reqs    chan *webhookRequest
}

type webhookRequest struct {
	row  types.Row
	done chan error // gets the request's outcome once
}

// webhookBatchRows bounds the requests one write commits.
const webhookBatchRows = 4096

func newWebhook(spec Spec) (*Webhook, error) {
	if spec.Columns != nil {
		return nil, pgerror.New(pgerror.InvalidTableDefinition, "a WEBHOOK source has one column, body; remove the column list")
	}
	if spec.Envelope != "" && spec.Envelope != "none" {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "a WEBHOOK source takes no ENVELOPE")
	}
	w := &Webhook{format: spec.Format, reqs: make(chan *webhookRequest)}
	switch w.format {
	case "text", "bytes", "json":
	case "":
		return nil, pgerror.New(pgerror.SyntaxError, "a WEBHOOK source needs FORMAT TEXT, BYTES or JSON")
	default:
		return nil, pgerror.New(pgerror.FeatureNotSupported, "FORMAT %s is not supported for a WEBHOOK source (TEXT, BYTES or JSON)", strings.ToUpper(w.format))
	}
	w.secret, _ = spec.Options.get("secret")
	var err error
	if w.maxBody, err = spec.Options.Int("max_body_bytes", 1<<20); err != nil {
		return nil, err
	}
	if w.maxBody == 0 {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "option \"max_body_bytes\" must be at least 1")
	}
	return w, spec.Options.Done("WEBHOOK")
}

// Columns implements Connector.
func (w *Webhook) Columns() []Column {
	t := map[string]types.Type{"text": types.Text, "bytes": types.Bytea, "json": types.JSONB}[w.format]
	return []Column{{Name: "body", Type: t}}
}

// Describe implements Connector.
func (w *Webhook) Describe(position []byte) string {
	n, _ := binary.Uvarint(position)
	return "requests " + strconv.FormatUint(n, 10)
}

// Run implements Connector: it commits the requests Deliver hands it, all
// those waiting at once in one batch, and answers each.
func (w *Webhook) Run(ctx context.Context, position []byte, emit Emit) error {
	n, _ := binary.Uvarint(position)
	batch := make([]*webhookRequest, 0, webhookBatchRows)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-w.reqs:
			batch = append(batch, r)
		}
	more:
		for len(batch) < webhookBatchRows {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		b := Batch{Changes: make([]Change, len(batch)), Position: binary.AppendUvarint(nil, n+uint64(len(batch))), FailFast: true}
		for i, r := range batch {
			b.Changes[i] = Change{Row: r.row, Diff: 1}
		}
		err := emit(ctx, b)
		if err == nil {
			n += uint64(len(batch))
		}
		for _, r := range batch {
			r.done <- err
		}
		if err != nil && pgerror.CodeOf(err) != pgerror.DiskFull {
			return err // stopped, dropped, or the log failed
		}
	}
}

// errWebhookBody marks a body the source's format refuses.
type errWebhookBody struct{ msg string }

func (e errWebhookBody) Error() string { return e.msg }

// row decodes a request body into the source's row.
func (w *Webhook) row(body []byte) (types.Row, error) {
	switch w.format {
	case "text":
		if !utf8.Valid(body) || strings.IndexByte(string(body), 0) >= 0 {
			return nil, errWebhookBody{"the body is not UTF-8 text"}
		}
		return types.Row{types.NewText(string(body))}, nil
	case "json":
		d, err := types.ParseJSONB(string(body))
		if err != nil {
			return nil, errWebhookBody{"the body is not JSON: " + err.Error()}
		}
		return types.Row{d}, nil
	}
	return types.Row{types.NewString(types.Bytea, string(body))}, nil
}

// Deliver commits one request's body as a row and returns once it is
// durable (nil) or with why not. An error may come after the row was
// committed only when ctx ends first.
func (w *Webhook) Deliver(ctx context.Context, body []byte) error {
	row, err := w.row(body)
	if err != nil {
		return err
	}
	r := &webhookRequest{row: row, done: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WebhookHandler serves POST /api/webhook/[<database>/]<schema>/<name>
// (the database segment, which Materialize's URLs have, is ignored): find returns
// the running webhook source of that name, or an error (a *pgerror.Error
// with 55000 while the server is not ready, 42P01 for no such source).
// Answers: 200 once durable; 400 for a body the format refuses; 401
// without the source's secret; 404 for no such webhook source; 405 for
// another method; 413 past max_body_bytes; 503 (with Retry-After) while
// the server starts or the source is not running; 507 while the disk is
// full (nothing was written); 500 when the log failed.
func WebhookHandler(find func(schema, name string) (*Webhook, error)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		// /api/webhook/<schema>/<source>, or Materialize's
		// /api/webhook/<database>/<schema>/<source> (a server holds one
		// database, so its name is not checked).
		parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/api/webhook/"), "/")
		if len(parts) == 3 {
			parts = parts[1:]
		}
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			http.Error(rw, "not found: POST to /api/webhook/<schema>/<source>", http.StatusNotFound)
			return
		}
		schema, name := parts[0], parts[1]
		if req.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "method not allowed: POST the event", http.StatusMethodNotAllowed)
			return
		}
		w, err := find(schema, name)
		if err != nil {
			code := http.StatusNotFound
			if pgerror.CodeOf(err) == pgerror.ObjectNotInPrerequisiteState {
				code = http.StatusServiceUnavailable
				rw.Header().Set("Retry-After", "1")
			}
			http.Error(rw, err.Error(), code)
			return
		}
		if w.secret != "" {
			got := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(w.secret)) != 1 {
				http.Error(rw, "unauthorized: this source needs Authorization: Bearer <secret>", http.StatusUnauthorized)
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, w.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(rw, fmt.Sprintf("the body is larger than the source's max_body_bytes (%d)", w.maxBody), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(rw, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		err = w.Deliver(req.Context(), body)
		var bad errWebhookBody
		switch {
		case err == nil:
			rw.WriteHeader(http.StatusOK)
		case errors.As(err, &bad):
			http.Error(rw, bad.msg, http.StatusBadRequest)
		case pgerror.CodeOf(err) == pgerror.DiskFull:
			http.Error(rw, err.Error(), http.StatusInsufficientStorage)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			rw.Header().Set("Retry-After", "1")
			http.Error(rw, "the source did not commit the event in time; it may or may not be there", http.StatusServiceUnavailable)
		default:
			http.Error(rw, err.Error(), http.StatusInternalServerError)
		}
	})
}
