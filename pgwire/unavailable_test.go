package pgwire

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// TestUnavailable: while Options.Unavailable returns an error, a client's
// startup gets it as FATAL (before authentication, no session is started)
// and the connection is counted as refused; afterwards, normal service.
func TestUnavailable(t *testing.T) {
	env := newFakeEnv()
	var starting atomic.Bool
	starting.Store(true)
	var sessions atomic.Int32
	srv := NewServer(Options{
		NewSession: func(o sql.SessionOptions) Session { sessions.Add(1); return env.newSession(o) },
		Unavailable: func() error {
			if starting.Load() {
				return &pgerror.Error{Code: pgerror.CannotConnectNow, Message: "the database system is starting up", Detail: "Restore phase: replaying the log."}
			}
			return nil
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	_, fe := dialStartup(t, ln.Addr().String(), "u")
	var last pgproto3.BackendMessage
	for {
		msg, err := fe.Receive()
		if err != nil {
			break
		}
		last = msg
	}
	e, ok := last.(*pgproto3.ErrorResponse)
	if !ok || e.Code != "57P03" || e.Severity != "FATAL" || e.Message != "the database system is starting up" || e.Detail != "Restore phase: replaying the log." {
		t.Fatalf("startup while unavailable ended with %#v", last)
	}
	if n := sessions.Load(); n != 0 {
		t.Errorf("%d sessions started while unavailable", n)
	}
	if st := srv.Stats(); st.Refused != 1 || st.Accepted != 1 {
		t.Errorf("stats %+v, want 1 accepted and refused", st)
	}

	starting.Store(false)
	ts := &testServer{srv: srv, env: env, addr: ln.Addr().String()}
	conn := ts.connect(t)
	selectOne(t, conn)
	if st := srv.Stats(); st.Open != 1 || st.Refused != 1 || st.Accepted != 2 {
		t.Errorf("stats %+v, want 1 open, 2 accepted, 1 refused", st)
	}
	conn.Close(testCtx(t))
}
