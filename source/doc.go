// Package source holds Tributary's source connectors: what CREATE SOURCE
// reads from. FROM KAFKA (kafka.go, one topic read directly, FORMAT TEXT,
// BYTES or JSON, ENVELOPE NONE or UPSERT), FROM POSTGRES (postgres.go,
// change data capture of one table through a pgoutput replication slot,
// its changes upserts by the source's PRIMARY KEY), FROM WEBHOOK
// (webhook.go, with the HTTP handler serve mounts) and FROM LOAD GENERATOR
// COUNTER (loadgen.go) are supported.
//
// A connector produces batches of changes, each with the position it brings
// the source to (opaque bytes only the connector reads; each connector
// documents its encoding next to its code, see kafkaPosition). The SQL
// layer (sql/source.go) makes each batch durable in the event log together
// with that position, in one atomic write, and restarts the connector from
// the latest durable position after a restart or a crash: every event is in
// the log exactly once. A connector therefore keeps no offsets anywhere
// else: the Kafka connector commits nothing to Kafka, and the POSTGRES
// connector acknowledges to its slot only what the log holds.
//
// This package must not import the sql package (it imports only sql/types
// and sql/pgerror for values and errors).
package source
