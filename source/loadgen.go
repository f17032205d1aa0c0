package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// newLoadGenerator returns a LOAD GENERATOR kind's connector.
func newLoadGenerator(spec Spec) (Connector, error) {
	if spec.Columns != nil {
		return nil, pgerror.New(pgerror.InvalidTableDefinition, "a LOAD GENERATOR source has its own columns; remove the column list")
	}
	if spec.Format != "" || spec.Envelope != "" {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "a LOAD GENERATOR source takes no FORMAT or ENVELOPE")
	}
	switch spec.Generator {
	case "counter":
		return newCounter(spec.Options)
	}
	return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported, Message: fmt.Sprintf("LOAD GENERATOR %s is not supported", strings.ToUpper(spec.Generator)),
		Hint: "LOAD GENERATOR COUNTER is supported."}
}

// counter is LOAD GENERATOR COUNTER: a column counter bigint taking the
// values 1, 2, 3, … — batch_size of them every tick_interval (default 1 and
// one second), up to up_to if given (then the source is finished). With
// max_cardinality = N only the latest N values are present: each batch also
// retracts the values that fell out. Its position is the last value
// emitted, as a uvarint (none: 0).
type counter struct {
	tick                        time.Duration
	batch, upTo, maxCardinality int64
}

func newCounter(o Options) (*counter, error) {
	c := &counter{}
	var err error
	if c.tick, err = o.Duration("tick_interval", time.Second); err != nil {
		return nil, err
	}
	if c.tick < time.Millisecond {
		// Each tick is a durable write under the coordinator's lock.
		return nil, pgerror.New(pgerror.InvalidParameterValue, "option \"tick_interval\" must be at least 1ms")
	}
	if c.batch, err = o.Int("batch_size", 1); err != nil {
		return nil, err
	}
	if c.batch == 0 {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "option \"batch_size\" must be at least 1")
	}
	if c.upTo, err = o.Int("up_to", 0); err != nil {
		return nil, err
	}
	if c.maxCardinality, err = o.Int("max_cardinality", 0); err != nil {
		return nil, err
	}
	return c, o.Done("LOAD GENERATOR COUNTER")
}

func (c *counter) Columns() []Column { return []Column{{Name: "counter", Type: types.Int8}} }

func (c *counter) Describe(position []byte) string {
	last, _ := binary.Uvarint(position)
	return "counter " + strconv.FormatUint(last, 10)
}

func (c *counter) Run(ctx context.Context, position []byte, emit Emit) error {
	var last int64
	if position != nil {
		v, n := binary.Uvarint(position)
		if n <= 0 {
			return fmt.Errorf("LOAD GENERATOR COUNTER: bad position %x", position)
		}
		last = int64(v)
	}
	ticker := time.NewTicker(c.tick)
	defer ticker.Stop()
	for {
		if c.upTo > 0 && last >= c.upTo {
			return nil
		}
		b := c.next(last)
		if err := emit(ctx, b); err != nil {
			return err
		}
		last, _ = lastOf(b.Position)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// next is the batch after the value last: the next batch_size values (up
// to up_to) and, with max_cardinality, the retractions of the values that
// fall out.
func (c *counter) next(last int64) Batch {
	hi := last + c.batch
	if c.upTo > 0 {
		hi = min(hi, c.upTo)
	}
	b := Batch{Changes: make([]Change, 0, hi-last), Position: binary.AppendUvarint(nil, uint64(hi))}
	for v := last + 1; v <= hi; v++ {
		b.Changes = append(b.Changes, Change{Row: types.Row{types.NewInt8(v)}, Diff: 1})
		if c.maxCardinality > 0 && v-c.maxCardinality >= 1 {
			b.Changes = append(b.Changes, Change{Row: types.Row{types.NewInt8(v - c.maxCardinality)}, Diff: -1})
		}
	}
	return b
}

func lastOf(position []byte) (int64, bool) {
	v, n := binary.Uvarint(position)
	return int64(v), n > 0
}
