package sql

import (
	"github.com/tributary-db/tributary/sql/types"
)

// This file is the narrow interface package pgwire programs against. The
// protocol layer never looks inside a Statement or a plan: it parses, asks for
// a description, executes and streams rows.

// Column describes one result column, as RowDescription reports it.
type Column struct {
	Name string
	Type types.Type
	// TableOID and Attr identify the base-table column the value comes from,
	// 0 when it is computed.
	TableOID uint32
	Attr     int16
}

// Notice is a NoticeResponse the session wants sent to the client, for
// example "table t does not exist, skipping" after DROP TABLE IF EXISTS.
type Notice struct {
	Severity string // NOTICE, WARNING
	Code     string // SQLSTATE
	Message  string
}

// Result is what executing one statement produced. Rows are fully computed
// (a read is a peek at one timestamp); the protocol layer may hand them out
// in pieces (Execute with a row limit) without re-executing.
type Result struct {
	// Columns is nil for statements that return no rows.
	Columns []Column
	Rows    []types.Row
	// Tag is the CommandComplete tag: "SELECT 3", "INSERT 0 1", "CREATE TABLE".
	Tag string
	// Empty is set for an empty query string (EmptyQueryResponse).
	Empty bool
	// Notices to send before CommandComplete.
	Notices []Notice
	// CopyIn is set when the statement is COPY ... FROM STDIN: the protocol
	// layer runs the copy-in sub-protocol and hands the data to it.
	CopyIn CopyInHandler
	// CopyOut is set when the statement is COPY ... TO STDOUT: the protocol
	// layer runs the copy-out sub-protocol with its data (copy_out.go).
	CopyOut *CopyOut
	// Stream is set for SUBSCRIBE: the protocol layer sends Columns, then
	// the stream's rows as they come (Stream.Next) until it ends (io.EOF:
	// then Tag) or fails; it must Close the stream when done.
	Stream *Subscription
	// ParameterStatus lists run-time parameters the statement changed that
	// the client is told about (SET application_name, SET TimeZone, ...).
	ParameterStatus [][2]string
}

// CopyInHandler receives the data of a COPY FROM STDIN. Data may be called
// any number of times with chunks of the stream (not aligned to rows; the
// handler owns nothing after it returns). Done finishes the copy and returns
// its result ("COPY n"); Fail aborts it, applying nothing.
type CopyInHandler interface {
	Columns() int
	Binary() bool
	Data(chunk []byte) error
	Done() (*Result, error)
	Fail(msg string)
}

// TxStatus is the transaction state ReadyForQuery reports.
type TxStatus byte

// Transaction states.
const (
	TxIdle   TxStatus = 'I'
	TxActive TxStatus = 'T'
	TxFailed TxStatus = 'E'
)

// The session's entry points (implemented in session.go):
//
//	func (e *Engine) NewSession(opts SessionOptions) *Session
//	func (s *Session) ParameterStatuses() [][2]string  // sent after AuthenticationOk
//	func (s *Session) ParseStatements(query string) ([]*Statement, error)
//	func (s *Session) Prepare(ctx context.Context, st *Statement, paramTypes []types.Type) (*Prepared, error)
//	func (s *Session) Execute(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error)
//	func (s *Session) TxStatus() TxStatus
//	func (s *Session) Close()
//
// A Session is used by one goroutine at a time. ctx cancellation aborts a
// running statement with 57014. Every error returned carries a SQLSTATE
// (package pgerror); a statement error inside a transaction block leaves the
// session in TxFailed until ROLLBACK.

// SessionOptions are the connection's startup parameters.
type SessionOptions struct {
	User            string
	Database        string
	ApplicationName string
	BackendPID      int32
	// Params are the other startup parameters (DateStyle, TimeZone, ...).
	Params map[string]string
	// Statements is the connection's registry of named prepared
	// statements, for DEALLOCATE and DISCARD ALL (discard.go); nil for a
	// session without one.
	Statements PreparedStatements
}

// Prepared is a statement ready to execute: its parameter types (those the
// client left unspecified are inferred) and result columns (nil when it
// returns no rows).
type Prepared struct {
	Stmt       *Statement
	ParamTypes []types.Type
	Columns    []Column
}

// LoginRole is what authentication learns about a role from
// (*Engine).LoginRole(name) (roles.go): whether it may log in and its
// password verifier (nil when it has none). The verifier is immutable and
// may be kept after the call.
type LoginRole struct {
	Name      string
	CanLogin  bool
	Superuser bool
	Verifier  *SCRAMVerifier
}
