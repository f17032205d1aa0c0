package source

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Column is one column a connector gives its source.
type Column struct {
	Name string
	Type types.Type
	// NotNull: the connector never emits a NULL in this column (a Kafka
	// source skips and counts a message that would be one).
	NotNull bool
}

// Change is one row of a batch with its multiplicity change.
//
// For a keyed source (Spec.Key set: ENVELOPE UPSERT) a change is an upsert
// instead, applied in the batch's order: Diff 1 makes Row the row of its
// key (replacing the key's row, if any), Diff -1 deletes the row of the
// key Row holds (its other columns are ignored). The engine finds the
// key's current row, which the connector does not know after a restart.
type Change struct {
	Row  types.Row
	Diff int64
}

// Batch is what a connector emits at once: its changes are applied at one
// timestamp, atomically with Position, the position they bring the source
// to. Changes may be empty (the position still moves).
type Batch struct {
	Changes  []Change
	Position []byte
	// Truncate: every row of the source is deleted before Changes apply
	// (an upstream TRUNCATE of a POSTGRES source's table).
	Truncate bool
	// FailFast: while the disk is full, Emit returns the error (SQLSTATE
	// 53100, nothing written) instead of waiting for space; for a
	// connector whose senders wait for an answer (a webhook's).
	FailFast bool
}

// Emit hands a batch to the engine. It returns nil once the batch and its
// position are durable and visible to reads; an error means the source must
// stop (the engine is shutting down, the source was dropped, or the log
// failed), and the batch may or may not be in the log: a restarted
// connector learns which from the position it is given. The connector must
// not change a batch's rows after emitting it.
type Emit func(ctx context.Context, b Batch) error

// Connector runs one source.
type Connector interface {
	// Columns are the source's columns.
	Columns() []Column
	// Run reads from just after position (nil: from the beginning) and
	// emits batches in order until ctx is done (it returns ctx.Err()), the
	// source has nothing more to read (nil), emit fails (that error), or
	// it fails itself.
	Run(ctx context.Context, position []byte, emit Emit) error
	// Describe prints a position for people (tb_catalog.sources).
	Describe(position []byte) string
}

// MalformedCounter is a Connector that skips the events it cannot turn
// into rows and counts them in its position: Malformed reports how many a
// position has skipped and the last one's error ("" if none).
type MalformedCounter interface {
	Malformed(position []byte) (count int64, last string)
}

// Spec is a CREATE SOURCE's connector part.
type Spec struct {
	// Connector is "kafka", "postgres", "webhook" or "load generator";
	// Generator the load generator's kind.
	Connector, Generator string
	// Format and Envelope are "" when not given.
	Format, Envelope string
	// Columns are the statement's column list (nil: none given).
	Columns []Column
	// Key is the column list's PRIMARY KEY, as indexes into Columns (nil:
	// none). Only ENVELOPE UPSERT takes one: the source is then keyed.
	Key []int
	// Options are the WITH options the connector reads, by lower-case name.
	Options Options
}

// New returns the connector spec describes, or an error with the SQLSTATE
// a client should see (0A000 for what is not supported, 22023 for a bad
// option, 42601 for a clause that does not belong).
func New(spec Spec) (Connector, error) {
	switch spec.Connector {
	case "load generator":
		return newLoadGenerator(spec)
	case "kafka":
		return newKafka(spec)
	case "webhook":
		return newWebhook(spec)
	case "postgres":
		return newPostgres(spec)
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "unknown source connector %q", spec.Connector)
}

// Options are a source's WITH options as written (values in their text
// form). A connector reads the ones it knows and calls Done, which refuses
// the rest.
type Options struct {
	values map[string]string
	used   map[string]bool
}

// NewOptions returns the options of values (by lower-case name).
func NewOptions(values map[string]string) Options {
	return Options{values: values, used: map[string]bool{}}
}

func (o Options) get(name string) (string, bool) {
	v, ok := o.values[name]
	o.used[name] = true
	return v, ok
}

// Int reads a non-negative integer option; def when absent.
func (o Options) Int(name string, def int64) (int64, error) {
	v, ok := o.get(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid value for option %q: %q (want a non-negative integer)", name, v)
	}
	return n, nil
}

// Duration reads a positive interval option ('10ms', '1 second', or a
// number of milliseconds); def when absent.
func (o Options) Duration(name string, def time.Duration) (time.Duration, error) {
	v, ok := o.get(name)
	if !ok {
		return def, nil
	}
	text := strings.TrimSpace(v)
	if _, err := strconv.ParseInt(text, 10, 64); err == nil {
		text += " ms"
	}
	iv, err := types.ParseInterval(text)
	d := iv.Duration()
	if err != nil || d <= 0 {
		return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid value for option %q: %q (want a positive interval such as '10ms')", name, v)
	}
	return d, nil
}

// Done refuses the options no connector read.
func (o Options) Done(connector string) error {
	var unknown []string
	for name := range o.values {
		if !o.used[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return pgerror.New(pgerror.InvalidParameterValue, "unrecognized option %q for a %s source", unknown[0], connector)
}
