package planner

import (
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// UseIndexes turns scans filtered by equalities on all the columns of an
// index into index lookups, for a query that runs once (a materialized
// view reads whole collections: its dataflow sees every later change).
// indexes returns the column sets the collection is indexed on. The filter
// stays above the lookup, so the result does not depend on it.
func UseIndexes(r Rel, indexes func(dataflow.CollectionID) [][]int) Rel {
	memo := map[Rel]Rel{}
	var walk func(r Rel) Rel
	walk = func(r Rel) Rel {
		if done, ok := memo[r]; ok {
			return done
		}
		out := r
		if f, ok := r.(*Filter); ok {
			if s, ok := f.Input.(*Scan); ok && s.LookupCols == nil {
				if lookup := indexLookup(s, f.Pred, indexes(s.ID)); lookup != nil {
					out = &Filter{Input: lookup, Pred: f.Pred}
				}
			}
		}
		if out == r {
			kids := r.children()
			if len(kids) > 0 {
				next := make([]Rel, len(kids))
				changed := false
				for i, k := range kids {
					next[i] = walk(k)
					changed = changed || next[i] != k
				}
				if changed {
					out = withChildren(r, next)
				}
			}
		}
		memo[r] = out
		return out
	}
	return walk(r)
}

// indexLookup returns the scan restricted to an index's key, if pred fixes
// every column of one of the indexes with a constant.
func indexLookup(s *Scan, pred expr.Expr, indexes [][]int) *Scan {
	fixed := map[int]types.Datum{}
	for _, c := range Conjuncts(pred) {
		cmp, ok := c.(*expr.Compare)
		if !ok || cmp.Op != expr.EQ {
			continue
		}
		col, cok := cmp.L.(*expr.Col)
		k, kok := cmp.R.(*expr.Const)
		if !cok || !kok {
			col, cok = cmp.R.(*expr.Col)
			k, kok = cmp.L.(*expr.Const)
		}
		if cok && kok && !k.Val.IsNull() && k.Val.Type().Family() == s.Typs[col.Idx].Family() {
			fixed[col.Idx] = k.Val
		}
	}
	for _, cols := range indexes {
		key := make(types.Row, 0, len(cols))
		for _, c := range cols {
			v, ok := fixed[c]
			if !ok {
				break
			}
			key = append(key, v)
		}
		if len(key) == len(cols) && len(cols) > 0 {
			return &Scan{ID: s.ID, Name: s.Name, Typs: s.Typs, LookupCols: cols, Lookup: key}
		}
	}
	return nil
}
