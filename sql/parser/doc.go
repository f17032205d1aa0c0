// Package parser turns SQL text into statements: PostgreSQL's own grammar
// (pg_query_go wraps PostgreSQL's parser) plus a thin layer for the
// streaming statements PostgreSQL lacks (SHOW MATERIALIZED VIEWS, a trailing
// `AS OF expr` on a SELECT, WATERMARK and EMIT ON WINDOW CLOSE
// (streaming.go), SUBSCRIBE alone or inside COPY (...) TO and DECLARE ...
// FOR, and FETCH ... WITH (TIMEOUT) (subscribe.go); later CREATE SOURCE).
//
// The layer works on pg_query's scanner tokens, so strings, comments,
// dollar quoting and identifiers behave exactly as in PostgreSQL: a query is
// split into statements at top-level semicolons, a statement whose leading
// tokens name an extension is parsed here, and every other statement goes
// to PostgreSQL's parser unchanged. Syntax errors carry SQLSTATE 42601 and a
// 1-based character position in the whole query string.
//
// One shortcut (insert_values.go): a query that is nothing but INSERTs of
// plain literal rows (bulk ingest's batched INSERTs) is read here into the
// tree PostgreSQL's parser would build, without the cgo call and protobuf
// decoding that cost more than binding and applying such a statement. It
// declines anything else, so errors always come from PostgreSQL's parser;
// a differential test and fuzz target compare it with that parser.
//
// parser imports sql/pgerror only.
package parser
