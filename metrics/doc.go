// Package metrics serves a Tributary server's operational state over HTTP:
// Prometheus metrics on /metrics, liveness on /healthz and readiness, with
// the restore's progress, on /readyz (docs/operations.md lists them all).
//
// It is started before the engine restores its log, so a long restart can
// be watched: until SetEngine is called the restore metrics come from the
// sql.RestoreProgress the engine is filling, and /readyz answers 503.
//
// Collection is cheap for the database: the write and statement paths only
// bump atomic counters in package sql (and the log's commit goroutine
// observes one histogram sample per sync); everything else is read when
// Prometheus scrapes, under the engine's read lock, at a cost proportional
// to the number of tables and views, never to the number of rows.
package metrics
