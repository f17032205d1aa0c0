package planner

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/types"
)

// TestPlans runs the datadriven files under testdata: each "plan" input is a
// logical plan written as an indented tree (children indented under their
// parent), and the output is the optimized plan, its dataflow and how many
// dataflow nodes it has (shared subtrees count once). Regenerate with
// -rewrite and review the diff.
//
// Plan syntax, one node per line, all columns int8:
//
//	scan NAME NCOLS
//	filter PRED
//	join inner|left|right|full [PRED]
//	project #i, #j, ...
//	distinct
//	union|intersect|except [all]
//	aggregate keys=i,j [count=#i]
//	topk [group=i,...] limit=N [offset=N] order=i[d],...      (d: descending)
//	ref NAME                                    the node marked @NAME
//
// A line ending in @NAME names its node so that "ref NAME" can use the same
// node again: the plan is a DAG. PRED is terms joined by AND, each term
// "X op Y" with X, Y a column #i, an integer or NULL and op one of
// = <> < <= > >= and <=> (IS NOT DISTINCT FROM).
func TestPlans(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "plan":
				r, err := parsePlan(td.Input)
				if err != nil {
					t.Fatalf("%s: %v", td.Pos, err)
				}
				opt := Optimize(r)
				flow, err := Lower(opt)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				distinct, printed := countNodes(flow)
				return fmt.Sprintf("Optimized plan:\n%s\nDataflow:\n%s\ndataflow nodes: %d distinct, %d printed\n",
					ExplainRel(opt), dataflow.Explain(flow), distinct, printed)
			}
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
			return ""
		})
	})
}

// countNodes returns the number of distinct nodes of a dataflow DAG and the
// number of times a tree walk (EXPLAIN) visits one.
func countNodes(p dataflow.Plan) (distinct, printed int) {
	seen := map[dataflow.Plan]bool{}
	var walk func(p dataflow.Plan)
	walk = func(p dataflow.Plan) {
		printed++
		if !seen[p] {
			seen[p] = true
			distinct++
		}
		for _, in := range p.Inputs() {
			walk(in)
		}
	}
	walk(p)
	return distinct, printed
}

type planLine struct {
	depth int
	text  string
}

func parsePlan(input string) (Rel, error) {
	var lines []planLine
	for _, l := range strings.Split(input, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		trimmed := strings.TrimLeft(l, " ")
		lines = append(lines, planLine{depth: (len(l) - len(trimmed)) / 2, text: trimmed})
	}
	p := &planParser{lines: lines, named: map[string]Rel{}, nextID: 1}
	r, err := p.node(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(lines) {
		return nil, fmt.Errorf("line %q: unexpected indentation", lines[p.pos].text)
	}
	return r, nil
}

type planParser struct {
	lines  []planLine
	pos    int
	named  map[string]Rel
	nextID dataflow.CollectionID
}

// node parses the node at p.pos (at the given depth) and its children.
func (p *planParser) node(depth int) (Rel, error) {
	if p.pos >= len(p.lines) || p.lines[p.pos].depth != depth {
		return nil, fmt.Errorf("expected a node at depth %d", depth)
	}
	text := p.lines[p.pos].text
	p.pos++
	var name string
	if i := strings.LastIndex(text, " @"); i >= 0 {
		text, name = text[:i], text[i+2:]
	}
	var kids []Rel
	for p.pos < len(p.lines) && p.lines[p.pos].depth > depth {
		k, err := p.node(depth + 1)
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	r, err := p.build(text, kids)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", text, err)
	}
	if name != "" {
		p.named[name] = r
	}
	return r, nil
}

func (p *planParser) build(text string, kids []Rel) (Rel, error) {
	op, rest, _ := strings.Cut(text, " ")
	want := map[string]int{"scan": 0, "ref": 0, "filter": 1, "project": 1, "distinct": 1, "aggregate": 1, "topk": 1,
		"join": 2, "union": 2, "intersect": 2, "except": 2}
	n, ok := want[op]
	if !ok {
		return nil, fmt.Errorf("unknown node %q", op)
	}
	if len(kids) != n {
		return nil, fmt.Errorf("%s takes %d inputs, has %d", op, n, len(kids))
	}
	width := func(i int) int { return len(kids[i].Types()) }
	switch op {
	case "scan":
		f := strings.Fields(rest)
		if len(f) != 2 {
			return nil, fmt.Errorf("want scan NAME NCOLS")
		}
		ncols, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, err
		}
		typs := make([]types.Type, ncols)
		for i := range typs {
			typs[i] = types.Int8
		}
		s := &Scan{ID: p.nextID, Name: f[0], Typs: typs}
		p.nextID++
		return s, nil
	case "ref":
		r, ok := p.named[rest]
		if !ok {
			return nil, fmt.Errorf("no node named %q", rest)
		}
		return r, nil
	case "filter":
		pred, err := parsePred(rest, width(0))
		if err != nil {
			return nil, err
		}
		return &Filter{Input: kids[0], Pred: pred}, nil
	case "project":
		var exprs []expr.Expr
		for _, f := range strings.Split(rest, ",") {
			e, err := parseOperand(strings.TrimSpace(f), width(0))
			if err != nil {
				return nil, err
			}
			exprs = append(exprs, e)
		}
		return &Project{Input: kids[0], Exprs: exprs}, nil
	case "distinct":
		return &Distinct{Input: kids[0]}, nil
	case "join":
		kindName, predText, _ := strings.Cut(rest, " ")
		kinds := map[string]JoinKind{"inner": InnerJoin, "left": LeftJoin, "right": RightJoin, "full": FullJoin}
		kind, ok := kinds[kindName]
		if !ok {
			return nil, fmt.Errorf("unknown join kind %q", kindName)
		}
		j := &Join{Kind: kind, Left: kids[0], Right: kids[1]}
		if predText != "" {
			pred, err := parsePred(predText, width(0)+width(1))
			if err != nil {
				return nil, err
			}
			j.On = pred
		}
		return j, nil
	case "union", "intersect", "except":
		kinds := map[string]SetOpKind{"union": Union, "intersect": Intersect, "except": Except}
		return &SetOp{Kind: kinds[op], All: rest == "all", Left: kids[0], Right: kids[1]}, nil
	case "aggregate":
		a := &Aggregate{Input: kids[0]}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "keys":
				for _, s := range strings.Split(v, ",") {
					i, err := strconv.Atoi(s)
					if err != nil {
						return nil, err
					}
					a.Keys = append(a.Keys, i)
				}
			case "count":
				arg, err := parseOperand(v, width(0))
				if err != nil {
					return nil, err
				}
				agg, _, err := expr.ResolveAggregate("count", []types.Type{types.Int8})
				if err != nil {
					return nil, err
				}
				a.Aggs = append(a.Aggs, dataflow.AggCall{Agg: agg, Args: []expr.Expr{arg}, Ret: agg.Ret})
			default:
				return nil, fmt.Errorf("unknown aggregate option %q", k)
			}
		}
		a.Global = len(a.Keys) == 0
		return a, nil
	case "topk":
		t := &TopK{Input: kids[0]}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "limit", "offset":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, err
				}
				if k == "limit" {
					t.Limit = n
				} else {
					t.Offset = n
				}
			case "group":
				for _, s := range strings.Split(v, ",") {
					i, err := strconv.Atoi(s)
					if err != nil {
						return nil, err
					}
					t.Group = append(t.Group, i)
				}
			case "order":
				for _, s := range strings.Split(v, ",") {
					desc := strings.HasSuffix(s, "d")
					i, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
					if err != nil {
						return nil, err
					}
					t.Order = append(t.Order, dataflow.SortKey{Col: i, Desc: desc, NullsFirst: desc})
				}
			default:
				return nil, fmt.Errorf("unknown topk option %q", k)
			}
		}
		return t, nil
	}
	return nil, fmt.Errorf("unhandled node %q", op)
}

var cmpOps = []struct {
	tok string
	op  expr.CmpOp
}{
	// Longest first, so that "<=" is not read as "<".
	{"<=>", expr.IsNotDistinct}, {"<>", expr.NE}, {"<=", expr.LE}, {">=", expr.GE},
	{"=", expr.EQ}, {"<", expr.LT}, {">", expr.GT},
}

func parsePred(text string, width int) (expr.Expr, error) {
	var terms []expr.Expr
	for _, term := range strings.Split(text, " AND ") {
		f := strings.Fields(term)
		if len(f) != 3 {
			return nil, fmt.Errorf("term %q: want X op Y", term)
		}
		var op expr.CmpOp
		found := false
		for _, c := range cmpOps {
			if f[1] == c.tok {
				op, found = c.op, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("term %q: unknown operator %q", term, f[1])
		}
		l, err := parseOperand(f[0], width)
		if err != nil {
			return nil, err
		}
		r, err := parseOperand(f[2], width)
		if err != nil {
			return nil, err
		}
		terms = append(terms, &expr.Compare{Op: op, L: l, R: r})
	}
	return AndOf(terms), nil
}

func parseOperand(s string, width int) (expr.Expr, error) {
	switch {
	case s == "NULL":
		return &expr.Const{Val: types.Null(types.Int8)}, nil
	case strings.HasPrefix(s, "#"):
		i, err := strconv.Atoi(s[1:])
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= width {
			return nil, fmt.Errorf("column %s out of range (input has %d)", s, width)
		}
		return &expr.Col{Idx: i, Typ: types.Int8}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("operand %q: %w", s, err)
	}
	return &expr.Const{Val: types.NewInt8(v)}, nil
}
