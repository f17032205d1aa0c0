package source

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

func counterSpec(opts map[string]string) Spec {
	return Spec{Connector: "load generator", Generator: "counter", Options: NewOptions(opts)}
}

// run collects what a counter emits from position until it finishes.
func run(t *testing.T, c Connector, position []byte) (values map[int64]int64, last []byte) {
	t.Helper()
	values = map[int64]int64{}
	err := c.Run(context.Background(), position, func(_ context.Context, b Batch) error {
		for _, ch := range b.Changes {
			values[ch.Row[0].Int()] += ch.Diff
		}
		last = b.Position
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return values, last
}

func TestCounter(t *testing.T) {
	c, err := New(counterSpec(map[string]string{"tick_interval": "1ms", "batch_size": "7", "up_to": "30"}))
	if err != nil {
		t.Fatal(err)
	}
	values, last := run(t, c, nil)
	if len(values) != 30 || values[1] != 1 || values[30] != 1 || c.Describe(last) != "counter 30" {
		t.Fatalf("values %v, position %s", values, c.Describe(last))
	}
	// Resuming from a position continues after it, and a finished counter
	// emits nothing.
	resumed, _ := run(t, c, []byte{10})
	if len(resumed) != 20 || resumed[10] != 0 || resumed[11] != 1 {
		t.Fatalf("resumed after 10: %v", resumed)
	}
	if done, _ := run(t, c, last); len(done) != 0 {
		t.Fatalf("a finished counter emitted %v", done)
	}

	// max_cardinality keeps the latest values only.
	c, err = New(counterSpec(map[string]string{"tick_interval": "1", "batch_size": "4", "up_to": "10", "max_cardinality": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	values, _ = run(t, c, nil)
	var live []int64
	for v, n := range values {
		if n < 0 || n > 1 {
			t.Fatalf("value %d has multiplicity %d", v, n)
		}
		if n == 1 {
			live = append(live, v)
		}
	}
	slices.Sort(live)
	if !slices.Equal(live, []int64{8, 9, 10}) {
		t.Fatalf("live values %v, want [8 9 10]", live)
	}

	// Emit's error stops the connector with it.
	boom := errors.New("log failed")
	c, _ = New(counterSpec(map[string]string{"tick_interval": "1ms"}))
	if err := c.Run(context.Background(), nil, func(context.Context, Batch) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run after a failed emit: %v", err)
	}
}

func TestSourceSpecErrors(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		code pgerror.Code
		msg  string
	}{
		{counterSpec(map[string]string{"tick": "1s"}), pgerror.InvalidParameterValue, `unrecognized option "tick"`},
		{counterSpec(map[string]string{"tick_interval": "soon"}), pgerror.InvalidParameterValue, "tick_interval"},
		{counterSpec(map[string]string{"batch_size": "0"}), pgerror.InvalidParameterValue, "at least 1"},
		{counterSpec(map[string]string{"tick_interval": "10us"}), pgerror.InvalidParameterValue, "at least 1ms"},
		{counterSpec(map[string]string{"up_to": "-1"}), pgerror.InvalidParameterValue, "non-negative"},
		{Spec{Connector: "load generator", Generator: "tpch", Options: NewOptions(nil)}, pgerror.FeatureNotSupported, "TPCH"},
		{Spec{Connector: "load generator", Generator: "counter", Format: "json", Options: NewOptions(nil)}, pgerror.FeatureNotSupported, "FORMAT"},
		{Spec{Connector: "load generator", Generator: "counter", Columns: []Column{}, Options: NewOptions(nil)}, pgerror.InvalidTableDefinition, "own columns"},
		{Spec{Connector: "postgres", Options: NewOptions(nil)}, pgerror.InvalidParameterValue, "needs the option connection"},
		{Spec{Connector: "postgres", Format: "json", Columns: []Column{{Name: "x", Type: types.Int4}}, Key: []int{0}, Options: NewOptions(map[string]string{"connection": "postgres://h/d", "table": "t", "publication": "p", "slot": "s"})}, pgerror.SyntaxError, "takes no FORMAT"},
	} {
		_, err := New(c.spec)
		if pgerror.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %s with %q", c.spec, err, c.code, c.msg)
		}
	}
}
