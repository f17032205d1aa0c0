package planner

import (
	"github.com/tributary-db/tributary/sql/expr"
)

// reorderJoins rewrites every tree of inner joins (with the filters over
// them) into a left-deep join whose order follows the equality predicates:
// it starts from the input with the most single-input predicates and then
// repeatedly adds an input connected to those already joined by an
// equality, falling back to a cross join only when none is. The FROM order
// of a many-way comma join (t43, t22, t5, ... in the SQLite corpus's
// select5) would otherwise build cross products.
//
// The rewritten join projects its columns back into the original order, so
// nothing above it changes.
func (o *optimizer) reorderJoins(r Rel) Rel {
	if done, ok := o.reordered[r]; ok {
		return done
	}
	out := o.reorderNode(r)
	o.reordered[r] = out
	return out
}

func (o *optimizer) reorderNode(r Rel) Rel {
	switch r.(type) {
	case *Join, *Filter:
		if leaves, preds, ok := flattenInner(r); ok && len(leaves) > 2 {
			for i := range leaves {
				leaves[i].rel = o.reorderJoins(leaves[i].rel)
			}
			return buildOrdered(leaves, preds)
		}
	}
	kids := r.children()
	if len(kids) == 0 {
		return r
	}
	out := make([]Rel, len(kids))
	for i, k := range kids {
		out[i] = o.reorderJoins(k)
	}
	return withChildren(r, out)
}

type leaf struct {
	rel    Rel
	offset int // first column in the original concatenation
	width  int
}

// flattenInner collects the inputs and predicates of a tree of inner joins
// and filters. Predicates are over the concatenation of the inputs in their
// original order.
func flattenInner(r Rel) ([]leaf, []expr.Expr, bool) {
	var leaves []leaf
	var preds []expr.Expr
	var walk func(r Rel, offset int) int
	walk = func(r Rel, offset int) int {
		switch x := r.(type) {
		case *Join:
			if x.Kind == InnerJoin {
				nl := walk(x.Left, offset)
				nr := walk(x.Right, offset+nl)
				for _, p := range Conjuncts(x.On) {
					preds = append(preds, shift(p, offset))
				}
				return nl + nr
			}
		case *Filter:
			if j, ok := x.Input.(*Join); ok && j.Kind == InnerJoin {
				n := walk(x.Input, offset)
				for _, p := range Conjuncts(x.Pred) {
					preds = append(preds, shift(p, offset))
				}
				return n
			}
		}
		w := len(r.Types())
		leaves = append(leaves, leaf{rel: r, offset: offset, width: w})
		return w
	}
	walk(r, 0)
	return leaves, preds, len(leaves) > 0
}

func leafOf(leaves []leaf, col int) int {
	for i, l := range leaves {
		if col >= l.offset && col < l.offset+l.width {
			return i
		}
	}
	return -1
}

func buildOrdered(leaves []leaf, preds []expr.Expr) Rel {
	// Which leaves each predicate reads.
	reads := make([]map[int]bool, len(preds))
	local := make([]int, len(leaves))
	for i, p := range preds {
		reads[i] = map[int]bool{}
		for c := range expr.Columns(p) {
			reads[i][leafOf(leaves, c)] = true
		}
		if len(reads[i]) == 1 {
			for l := range reads[i] {
				local[l]++
			}
		}
	}
	start := 0
	for i := range leaves {
		if local[i] > local[start] {
			start = i
		}
	}
	chosen := map[int]bool{start: true}
	order := []int{start}
	for len(order) < len(leaves) {
		next := -1
		for i, p := range preds {
			c, ok := p.(*expr.Compare)
			if !ok || c.Op != expr.EQ || len(reads[i]) != 2 {
				continue
			}
			in, out := 0, -1
			for l := range reads[i] {
				if chosen[l] {
					in++
				} else {
					out = l
				}
			}
			if in == 1 && out >= 0 {
				next = out
				break
			}
		}
		if next < 0 {
			for i := range leaves {
				if !chosen[i] {
					next = i
					break
				}
			}
		}
		chosen[next] = true
		order = append(order, next)
	}
	// New position of every original column.
	pos := map[int]int{}
	at := 0
	var rel Rel
	for _, li := range order {
		l := leaves[li]
		for c := 0; c < l.width; c++ {
			pos[l.offset+c] = at + c
		}
		at += l.width
		if rel == nil {
			rel = l.rel
		} else {
			rel = &Join{Kind: InnerJoin, Left: rel, Right: l.rel}
		}
	}
	remap := func(i int) int { return pos[i] }
	var moved []expr.Expr
	for _, p := range preds {
		moved = append(moved, expr.Shift(p, remap))
	}
	if len(moved) > 0 {
		rel = &Filter{Input: rel, Pred: AndOf(moved)}
	}
	types := rel.Types()
	proj := make([]expr.Expr, at)
	for orig := 0; orig < at; orig++ {
		proj[orig] = &expr.Col{Idx: pos[orig], Typ: types[pos[orig]]}
	}
	return &Project{Input: rel, Exprs: proj}
}

// withChildren returns a copy of r with its inputs replaced.
func withChildren(r Rel, kids []Rel) Rel {
	switch x := r.(type) {
	case *Filter:
		return &Filter{Input: kids[0], Pred: x.Pred}
	case *Project:
		return &Project{Input: kids[0], Exprs: x.Exprs}
	case *FlatMap:
		return &FlatMap{Input: kids[0], Calls: x.Calls}
	case *Join:
		return &Join{Kind: x.Kind, Left: kids[0], Right: kids[1], On: x.On}
	case *Aggregate:
		return &Aggregate{Input: kids[0], Keys: x.Keys, Aggs: x.Aggs, Global: x.Global}
	case *Distinct:
		return &Distinct{Input: kids[0]}
	case *SetOp:
		return &SetOp{Kind: x.Kind, All: x.All, Left: kids[0], Right: kids[1]}
	case *TopK:
		return &TopK{Input: kids[0], Group: x.Group, Order: x.Order, Limit: x.Limit, Offset: x.Offset, RowNumber: x.RowNumber}
	case *Session:
		return &Session{Input: kids[0], Time: x.Time, Keys: x.Keys, Gap: x.Gap}
	}
	return r
}
