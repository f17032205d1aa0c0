// Package sql owns statements end to end: sessions (the interface pgwire
// drives, in session_api.go), the binder that turns PostgreSQL's parse trees
// into logical plans (bind_*.go), the catalog of tables, views, materialized
// views and indexes, and the coordinator that puts every write and every
// read on one timeline (session.go, write.go, ddl.go).
//
// Invariants:
//   - Engine.mu orders everything: writes and DDL hold it exclusively from
//     the moment they read until the log append, the table update and the
//     step of every materialized view are done; reads share it. So a read
//     sees every acknowledged write and never part of one.
//   - A materialized view's contents equal its definition evaluated over its
//     inputs' contents after every write, or it holds the error that
//     evaluation raises (Object.Err) until the data allows it again.
//   - Every error returned to a session carries a SQLSTATE (package pgerror);
//     a panic while executing a statement becomes an XX000 error for that
//     statement and is logged.
//
// Subqueries are decorrelated here, at bind time (see docs/architecture.md):
// no plan ever runs a subquery per row.
//
// sql imports planner, dataflow, storage and its leaf packages (sql/types,
// sql/expr, sql/pgerror, sql/parser); it never imports pgwire.
package sql
