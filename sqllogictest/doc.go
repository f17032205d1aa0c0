// Package sqllogictest runs sqllogictest scripts (.test, .slt) against any
// server that speaks the PostgreSQL wire protocol, through the pgx v5 client
// (github.com/jackc/pgx/v5/pgconn). It is how Tributary's SQL behaviour is
// specified and how its conformance with PostgreSQL is measured.
//
// The format is the one described in shared/slt/FORMAT.md: the SQLite core
// (§1) plus the sqllogictest-rs, CockroachDB and Materialize extensions that
// a streaming, PostgreSQL-compatible engine needs (§2–§4).
//
// # Layers
//
//   - parse.go turns a script into []Record. It knows nothing about servers.
//     CRLF is tolerated, whole-line '#' comments are dropped everywhere (also
//     inside SQL and results), records are separated by blank lines, and
//     condition lines keep only their first two tokens, so SQLite's
//     "skipif mysql # not compatible" parses.
//   - render.go turns the text-format values a server returns into the
//     strings a script compares against: sorting, hashing, the SQLite value
//     rendering (NULL, (empty), I/R/T coercion) and the row-per-line layout.
//   - run.go executes records on one or more connections and counts them.
//
// # Two layouts, chosen by file extension
//
// Files ending in .test use SQLite's value-per-line layout: one expected
// value per line, I columns truncated to integers, R columns printed with
// %.3f, T columns with (empty) for the empty string and '@' for bytes outside 0x20..0x7E,
// and a default hash-threshold of 8 (select1–5.test rely on it). Every other
// file (.slt, .slt.part) uses the sqllogictest-rs row-per-line layout: one row
// per line, values in PostgreSQL's text form (booleans t/f), whitespace
// normalized, (empty) for the empty string and NULL for NULL, hash-threshold 0. The
// directive "control resultmode valuewise|rowwise" switches within a file.
//
// # Protocols
//
// Records run over the extended protocol by default (Parse/Bind/Describe/
// Execute with the unnamed statement and text results, what pgx's
// QueryExecModeExec does). Options.Simple runs them over the simple protocol
// instead; the project's suites are run both ways. The "simple" record
// (Materialize's) always uses the simple protocol and may hold several
// statements.
//
// # Counting
//
// A record is a statement, query or simple record. A record excluded by
// skipif/onlyif is skipped; one after an executed halt is not counted at all.
// These are the rules that produced shared/slt/postgresql15-baseline.txt, and
// scripts/slt-postgres-baseline.sh checks that this runner reproduces it
// against a real PostgreSQL 15.
//
// # Sessions
//
// RunFile connects to one URL; the caller provides a fresh database (or a
// fresh server) per file. Within a file the default connection is reused
// across records; "connection <name>" before a record runs it on a named
// connection, opened on first use, so transaction and multi-session tests
// can interleave. A connection the server closed is reopened for the next
// record.
//
// This package must not import Tributary's engine packages (sql, pgwire,
// planner, dataflow, storage): it tests them from the outside only.
// cmd/tributary wires it to an in-process server.
package sqllogictest
