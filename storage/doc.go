// Package storage is the event log: the durable, ordered record of every
// change to every table and source, and of the catalog's DDL history. It is
// the source of truth; every view is a deterministic function of it.
//
// The Log interface is append-only and ordered by timestamp. Append returns
// only once the batch is durable (for the in-memory log: immediately);
// Enqueue and WaitDurable split it in two, so a coordinator can queue under
// its lock and wait for the shared sync (group commit) after releasing it.
// Restart replays the catalog, then each collection's updates in order.
//
// PebbleLog also keeps checkpoints (the Checkpoints interface,
// checkpoint.go): the contents of the tables at one time, written in chunks
// and made current by one synced manifest, so that a restart reads them and
// only the log after them (ReplayAfter). The on-disk layout of everything is
// in format.md.
//
// storage imports sql/types only.
package storage
