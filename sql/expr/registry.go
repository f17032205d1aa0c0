package expr

import (
	"strings"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Overload is one signature of a scalar function or operator.
type Overload struct {
	Name string
	// Op is the operator symbol for operators ("+", "||", "~~"), empty for
	// functions. Operators are registered under their symbol.
	Op   string
	Args []types.Type
	// Variadic: the last Args entry may repeat any number of times (≥ 0).
	Variadic bool
	Ret      types.Type
	// NonStrict overloads are called with NULL arguments; strict ones
	// (the default) return NULL for any NULL argument without being called.
	NonStrict bool
	// Volatile functions (random(), now() in a view) must not be folded.
	Volatile bool
	// ZoneDependent overloads read the session's TimeZone (PostgreSQL
	// marks them STABLE rather than IMMUTABLE): to_char(timestamptz),
	// date_trunc(text, timestamptz), timestamptz + interval. See
	// DependsOnZone.
	ZoneDependent bool
	// Fn computes the result. args has one element per argument, already
	// converted to the overload's Args types. Fn must not retain args.
	Fn func(ctx *Ctx, args []types.Datum) (types.Datum, error)
}

var functions = map[string][]*Overload{}

// Register adds overloads of a function (or operator) under name.
func Register(name string, ovs ...*Overload) {
	name = strings.ToLower(name)
	for _, o := range ovs {
		if o.Name == "" {
			o.Name = name
		}
		functions[name] = append(functions[name], o)
	}
}

// HasFunction reports whether any overload is registered under name.
func HasFunction(name string) bool { return len(functions[strings.ToLower(name)]) > 0 }

// Resolve picks the overload of name for the given argument types, following
// the spirit of PostgreSQL's rules (§10.2/10.3): an exact match wins; else the
// candidate reachable by implicit casts with the most exact matches, then the
// fewest casts, then preferring float8/text/timestamptz for unknown
// arguments. It returns the overload and the type each argument must be cast
// to. The error is 42883 (undefined function) when nothing matches, or
// 42725 when the choice is ambiguous.
func Resolve(name string, args []types.Type) (*Overload, []types.Type, error) {
	name = strings.ToLower(name)
	cands := functions[name]
	if len(cands) == 0 {
		return nil, nil, undefined(name, args)
	}
	var best *Overload
	var bestTargets []types.Type
	bestScore, ties := -1, 0
	for _, o := range cands {
		targets, ok := matchArgs(o, args)
		if !ok {
			continue
		}
		score := 0
		for i, a := range args {
			switch {
			case a == targets[i]:
				score += 100
			case a == types.Unknown && (targets[i] == types.Text || targets[i] == types.Float8 || targets[i] == types.TimestampTZ):
				score += 10
			case a == types.Unknown:
				score += 5
			case a.Family() == targets[i].Family():
				score += 20 - int(distance(a, targets[i]))
				if targets[i] == types.Float8 {
					score += 5 // float8 is the numeric category's preferred type
				}
			}
		}
		switch {
		case score > bestScore:
			best, bestTargets, bestScore, ties = o, targets, score, 0
		case score == bestScore:
			ties++
		}
	}
	if best == nil {
		return nil, nil, undefined(name, args)
	}
	if ties > 0 && !allKnown(args) {
		// Ambiguity over unknown literals is resolved by registration order,
		// which lists the preferred overload first.
		return best, bestTargets, nil
	}
	return best, bestTargets, nil
}

func allKnown(args []types.Type) bool {
	for _, a := range args {
		if a == types.Unknown {
			return false
		}
	}
	return true
}

// distance is how far an implicit numeric cast widens (for preferring the
// nearest overload).
func distance(from, to types.Type) int {
	rank := func(t types.Type) int {
		switch t {
		case types.Int2:
			return 1
		case types.Int4:
			return 2
		case types.Int8:
			return 3
		case types.Numeric:
			return 4
		case types.Float4:
			return 5
		case types.Float8:
			return 6
		}
		return 0
	}
	d := rank(to) - rank(from)
	if d < 0 {
		d = -d
	}
	return d
}

func matchArgs(o *Overload, args []types.Type) ([]types.Type, bool) {
	n := len(o.Args)
	if o.Variadic {
		if len(args) < n-1 {
			return nil, false
		}
	} else if len(args) != n {
		return nil, false
	}
	targets := make([]types.Type, len(args))
	for i, a := range args {
		want := o.Args[min(i, n-1)]
		if want == types.Unknown { // "any": takes the argument's own type
			want = a
			if want == types.Unknown {
				want = types.Text
			}
		}
		if !types.ImplicitCast(a, want) {
			return nil, false
		}
		targets[i] = want
	}
	return targets, true
}

func undefined(name string, args []types.Type) error {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return &pgerror.Error{
		Code:    pgerror.UndefinedFunction,
		Message: "function " + name + "(" + strings.Join(parts, ", ") + ") does not exist",
		Hint:    "No function matches the given name and argument types. You might need to add explicit type casts.",
	}
}

// Aggregate is one signature of an aggregate function.
type Aggregate struct {
	Name string
	Args []types.Type // types.Unknown means "any type"
	// Ret is the result type; types.Unknown means "the first argument's type"
	// (min, max).
	Ret types.Type
	// New returns an empty accumulator; argTypes are the bound argument types.
	New func(argTypes []types.Type) AggState
}

// AggState accumulates a group's values under retractions. Add is called
// with the aggregate's arguments for each input row and the row's diff
// (+n for insertions, -n for deletions); NULL arguments are passed through
// (the state decides: count(x) skips them, count(*) has no arguments).
// Result returns the aggregate of everything added so far; it is called any
// number of times, and for an empty group must return the SQL value of the
// aggregate over no rows (0 for count, NULL for sum). States are not safe
// for concurrent use and must not retain args.
//
// AppendState and LoadState checkpoint a state (agg_state.go): AppendState
// appends the state as datums to dst and returns it (it may apply buffered
// changes, never change what the state means); LoadState sets an empty
// state, made by the same Aggregate's New (and OrderBy), from exactly the
// datums AppendState appended, and returns an error wrapping
// ErrBadAggState for anything else; it must not retain src (a restore
// reuses it), only the datums it copies out. The loaded state must then
// behave as the saved one under every later Add and Result.
// TestAggregateStatesRoundTrip checks every registered aggregate.
type AggState interface {
	Add(args []types.Datum, diff int64) error
	Result() (types.Datum, error)
	AppendState(dst types.Row) types.Row
	LoadState(src types.Row) error
}

// Ordered is implemented by the states of aggregates whose result depends
// on the order of their input (string_agg). OrderBy is called once, before
// any Add, when the call has an ORDER BY: Add then receives the keys after
// the aggregate's own arguments.
type Ordered interface {
	OrderBy(keys int, desc, nullsFirst []bool)
}

var aggregates = map[string][]*Aggregate{}

// RegisterAggregate adds aggregate overloads under name.
func RegisterAggregate(name string, aggs ...*Aggregate) {
	for _, a := range aggs {
		if a.Name == "" {
			a.Name = name
		}
		aggregates[name] = append(aggregates[name], a)
	}
}

// IsAggregate reports whether name is an aggregate function.
func IsAggregate(name string) bool { return len(aggregates[strings.ToLower(name)]) > 0 }

// ResolveAggregate picks the aggregate overload for the argument types, with
// the same rules as Resolve.
func ResolveAggregate(name string, args []types.Type) (*Aggregate, []types.Type, error) {
	name = strings.ToLower(name)
	var best *Aggregate
	var bestTargets []types.Type
	bestScore := -1
	for _, a := range aggregates[name] {
		o := &Overload{Args: a.Args}
		targets, ok := matchArgs(o, args)
		if !ok {
			continue
		}
		score := 0
		for i := range args {
			if args[i] == targets[i] {
				score += 100
			} else {
				score += 20 - distance(args[i], targets[i])
			}
		}
		if score > bestScore {
			best, bestTargets, bestScore = a, targets, score
		}
	}
	if best == nil {
		return nil, nil, undefined(name, args)
	}
	// The return type of "any"-typed aggregates (min, max) follows the argument.
	return best, bestTargets, nil
}
