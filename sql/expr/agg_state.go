package expr

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/types"
)

// Checkpoints of aggregate states (AggState.AppendState, LoadState). A
// state is written as plain datums — counts as int8, exact sums as numeric,
// the items of a multiset as their key datums and count — so that the one
// binary encoding of datums (package storage) is the only byte format
// involved. The layout of each state is private to its type. A change of
// layout needs no version bump: AggStateProbe, part of every dataflow's
// fingerprint, changes with it, so a checkpoint of the old layout is
// recomputed instead of loaded.

// AggStateProbe is a hash of the saved states of every registered
// aggregate overload after a few fixed inputs: it changes whenever the
// datums some AppendState writes do.
func AggStateProbe() []byte {
	aggProbeOnce.Do(func() { aggProbe = computeAggStateProbe() })
	return aggProbe
}

var (
	aggProbeOnce sync.Once
	aggProbe     []byte
)

// probeValues are the inputs of AggStateProbe, by type.
var probeValues = map[types.Type][]types.Datum{
	types.Int2:     {types.NewInt(types.Int2, 3), types.NewInt(types.Int2, -1)},
	types.Int4:     {types.NewInt4(3), types.NewInt4(-1)},
	types.Int8:     {types.NewInt8(3), types.NewInt8(-1)},
	types.Float4:   {types.NewFloat(types.Float4, 2.5), types.NewFloat(types.Float4, -1)},
	types.Float8:   {types.NewFloat8(2.5), types.NewFloat8(-1)},
	types.Numeric:  {types.NewNumeric(apd.New(150, -2)), types.NewNumeric(apd.New(-1, 0))},
	types.Interval: {types.NewInterval(types.IntervalValue{Days: 1}), types.NewInterval(types.IntervalValue{Micros: -5})},
	types.Bool:     {types.NewBool(true), types.NewBool(false)},
	types.Text:     {types.NewText("b"), types.NewText("a")},
	types.Unknown:  {types.NewInt4(3), types.NewInt4(-1)}, // "any"
}

// aggregateNames returns the registered aggregates' names, sorted.
func aggregateNames() []string {
	names := make([]string, 0, len(aggregates))
	for name := range aggregates {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func computeAggStateProbe() []byte {
	h := sha256.New()
	for _, name := range aggregateNames() {
		for _, a := range aggregates[name] {
			args := make([]types.Type, len(a.Args))
			for i, t := range a.Args {
				args[i] = t
				if t == types.Unknown {
					args[i] = types.Int4
				}
			}
			s := a.New(args)
			for v := 0; v < 2; v++ {
				row := make([]types.Datum, len(a.Args))
				for i, t := range a.Args {
					if vals := probeValues[t]; len(vals) > 0 {
						row[i] = vals[v]
					} else {
						row[i] = types.Null(t)
					}
				}
				_ = s.Add(row, 1)
			}
			fmt.Fprintf(h, "%s(%v):", name, args)
			for _, d := range s.AppendState(nil) {
				if d.IsNull() {
					fmt.Fprintf(h, " NULL::%s", d.Type())
				} else {
					fmt.Fprintf(h, " %s::%s", types.FormatText(d), d.Type())
				}
			}
			h.Write([]byte("\n"))
		}
	}
	return h.Sum(nil)
}

// ErrBadAggState is returned by LoadState for datums that are not a state
// of that aggregate: corruption, or a checkpoint of another binary.
var ErrBadAggState = errors.New("malformed aggregate state")

// stateCursor reads datums of a saved state one at a time; the first
// mismatch is kept in err and every later read returns zero values.
type stateCursor struct {
	src types.Row
	err error
}

func (c *stateCursor) next(t types.Type, what string) types.Datum {
	if c.err != nil {
		return types.Datum{}
	}
	if len(c.src) == 0 {
		c.err = fmt.Errorf("%w: %s missing", ErrBadAggState, what)
		return types.Datum{}
	}
	d := c.src[0]
	if t != types.Unknown && (d.Type() != t || d.IsNull()) {
		c.err = fmt.Errorf("%w: %s is %s, want a %s", ErrBadAggState, what, d.Type(), t)
		return types.Datum{}
	}
	c.src = c.src[1:]
	return d
}

func (c *stateCursor) int(what string) int64 { return c.next(types.Int8, what).Int() }
func (c *stateCursor) bool(what string) bool { return c.next(types.Bool, what).Bool() }

// done checks that every datum was consumed.
func (c *stateCursor) done() error {
	if c.err == nil && len(c.src) > 0 {
		c.err = fmt.Errorf("%w: %d datums left over", ErrBadAggState, len(c.src))
	}
	return c.err
}

func (s *countState) AppendState(dst types.Row) types.Row { return append(dst, types.NewInt8(s.n)) }

func (s *countState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	s.n = c.int("count")
	return c.done()
}

// appendState writes the sum's counters, its exact decimal and the
// multiset of input scales (sorted, so equal states give equal datums).
func (s *exactSum) appendState(dst types.Row) types.Row {
	sum := s.sum // NewNumeric keeps its pointer
	dst = append(dst, types.NewNumeric(&sum), types.NewInt8(s.n), types.NewInt8(s.nan),
		types.NewInt8(s.pinf), types.NewInt8(s.ninf), types.NewBool(s.floatIn), types.NewInt8(int64(len(s.scales))))
	exps := make([]int32, 0, len(s.scales))
	for e := range s.scales {
		exps = append(exps, e)
	}
	slices.Sort(exps)
	for _, e := range exps {
		dst = append(dst, types.NewInt8(int64(e)), types.NewInt8(s.scales[e]))
	}
	return dst
}

func (s *exactSum) loadState(c *stateCursor) {
	d := c.next(types.Numeric, "sum")
	if c.err == nil {
		s.sum.Set(d.Decimal())
		if s.sum.Form != apd.Finite {
			c.err = fmt.Errorf("%w: the exact sum is not finite", ErrBadAggState)
		}
	}
	s.n, s.nan, s.pinf, s.ninf = c.int("count"), c.int("NaN count"), c.int("+Infinity count"), c.int("-Infinity count")
	s.floatIn = c.bool("float input")
	n := c.int("scales")
	if c.err == nil && (n < 0 || n > int64(len(c.src))) {
		c.err = fmt.Errorf("%w: bad number of scales", ErrBadAggState)
	}
	s.scales = nil
	for i := int64(0); i < n && c.err == nil; i++ {
		if s.scales == nil {
			s.scales = map[int32]int64{}
		}
		e, k := c.int("scale"), c.int("scale count")
		s.scales[int32(e)] = k
	}
}

func (s *sumState) AppendState(dst types.Row) types.Row {
	dst = s.num.appendState(dst)
	return append(dst, types.NewInt8(s.months), types.NewInt8(s.days), types.NewInt8(s.micros))
}

func (s *sumState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	s.num.loadState(&c)
	s.months, s.days, s.micros = c.int("months"), c.int("days"), c.int("micros")
	return c.done()
}

// appendState writes the multiset's items in order (pending changes are
// applied first: reading it does that anyway), each as its key's datums
// followed by its count; every key has width datums.
func (m *multiset) appendState(dst types.Row, width int) types.Row {
	m.flush()
	dst = append(dst, types.NewInt8(int64(m.items)))
	if len(m.ichunks) > 0 {
		dst = slices.Grow(dst, 2*m.items)
		for _, c := range m.ichunks {
			for _, x := range c {
				dst = append(dst, types.NewInt(m.intType, x.v), types.NewInt8(x.n))
			}
		}
		return dst
	}
	m.ascend(func(it *msItem) bool {
		if len(it.key) != width {
			panic(fmt.Sprintf("expr: multiset key of %d datums, want %d", len(it.key), width))
		}
		dst = append(dst, it.key...)
		dst = append(dst, types.NewInt8(it.n))
		return true
	})
	return dst
}

// loadState adds the items appendState wrote to the (empty) multiset.
func (m *multiset) loadState(c *stateCursor, width int) {
	n := c.int("items")
	if c.err == nil && (n < 0 || n > int64(len(c.src)) || n*int64(width+1) > int64(len(c.src))) {
		c.err = fmt.Errorf("%w: bad number of items", ErrBadAggState)
	}
	if c.err == nil && n > 0 && m.byDatum && len(m.ints) == 0 && !c.src[0].IsNull() && c.src[0].Type().IsInteger() {
		m.ints = make([]msInt, 0, n) // integer keys (add) arrive at once
	}
	for i := int64(0); i < n && c.err == nil; i++ {
		key := c.src[:width]
		c.src = c.src[width:]
		if cnt := c.int("item count"); c.err == nil {
			if cnt == 0 {
				c.err = fmt.Errorf("%w: an item with count 0", ErrBadAggState)
			}
			m.add(key, cnt)
		}
	}
	// Applied now, in the order they were written (sorted), the items
	// become the multiset's ordered base; left pending, the first change
	// after a restart would sort them together with its own.
	m.flush()
	// The pending buffers held the whole state (flushInts keeps one up to
	// four times the items): a restored min/max over 1M rows kept 36 MB
	// of them. Changes after the restart grow their own.
	m.ints, m.pending, m.keyBuf = nil, nil, nil
}

func (s *minMaxState) AppendState(dst types.Row) types.Row {
	// The NULL carries the result type, which the first Add may have set.
	return s.set.appendState(append(dst, types.Null(s.typ)), 1)
}

func (s *minMaxState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	if d := c.next(types.Unknown, "result type"); c.err == nil {
		if !d.IsNull() {
			c.err = fmt.Errorf("%w: result type is not a NULL", ErrBadAggState)
		}
		s.typ = d.Type()
	}
	s.set.loadState(&c, 1)
	return c.done()
}

func (s *boolState) AppendState(dst types.Row) types.Row {
	return append(dst, types.NewInt8(s.trues), types.NewInt8(s.falses))
}

func (s *boolState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	s.trues, s.falses = c.int("trues"), c.int("falses")
	return c.done()
}

func (s *stringAggState) AppendState(dst types.Row) types.Row {
	return s.set.appendState(dst, s.keys+2)
}

func (s *stringAggState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	s.set.loadState(&c, s.keys+2)
	return c.done()
}

func (s *varianceState) AppendState(dst types.Row) types.Row {
	return s.sum2.appendState(s.sum.appendState(dst))
}

func (s *varianceState) LoadState(src types.Row) error {
	c := stateCursor{src: src}
	s.sum.loadState(&c)
	s.sum2.loadState(&c)
	return c.done()
}
