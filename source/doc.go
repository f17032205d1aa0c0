// Package source holds Tributary's source connectors: what CREATE SOURCE
// reads from (a load generator today; Kafka, PostgreSQL CDC and webhooks
// are declared by the grammar and refused as not supported yet).
//
// A connector produces batches of changes, each with the position it brings
// the source to (opaque bytes only the connector reads). The SQL layer
// (sql/source.go) makes each batch durable in the event log together with
// that position, in one atomic write, and restarts the connector from the
// latest durable position after a restart or a crash: every event is in
// the log exactly once.
package source
