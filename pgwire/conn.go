package pgwire

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

const (
	// maxStartupPacket is PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
	maxStartupPacket = 10000
	// maxMessageBody bounds a regular message body (PostgreSQL's
	// PQ_LARGE_MESSAGE_LIMIT is 1 GiB - 1).
	maxMessageBody = 1 << 30
	// startupTimeout bounds how long a connection may take to send its
	// startup packet (PostgreSQL's authentication_timeout).
	startupTimeout = time.Minute
	// readQueue is how many decoded messages the reader may run ahead of the
	// processor. Beyond it the reader stops reading and TCP pushes back; a
	// closed socket is then noticed once the processor catches up.
	readQueue = 64

	protocolMajor = 3
	protocolMinor = 0

	codeCancelRequest = 80877102
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
)

// errCloseConn ends the connection without sending anything more: the
// client terminated or went away.
var errCloseConn = errors.New("pgwire: connection closed")

// fatalError is an error after which the connection is closed (a protocol
// violation): it is reported with severity FATAL.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

func protocolViolation(format string, args ...any) error {
	return fatalError{pgerror.New(pgerror.ProtocolViolation, format, args...)}
}

// readItem is one message (or the protocol error that ended reading) handed
// from the reader goroutine to the processor.
type readItem struct {
	msg pgproto3.FrontendMessage
	err error
}

// conn is one client connection. Two goroutines serve it: the reader
// (readLoop) decodes messages into msgs, and the processor (run) executes
// them and writes responses. Only the processor touches the session, the
// prepared statements, the portals and the write buffer.
type conn struct {
	srv *Server
	raw net.Conn // the accepted socket; kill closes it
	nc  net.Conn // raw, or the TLS connection over it (set during startup only)
	tls bool     // nc is a TLS connection
	br  *bufio.Reader
	log *slog.Logger

	// ctx lives as long as the connection; it is cancelled when the client
	// goes away or the server closes, which cancels every statement.
	ctx    context.Context
	cancel context.CancelFunc

	pid    uint32
	secret []byte
	sess   Session

	msgs       chan readItem
	readerDone chan struct{}

	stmtMu     sync.Mutex
	stmtCancel context.CancelFunc // REQUIRES: stmtMu held; nil when idle
	// streaming is set while a SUBSCRIBE streams; terminating once the
	// reader saw Terminate, which ends such a stream (subscribe.go).
	streaming, terminating atomic.Bool

	// Processor state.
	// idleInTx is set when the last ReadyForQuery reported a transaction
	// block: the session now waits for its client inside it.
	idleInTx       bool
	wbuf           []byte
	werr           error
	stmts          map[string]*prepStmt
	portals        map[string]*portal
	ignoreTillSync bool
}

// prepStmt is a Parse result. prep is nil for an empty query string.
type prepStmt struct {
	prep *sql.Prepared
}

// portal is a Bind result. The statement runs at its first Execute; the
// Result is kept so later Executes resume at cursor without re-running.
type portal struct {
	stmt    *prepStmt
	params  []types.Datum
	formats []int16 // one per result column
	res     *sql.Result
	cursor  int
	done    bool
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv:        s,
		raw:        nc,
		nc:         nc,
		br:         bufio.NewReaderSize(nc, 16<<10),
		log:        s.log.With("remote", nc.RemoteAddr().String()),
		ctx:        ctx,
		cancel:     cancel,
		msgs:       make(chan readItem, readQueue),
		readerDone: make(chan struct{}),
		stmts:      make(map[string]*prepStmt),
		portals:    make(map[string]*portal),
	}
}

// kill closes the connection from outside (Server.Close): it cancels the
// running statement and unblocks both goroutines.
func (c *conn) kill() {
	c.cancel()
	c.raw.Close()
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.cancel()
	defer c.nc.Close()
	if err := c.startup(); err != nil {
		if !errors.Is(err, errCloseConn) && !isNetErr(err) {
			c.sendFatal(err)
		}
		c.srv.forget(c) // before the deferred close
		return
	}
	c.srv.register(c)
	go c.readLoop()
	c.run()
	c.closeAllPortals() // a suspended SUBSCRIBE portal's subscription ends
	c.sess.Close()
	c.cancel()
	c.srv.forget(c)
	c.nc.Close()
	<-c.readerDone
}

func isNetErr(err error) bool {
	var pe *pgerror.Error
	return !errors.As(err, &pe)
}

// startup handles the packets before the first regular message: SSL and
// GSS encryption requests (declined), CancelRequest, and the StartupMessage.
// A nil return means the session is open and ReadyForQuery was sent.
func (c *conn) startup() error {
	c.nc.SetReadDeadline(time.Now().Add(startupTimeout))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		body, err := c.readStartupPacket()
		if err != nil {
			return err
		}
		code := binary.BigEndian.Uint32(body)
		switch code {
		case codeSSLRequest, codeGSSENCRequest:
			if code == codeSSLRequest && c.srv.opts.TLS != nil && !c.tls {
				if err := c.startTLS(); err != nil {
					return err
				}
				continue
			}
			// No encryption: 'N', and the client continues in the clear.
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return err
			}
			continue
		case codeCancelRequest:
			var cr pgproto3.CancelRequest
			if err := cr.Decode(body); err != nil {
				return fatalError{pgerror.New(pgerror.ProtocolViolation, "invalid cancel request: %v", err)}
			}
			c.srv.cancel(cr.ProcessID, cr.SecretKey)
			return errCloseConn
		}
		major, minor := code>>16, code&0xffff
		if major != protocolMajor {
			return fatalError{pgerror.New(pgerror.ProtocolViolation,
				"unsupported frontend protocol %d.%d: server supports %d.0 to %d.%d",
				major, minor, protocolMajor, protocolMajor, protocolMinor)}
		}
		params, err := parseStartupParams(body[4:])
		if err != nil {
			return err
		}
		return c.open(minor, params)
	}
}

func (c *conn) readStartupPacket() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupPacket {
		return nil, fatalError{pgerror.New(pgerror.ProtocolViolation, "invalid length of startup packet")}
	}
	return readBody(c.br, int(n)-4)
}

// parseStartupParams decodes the name/value pairs of a StartupMessage.
func parseStartupParams(b []byte) (map[string]string, error) {
	bad := fatalError{pgerror.New(pgerror.ProtocolViolation, "invalid startup packet layout: expected terminator as last byte")}
	params := make(map[string]string)
	for {
		i := slices.Index(b, 0)
		if i < 0 {
			return nil, bad
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, bad
			}
			return params, nil
		}
		name := string(b[:i])
		b = b[i+1:]
		j := slices.Index(b, 0)
		if j < 0 {
			return nil, bad
		}
		params[name] = string(b[:j])
		b = b[j+1:]
	}
}

// open starts the session and sends the startup responses.
func (c *conn) open(minor uint32, params map[string]string) error {
	user := params["user"]
	if user == "" {
		return fatalError{pgerror.New(pgerror.InvalidAuthorizationSpecification, "no PostgreSQL user name specified in startup packet")}
	}
	// Protocol options (_pq_.*) are not supported; like PostgreSQL we tell
	// the client which ones, and the newest minor version we speak.
	var unrecognized []string
	opts := sql.SessionOptions{User: user, Database: user, Params: make(map[string]string), Statements: connStatements{c}}
	for k, v := range params {
		switch {
		case strings.HasPrefix(k, "_pq_."):
			unrecognized = append(unrecognized, k)
		case k == "user":
		case k == "database":
			if v != "" {
				opts.Database = v
			}
		case k == "application_name":
			opts.ApplicationName = v
		default:
			opts.Params[k] = v
		}
	}
	if minor > protocolMinor || len(unrecognized) > 0 {
		slices.Sort(unrecognized)
		c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: protocolMinor, UnrecognizedOptions: unrecognized})
	}

	if f := c.srv.opts.Unavailable; f != nil {
		if err := f(); err != nil {
			c.srv.refused.Add(1)
			return fatalError{err}
		}
	}
	if err := c.authenticate(user); err != nil {
		return err
	}

	c.pid = c.srv.allocPID()
	c.secret = make([]byte, 4)
	rand.Read(c.secret)
	opts.BackendPID = int32(c.pid)
	c.log = c.log.With("pid", c.pid, "user", user)

	err := c.protect(func() error {
		c.sess = c.srv.opts.NewSession(opts)
		return nil
	})
	if err != nil {
		return fatalError{err}
	}
	if se, ok := c.sess.(interface{ StartupError() error }); ok && se.StartupError() != nil {
		return fatalError{se.StartupError()} // an invalid TimeZone, as PostgreSQL refuses it
	}
	c.send(&pgproto3.AuthenticationOk{})
	for _, kv := range c.sess.ParameterStatuses() {
		c.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
	c.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret})
	c.readyForQuery()
	return c.werr
}

// readLoop decodes messages until the client goes away, sends Terminate or
// violates the protocol. A read error (closed socket) cancels the
// connection's context, and so the running statement.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	defer close(c.msgs)
	for {
		msg, err := c.readMessage()
		if err != nil {
			if isNetErr(err) {
				c.cancel()
				return
			}
			select {
			case c.msgs <- readItem{err: err}:
			case <-c.ctx.Done():
			}
			return
		}
		select {
		case c.msgs <- readItem{msg: msg}:
		case <-c.ctx.Done():
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			c.terminateStream()
			return
		}
	}
}

// readMessage reads and decodes one regular message. Errors that are the
// client's fault are fatal 08P01 errors; others are I/O errors.
func (c *conn) readMessage() (pgproto3.FrontendMessage, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, err
	}
	typ := hdr[0]
	n := int64(int32(binary.BigEndian.Uint32(hdr[1:])))
	if n < 4 || n-4 > maxMessageBody {
		return nil, protocolViolation("invalid message length %d", n)
	}
	msg := newFrontendMessage(typ)
	if msg == nil {
		return nil, protocolViolation("invalid frontend message type %d", typ)
	}
	body, err := readBody(c.br, int(n)-4)
	if err != nil {
		return nil, err
	}
	if err := msg.Decode(body); err != nil {
		return nil, protocolViolation("invalid %c message: %v", typ, err)
	}
	return msg, nil
}

// newFrontendMessage returns a fresh message for a type byte (fresh, so a
// decoded message may alias its body and outlive the next read), or nil.
func newFrontendMessage(typ byte) pgproto3.FrontendMessage {
	switch typ {
	case 'Q':
		return &pgproto3.Query{}
	case 'P':
		return &pgproto3.Parse{}
	case 'B':
		return &pgproto3.Bind{}
	case 'D':
		return &pgproto3.Describe{}
	case 'E':
		return &pgproto3.Execute{}
	case 'C':
		return &pgproto3.Close{}
	case 'S':
		return &pgproto3.Sync{}
	case 'H':
		return &pgproto3.Flush{}
	case 'X':
		return &pgproto3.Terminate{}
	case 'd':
		return &pgproto3.CopyData{}
	case 'c':
		return &pgproto3.CopyDone{}
	case 'f':
		return &pgproto3.CopyFail{}
	case 'F':
		return &pgproto3.FunctionCall{}
	}
	return nil
}

// readBody reads an n-byte message body, growing the buffer as data
// arrives so that a length claimed by the client is not allocated up front.
func readBody(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		k := min(n-len(buf), chunk)
		buf = slices.Grow(buf, k)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// run is the processor: it handles messages in order until the connection
// ends.
func (c *conn) run() {
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	for {
		// idle_in_transaction_session_timeout: a session that holds a
		// transaction open and sends nothing for that long is ended, as
		// in PostgreSQL (its transaction rolls back when the session
		// closes, releasing what it holds, such as the DDL gate).
		var expired <-chan time.Time
		if d := c.sess.IdleInTransactionTimeout(); c.idleInTx && d > 0 {
			if idle == nil {
				idle = time.NewTimer(d)
			} else {
				idle.Reset(d)
			}
			expired = idle.C
		}
		var item readItem
		var ok bool
		select {
		case item, ok = <-c.msgs:
		case <-expired:
			c.sendFatal(pgerror.New(pgerror.IdleInTransactionSessionTimeout, "terminating connection due to idle-in-transaction timeout"))
			return
		}
		if idle != nil && expired != nil && !idle.Stop() {
			select { // drain a tick that fired as the message arrived
			case <-idle.C:
			default:
			}
		}
		if !ok {
			return
		}
		c.idleInTx = false // until the next ReadyForQuery
		if item.err != nil {
			c.sendFatal(item.err)
			return
		}
		err := c.handle(item.msg)
		if err != nil {
			var fe fatalError
			if !errors.Is(err, errCloseConn) && errors.As(err, &fe) {
				c.sendFatal(err)
			}
			return
		}
		if c.werr != nil {
			return
		}
	}
}

// handle processes one message. A non-nil error ends the connection.
func (c *conn) handle(msg pgproto3.FrontendMessage) error {
	switch msg.(type) {
	case *pgproto3.Terminate:
		return errCloseConn
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		c.sync()
		return nil
	}
	if c.ignoreTillSync {
		return nil
	}
	var err error
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.simpleQuery(m.String)
	case *pgproto3.Parse:
		err = c.protect(func() error { return c.parse(m) })
	case *pgproto3.Bind:
		err = c.protect(func() error { return c.bind(m) })
	case *pgproto3.Describe:
		err = c.protect(func() error { return c.describe(m) })
	case *pgproto3.Execute:
		err = c.protect(func() error { return c.execute(m) })
	case *pgproto3.Close:
		err = c.protect(func() error { return c.closeMsg(m) })
	case *pgproto3.Flush:
		c.flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Leftovers of a failed COPY: PostgreSQL drops them.
	case *pgproto3.FunctionCall:
		c.sendError(pgerror.New(pgerror.FeatureNotSupported, "the function call protocol is not supported"))
		c.readyForQuery()
	default:
		return protocolViolation("unexpected message %T", msg)
	}
	if err != nil {
		var fe fatalError
		if errors.As(err, &fe) || errors.Is(err, errCloseConn) {
			return err
		}
		c.sendError(err)
		c.ignoreTillSync = true
	}
	return nil
}

// protect runs fn, turning a panic into an internal error (XX000) for this
// message or statement only. The panic is logged with its stack.
func (c *conn) protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("pgwire: panic while handling a statement", "panic", r, "stack", string(debug.Stack()))
			err = pgerror.New(pgerror.InternalError, "internal error: %v", r)
		}
	}()
	return fn()
}

// stmtContext returns the context of one statement: cancelled by a
// CancelRequest, a closed socket or Server.Close. release must be called
// when the statement is done.
func (c *conn) stmtContext() (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.stmtMu.Lock()
	c.stmtCancel = cancel
	c.stmtMu.Unlock()
	return ctx, func() {
		c.stmtMu.Lock()
		c.stmtCancel = nil
		c.stmtMu.Unlock()
		cancel()
	}
}

// cancelStatement cancels the running statement, if any (CancelRequest).
func (c *conn) cancelStatement() {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	if c.stmtCancel != nil {
		c.stmtCancel()
	}
}

func (c *conn) readyForQuery() {
	st := c.sess.TxStatus()
	c.idleInTx = st != sql.TxIdle
	c.send(&pgproto3.ReadyForQuery{TxStatus: byte(st)})
	c.flush()
}

// sync ends an extended-protocol batch. Outside a transaction block the
// implicit transaction ends here, and with it every portal, as in
// PostgreSQL.
func (c *conn) sync() {
	if c.sess.TxStatus() == sql.TxIdle {
		c.closeAllPortals()
	}
	c.readyForQuery()
}

// simpleQuery runs a Query message: every statement in order, stopping at
// the first error, then one ReadyForQuery.
func (c *conn) simpleQuery(query string) error {
	// A simple query destroys the unnamed statement and portal.
	delete(c.stmts, "")
	c.closePortal("")
	var stmts []*sql.Statement
	err := c.protect(func() (err error) {
		stmts, err = c.sess.ParseStatements(query)
		return err
	})
	if err == nil && len(stmts) == 0 {
		c.send(&pgproto3.EmptyQueryResponse{})
	}
	for _, st := range stmts {
		if err != nil || c.werr != nil {
			break
		}
		err = c.protect(func() error { return c.simpleStatement(st) })
	}
	if err != nil {
		var fe fatalError
		if errors.As(err, &fe) || errors.Is(err, errCloseConn) {
			return err
		}
		c.sendError(err)
	}
	c.readyForQuery()
	return nil
}

func (c *conn) simpleStatement(st *sql.Statement) error {
	ctx, release := c.stmtContext()
	defer release()
	p, err := c.sess.Prepare(ctx, st, nil)
	if err != nil {
		return err
	}
	res, err := c.sess.Execute(ctx, p, nil)
	if err != nil {
		return err
	}
	if res.CopyIn != nil {
		return c.copyIn(ctx, res)
	}
	if res.CopyOut != nil {
		return c.copyOut(ctx, res)
	}
	if res.Stream != nil {
		return c.streamResult(ctx, res)
	}
	c.sendNotices(res.Notices)
	if res.Empty {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if res.Columns != nil {
		c.sendRowDescription(res.Columns, nil)
	}
	for _, row := range res.Rows {
		if err := c.sendDataRow(row, res.Columns, nil); err != nil {
			return err
		}
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	c.sendParameterStatus(res.ParameterStatus)
	return nil
}

// copyIn runs the COPY FROM STDIN sub-protocol for a statement whose Result
// has a CopyIn handler, reading CopyData until CopyDone or CopyFail.
func (c *conn) copyIn(ctx context.Context, res *sql.Result) error {
	h := res.CopyIn
	c.sendNotices(res.Notices)
	n := h.Columns()
	var format int16
	if h.Binary() {
		format = 1
	}
	formats := make([]uint16, n)
	for i := range formats {
		formats[i] = uint16(format)
	}
	c.send(&pgproto3.CopyInResponse{OverallFormat: byte(format), ColumnFormatCodes: formats})
	c.flush()
	for {
		select {
		case <-ctx.Done():
			h.Fail("canceled")
			return pgerror.New(pgerror.QueryCanceled, "canceling statement due to user request")
		case item, ok := <-c.msgs:
			if !ok {
				h.Fail("connection closed")
				return errCloseConn
			}
			if item.err != nil {
				h.Fail("protocol violation")
				return item.err
			}
			switch m := item.msg.(type) {
			case *pgproto3.CopyData:
				if err := h.Data(m.Data); err != nil {
					h.Fail(err.Error())
					return err
				}
			case *pgproto3.CopyDone:
				done, err := h.Done()
				if err != nil {
					return err
				}
				if done == nil {
					done = &sql.Result{}
				}
				c.sendNotices(done.Notices)
				c.send(&pgproto3.CommandComplete{CommandTag: []byte(done.Tag)})
				c.sendParameterStatus(done.ParameterStatus)
				return nil
			case *pgproto3.CopyFail:
				h.Fail(m.Message)
				return pgerror.New(pgerror.QueryCanceled, "COPY from stdin failed: %s", m.Message)
			case *pgproto3.Flush, *pgproto3.Sync:
				// Ignored during copy-in, as PostgreSQL does.
			case *pgproto3.Terminate:
				h.Fail("connection terminated")
				return errCloseConn
			default:
				h.Fail("unexpected message")
				return pgerror.New(pgerror.ProtocolViolation, "unexpected message type 0x%02X during COPY from stdin", messageType(m))
			}
		}
	}
}

func messageType(m pgproto3.FrontendMessage) byte {
	b, err := m.Encode(nil)
	if err != nil || len(b) == 0 {
		return 0
	}
	return b[0]
}

// connStatements is the connection's named prepared statements as the
// session sees them (sql.PreparedStatements): DEALLOCATE and DISCARD ALL
// remove them. The unnamed statement is not among them.
type connStatements struct{ c *conn }

func (r connStatements) Deallocate(name string) bool {
	if _, ok := r.c.stmts[name]; !ok || name == "" {
		return false
	}
	delete(r.c.stmts, name)
	return true
}

func (r connStatements) DeallocateAll() {
	for name := range r.c.stmts {
		if name != "" {
			delete(r.c.stmts, name)
		}
	}
}
