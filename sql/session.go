package sql

import (
	"context"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// EngineOptions configure an Engine.
type EngineOptions struct{}

// Engine is one Tributary database: catalog, coordinator and dataflows.
type Engine struct{}

// NewEngine opens an engine.
func NewEngine(opts EngineOptions) (*Engine, error) { return &Engine{}, nil }

// Close stops the engine's dataflows and closes its storage.
func (e *Engine) Close() error { return nil }

// Statement is one parsed SQL statement.
type Statement struct {
	sql string
}

// SQL returns the statement's text.
func (st *Statement) SQL() string { return st.sql }

// Session is one client connection's state.
type Session struct {
	e    *Engine
	opts SessionOptions
}

// NewSession starts a session.
func (e *Engine) NewSession(opts SessionOptions) *Session { return &Session{e: e, opts: opts} }

// ParameterStatuses are the run-time parameters reported at startup.
func (s *Session) ParameterStatuses() [][2]string {
	return [][2]string{
		{"server_version", "15.0"},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"application_name", s.opts.ApplicationName},
		{"is_superuser", "on"},
	}
}

// ParseStatements splits and parses a query string.
func (s *Session) ParseStatements(query string) ([]*Statement, error) {
	return nil, pgerror.New(pgerror.FeatureNotSupported, "not implemented")
}

// Prepare binds a statement.
func (s *Session) Prepare(ctx context.Context, st *Statement, paramTypes []types.Type) (*Prepared, error) {
	return nil, pgerror.New(pgerror.FeatureNotSupported, "not implemented")
}

// Execute runs a prepared statement with its parameters.
func (s *Session) Execute(ctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	return nil, pgerror.New(pgerror.FeatureNotSupported, "not implemented")
}

// TxStatus reports the transaction state.
func (s *Session) TxStatus() TxStatus { return TxIdle }

// Close ends the session, rolling back an open transaction.
func (s *Session) Close() {}
