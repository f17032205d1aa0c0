package sql

import (
	"time"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/planner"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Temporal filters and the timestamp ticker.
//
// A materialized view may compare mz_now() (or now() / current_timestamp,
// which mean the same there) with an expression of the row's columns in a
// WHERE conjunct: WHERE ts + INTERVAL '5 minutes' > mz_now(). Such a
// conjunct becomes a dataflow.TemporalFilter, which derives each row's
// validity interval in system time and schedules its insertion and
// retraction; the view then holds exactly the rows whose conjuncts are true
// at the view's timestamp. Every other use of a volatile function in a view
// is refused: its value would depend on when each row happened to be
// processed.
//
// Time moves without writes: the ticker (EngineOptions.TickInterval, Tick)
// advances the timestamp oracle and steps the views that have a change due
// (dataflow.Dataflow.NextDue) with an empty input change. Ticks are not
// logged: on restart, the replay steps views at each logged time, releasing
// what was due by then, and a tick at the end brings them to the present —
// the contents at any timestamp are a function of the data and that
// timestamp alone, so they come out the same.

// nowFunctions are the functions that read the statement's time; in a
// materialized view's WHERE they all mean the view's timestamp.
var nowFunctions = map[string]bool{"mz_now": true, "now": true, "current_timestamp": true,
	"transaction_timestamp": true, "statement_timestamp": true}

// isNowCall reports whether e is a call of a now function, possibly cast
// to timestamp or timestamptz.
func isNowCall(e expr.Expr) bool {
	if c, ok := e.(*expr.Cast); ok && (c.To == types.Timestamp || c.To == types.TimestampTZ) {
		e = c.Arg
	}
	c, ok := e.(*expr.Call)
	return ok && len(c.Args) == 0 && nowFunctions[c.Fn.Name]
}

func volatileCall(e expr.Expr) string {
	name := ""
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.Call); ok && c.Fn.Volatile {
			name = c.Fn.Name
		}
		return name == ""
	})
	return name
}

// timeBound reads a conjunct "mz_now() op x" or "x op mz_now()" whose x
// reads only the row; ok is false for any other form.
func timeBound(e expr.Expr) (dataflow.TimeBound, bool) {
	c, ok := e.(*expr.Compare)
	if !ok {
		return dataflow.TimeBound{}, false
	}
	flip := map[expr.CmpOp]expr.CmpOp{expr.LT: expr.GT, expr.LE: expr.GE, expr.GT: expr.LT, expr.GE: expr.LE, expr.EQ: expr.EQ}
	if _, ok := flip[c.Op]; !ok {
		return dataflow.TimeBound{}, false
	}
	op, other := c.Op, c.R
	switch {
	case isNowCall(c.L) && !isNowCall(c.R):
	case isNowCall(c.R) && !isNowCall(c.L):
		op, other = flip[c.Op], c.L
	default:
		return dataflow.TimeBound{}, false
	}
	if volatileCall(other) != "" {
		return dataflow.TimeBound{}, false
	}
	if t := other.Type(); t != types.Timestamp && t != types.TimestampTZ {
		return dataflow.TimeBound{}, false
	}
	return dataflow.TimeBound{Op: op, Expr: other}, true
}

// maintainablePlan turns a materialized view's plan into one that can be
// kept equal to its definition: the temporal-filter conjuncts of its
// filters become TemporalFilters, and any other volatile function is
// refused (0A000).
func maintainablePlan(plan dataflow.Plan) (dataflow.Plan, error) {
	var err error
	plan = dataflow.Rewrite(plan, func(p dataflow.Plan) dataflow.Plan {
		f, ok := p.(*dataflow.Filter)
		if !ok || err != nil || volatileCall(f.Pred) == "" {
			return p
		}
		var rest []expr.Expr
		var bounds []dataflow.TimeBound
		for _, c := range planner.Conjuncts(f.Pred) {
			if name := volatileCall(c); name != "" {
				b, ok := timeBound(c)
				if !ok {
					if nowFunctions[name] {
						err = temporalFormError(name)
					}
					rest = append(rest, c)
					continue
				}
				bounds = append(bounds, b)
				continue
			}
			rest = append(rest, c)
		}
		if len(bounds) == 0 {
			return p
		}
		var in dataflow.Plan = f.Input
		if len(rest) > 0 {
			in = &dataflow.Filter{Input: in, Pred: planner.AndOf(rest)}
		}
		return &dataflow.TemporalFilter{Input: in, Bounds: bounds}
	})
	if err != nil {
		return nil, err
	}
	for _, x := range dataflow.Exprs(plan) {
		if name := volatileCall(x); name != "" {
			if nowFunctions[name] {
				return nil, temporalFormError(name)
			}
			return nil, pgerror.New(pgerror.FeatureNotSupported, "materialized views cannot use %s(): its value changes with every evaluation, so the view could not stay equal to its definition", name)
		}
	}
	return plan, nil
}

func temporalFormError(name string) error {
	return &pgerror.Error{Code: pgerror.FeatureNotSupported,
		Message: "materialized views can use " + name + "() only in a temporal filter: a WHERE conjunct comparing it with an expression of the row's columns",
		Detail:  "Elsewhere (the select list, an OR, arithmetic on " + name + "() itself) its value would depend on when each row happened to be processed.",
		Hint:    "Write for example WHERE ts + INTERVAL '5 minutes' > mz_now(), or mz_now() BETWEEN ts AND ts + INTERVAL '1 hour'."}
}

// systemMicros converts a system timestamp (ms since the Unix epoch) to the
// micros since 2000 that expressions compare.
func systemMicros(t uint64) int64 { return types.TimeToMicros(time.UnixMilli(int64(t))) }

// viewStepCtxLocked is the evaluation context of a view step at the
// current timestamp. REQUIRES: mu held.
func (e *Engine) viewStepCtxLocked() *expr.Ctx {
	us := systemMicros(e.mu.lastTime)
	return &expr.Ctx{Now: us, Timestamp: us, Location: time.UTC}
}

// viewDueLocked reports whether a view has a temporal change due at the
// current timestamp. REQUIRES: mu held.
func (e *Engine) viewDueLocked(mv *Object) bool {
	at, ok := mv.Flow.NextDue()
	return ok && at <= systemMicros(e.mu.lastTime)
}

// Tick advances the timeline to the clock's time and steps every view that
// has a temporal change due by then. The ticker calls it every
// TickInterval; tests with their own clock call it instead.
func (e *Engine) Tick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gate.owned() {
		// A transaction block's uncommitted DDL is in the catalog
		// (txddl.go): a step now could show it to subscriptions. The
		// block's COMMIT or ROLLBACK steps.
		return
	}
	e.nextTimeLocked()
	e.stepViewsLocked(map[dataflow.CollectionID][]dataflow.Update{})
}

// runTicker ticks every interval until stop is closed.
func (e *Engine) runTicker(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			e.Tick()
		}
	}
}
