// Package pgerror is the error type every client-visible error carries: a
// PostgreSQL SQLSTATE from the moment the error is created, a message, and
// optionally detail, hint and a 1-based character position in the query.
//
// The codes are generated from PostgreSQL's errcodes (go generate). Callers
// classify errors with errors.As or CodeOf, never by message text. pgwire
// turns any error into an ErrorResponse with CodeOf: an error without a code
// is an internal error (XX000), which bad input must never produce.
package pgerror
