// Package types defines Tributary's SQL types and values: Type, Datum and
// Row, their total order (Compare), and PostgreSQL's text input and output
// formats.
//
// It is the leaf of the dependency graph: every other package may import it
// and it imports nothing of Tributary's. A Datum is an immutable value; rows
// are plain slices of them. The binary wire formats live in package pgwire,
// conversions between types (casts) in package expr.
package types
