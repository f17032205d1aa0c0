// Package pgwire is Tributary's PostgreSQL server: it speaks the
// frontend/backend protocol version 3.0
// (https://www.postgresql.org/docs/current/protocol.html) to psql, pgx,
// JDBC, psycopg and friends, and hands statements to a session of package
// sql through the narrow Session interface.
//
// # Layers
//
//	net.Listener ── Server: accept, connection registry, CancelRequest routing
//	     │
//	     ▼
//	conn reader goroutine: framing and decoding of frontend messages
//	     │  (chan readItem; the reader never waits for execution)
//	     ▼
//	conn processor goroutine: simple and extended query flow, COPY FROM STDIN,
//	     │                    portals, result encoding (text or binary,
//	     │                    codec.go), one buffered writer
//	     ▼
//	Session (sql.Session in production, a fake in tests)
//
// Message framing and encoding come from github.com/jackc/pgx/v5/pgproto3;
// this package reads frames itself so that it can bound message sizes and
// tell a protocol violation (ErrorResponse 08P01, then close) from a client
// that went away (close silently).
//
// # Connection lifecycle
//
//  1. Startup. SSLRequest is answered 'S' and the connection switches to
//     TLS when Options.TLS is set (tls.go), 'N' otherwise; GSSENCRequest is
//     answered 'N'. A CancelRequest cancels the running statement of the
//     connection with that process ID and secret, and closes. A
//     StartupMessage of protocol 3.x starts a session (3.1+ and _pq_ options
//     are negotiated down to 3.0 with NegotiateProtocolVersion); anything
//     else is a FATAL 08P01. Authentication (auth.go) follows Options.Auth:
//     trust, cleartext password, or SASL SCRAM-SHA-256 against the role's
//     verifier (Options.Roles); a failure is FATAL 28P01 whatever the cause.
//     Then AuthenticationOk, the session's ParameterStatus values,
//     BackendKeyData, ReadyForQuery.
//  2. Messages. The reader decodes messages into a bounded queue; the
//     processor handles them in order. Each statement runs with a context
//     that a CancelRequest, a closed socket or Server.Close cancels, so the
//     session sees cancellation even while the processor is busy.
//  3. End. Terminate, EOF, a protocol violation or Server.Close. The session
//     is closed after its last call has returned.
//
// # Simple and extended query flow
//
// A Query message may hold several statements. Each is prepared and
// executed in turn and its result sent (RowDescription in text format,
// DataRows, CommandComplete or EmptyQueryResponse). The first error is sent
// as ErrorResponse and skips the rest of the message; one ReadyForQuery ends
// it.
//
// The extended flow splits the same work: Parse (one statement; parameter
// types as given, unspecified ones inferred by the session), Bind (parameter
// values in text or binary, result formats), Describe, Execute (at Execute
// time, not at Bind; a row limit suspends the portal, which keeps its Result
// and a cursor and resumes without re-running) and Close. An error discards
// every message up to the next Sync, as PostgreSQL does. Outside a
// transaction block Sync also drops all portals.
//
// A statement whose Result carries a CopyIn handler switches to the
// copy-in sub-protocol in either flow: CopyInResponse, then CopyData until
// CopyDone (the handler's result completes the statement) or CopyFail (57014).
// A Result with CopyOut is sent as CopyOutResponse, one CopyData per row,
// CopyDone and CommandComplete "COPY n" (copyout.go).
//
// A Result with a Stream (SUBSCRIBE) sends RowDescription, then DataRows as
// the stream yields them, flushed per batch, without end until UP TO ends it
// (CommandComplete "SUBSCRIBE"), a CancelRequest (57014), a Terminate or a
// closed socket; under Execute a row limit suspends it as any portal.
// COPY (SUBSCRIBE ...) TO STDOUT streams CopyData the same way
// (subscribe.go, copyout.go).
//
// # Invariants
//
//   - Only the processor goroutine touches the session, statements, portals
//     and the write buffer.
//   - Output is buffered and written at ReadyForQuery, Flush, PortalSuspended,
//     CopyInResponse and when the buffer passes 64 KiB; never per row.
//   - Every error becomes an ErrorResponse in one function (errorResponse);
//     an error without a SQLSTATE is XX000 and logged. A panic in statement
//     handling is recovered, logged, and fails only that statement.
//   - Malformed input (bad lengths, unknown message types, Bind with the
//     wrong number of parameters or format codes) is a FATAL 08P01 for that
//     connection only; it never panics (see FuzzFrontend).
//
// # Imports
//
// pgwire imports sql only for the types at the Session boundary (Statement,
// Prepared, Result, Column) and sql/types and sql/pgerror. It must not
// import the planner, dataflow or storage, nor reach into a Statement: the
// session owns everything past the wire.
package pgwire
