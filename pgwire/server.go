package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/types"
)

// Session is the part of *sql.Session the protocol layer uses. A Session is
// used by one goroutine at a time (the connection's processing goroutine);
// ctx cancellation aborts a running call with 57014. Every error it returns
// should carry a SQLSTATE (package pgerror).
type Session interface {
	// ParameterStatuses are the run-time parameters reported after
	// authentication.
	ParameterStatuses() [][2]string
	// ParseStatements splits and parses one query string. The statements
	// belong to the session and stay valid until Close.
	ParseStatements(query string) ([]*sql.Statement, error)
	// Prepare binds a statement. paramTypes may be shorter than the number of
	// parameters and may hold types.Unknown; the result's ParamTypes are
	// complete.
	Prepare(ctx context.Context, st *sql.Statement, paramTypes []types.Type) (*sql.Prepared, error)
	// Execute runs a prepared statement. The Result is owned by the caller.
	Execute(ctx context.Context, p *sql.Prepared, params []types.Datum) (*sql.Result, error)
	// TxStatus is the transaction state ReadyForQuery reports.
	TxStatus() sql.TxStatus
	// IdleInTransactionTimeout is how long the session may wait for its
	// client inside a transaction block before the connection is ended
	// with 25P03 (idle_in_transaction_session_timeout); 0: forever.
	IdleInTransactionTimeout() time.Duration
	// Close ends the session; it is called exactly once, after the last
	// other call has returned.
	Close()
}

var _ Session = (*sql.Session)(nil)

// Options configure a Server.
type Options struct {
	// NewSession starts the session of a new connection, after its startup
	// message. Required.
	NewSession func(sql.SessionOptions) Session
	// Logger receives connection errors and recovered panics; slog.Default()
	// when nil.
	Logger *slog.Logger
	// Auth is the authentication method (auth.go); AuthTrust when empty.
	// Whether trust is acceptable for a listener is the caller's decision
	// (see TrustAllowed).
	Auth AuthMethod
	// Roles looks up a role for password authentication; required unless
	// Auth is trust. Production passes (*sql.Engine).LoginRole.
	Roles func(name string) (sql.LoginRole, bool)
	// TLS, when set, makes the server accept SSLRequest ('S') and run the
	// connection over TLS with this configuration (tls.go); without it
	// SSLRequest is answered 'N'.
	TLS *tls.Config
	// Unavailable, when set, is asked after each startup packet (before
	// authentication): a non-nil error refuses the connection with it as
	// a FATAL error, as PostgreSQL refuses connections during recovery
	// with 57P03 (cannot_connect_now). serve uses it while the engine
	// restores; NewSession and Roles are not called meanwhile.
	Unavailable func() error
}

// Server accepts PostgreSQL connections and serves each one on its own
// goroutines. It is safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	nextPID atomic.Uint32
	mockKey []byte         // salts the mock SCRAM verifiers of unknown users (auth.go)
	wg      sync.WaitGroup // one per live connection
	// accepted counts connections served; refused those turned away by
	// Options.Unavailable (Stats).
	accepted, refused atomic.Uint64

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		byPID     map[uint32]*conn // connections past startup, for CancelRequest
	}
}

// NewServer returns a server; call Serve to accept connections.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NewSession == nil {
		panic("pgwire: Options.NewSession is required")
	}
	if opts.Auth == "" {
		opts.Auth = AuthTrust
	}
	if _, err := ParseAuthMethod(string(opts.Auth)); err != nil {
		panic("pgwire: " + err.Error())
	}
	if opts.Auth != AuthTrust && opts.Roles == nil {
		panic("pgwire: Options.Roles is required for " + string(opts.Auth) + " authentication")
	}
	s := &Server{opts: opts, log: opts.Logger, mockKey: make([]byte, 32)}
	rand.Read(s.mockKey)
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	s.mu.byPID = make(map[uint32]*conn)
	return s
}

// Serve accepts connections on ln until Close is called, then returns nil.
// It returns an accept error other than a temporary one. Serve may be called
// for several listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Too many open files and friends: back off rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("pgwire: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.ServeConn(nc)
	}
}

// ServeConn serves one already accepted connection and returns when it
// closes. Serve uses it for every accepted connection; tests and embedders
// may call it directly.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	defer s.wg.Done()
	c.serve()
	s.forget(c)
}

// forget removes c from the open connections. The connection calls it
// before it closes its socket, so a client that has seen the close never
// finds it counted as open; calling it again is harmless.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	if s.mu.byPID[c.pid] == c {
		delete(s.mu.byPID, c.pid)
	}
	s.mu.Unlock()
}

// Stats are the server's connection counts, for monitoring.
type Stats struct {
	Open     int    // connections being served now
	Accepted uint64 // connections served since start
	Refused  uint64 // connections refused by Options.Unavailable
}

// Stats returns the connection counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.mu.conns)
	s.mu.Unlock()
	return Stats{Open: n, Accepted: s.accepted.Load(), Refused: s.refused.Load()}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// Close stops accepting, closes every connection (cancelling running
// statements) and waits for their goroutines to finish. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	var err error
	for ln := range s.mu.listeners {
		if e := ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	for c := range s.mu.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// allocPID hands out backend process IDs; they only identify a connection
// for CancelRequest, together with its secret.
func (s *Server) allocPID() uint32 {
	for {
		if pid := s.nextPID.Add(1) & 0x7fffffff; pid != 0 {
			return pid
		}
	}
}

func (s *Server) register(c *conn) {
	s.mu.Lock()
	s.mu.byPID[c.pid] = c
	s.mu.Unlock()
}

// cancel handles a CancelRequest: it cancels the running statement of the
// connection with that process ID and secret, if any. As in PostgreSQL the
// requester learns nothing about whether it matched.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.mu.byPID[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret, secret) != 1 {
		return
	}
	c.cancelStatement()
}
