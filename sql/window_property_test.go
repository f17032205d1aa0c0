package sql

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// winEvent is one row of the window property test's table, as the Go model
// keeps it. Times are Unix seconds; a nil pointer is SQL NULL.
type winEvent struct {
	k, v *int64
	ts   *int64
}

// winView is a materialized view over TUMBLE, HOP or SESSION and the Go
// function that computes its rows from the model (rendered as renderRows
// does): the brute-force answer, sharing nothing with the engine but the
// text rendering of integers and timestamps.
type winView struct {
	name, def string
	want      func(rows map[int]winEvent) []string
}

const (
	winTumble = 10 // seconds
	winSlide  = 4
	winHop    = 20 // winHop / winSlide = 5 windows per row
	winGap    = 3
)

var winViews = []winView{
	{"w_tumble", fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM TUMBLE(ev, ts, INTERVAL '%d seconds') GROUP BY window_start, window_end`, winTumble),
		func(rows map[int]winEvent) []string {
			return winAggregate(rows, func(_ winEvent, ts int64) [][2]int64 {
				s := floorDiv(ts, winTumble) * winTumble
				return [][2]int64{{s, s + winTumble}}
			}, false)
		}},
	{"w_hop", fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM HOP(ev, ts, INTERVAL '%d seconds', INTERVAL '%d seconds') GROUP BY window_start, window_end`, winSlide, winHop),
		func(rows map[int]winEvent) []string {
			return winAggregate(rows, func(_ winEvent, ts int64) [][2]int64 {
				var out [][2]int64
				for s := floorDiv(ts, winSlide) * winSlide; s > ts-winHop; s -= winSlide {
					out = append(out, [2]int64{s, s + winHop})
				}
				return out
			}, false)
		}},
	{"w_session", fmt.Sprintf(`SELECT window_start, window_end, count(*) AS n, sum(v) AS s
		FROM SESSION(ev, ts, INTERVAL '%d seconds') GROUP BY window_start, window_end`, winGap),
		func(rows map[int]winEvent) []string {
			sess := bruteSessions(rows, false, nil)
			return winAggregate(rows, func(e winEvent, _ int64) [][2]int64 { return [][2]int64{sess[e]} }, false)
		}},
	{"w_session_k", fmt.Sprintf(`SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s, max(v) AS mx
		FROM SESSION(ev, ts, INTERVAL '%d seconds', k) GROUP BY k, window_start, window_end`, winGap),
		func(rows map[int]winEvent) []string {
			sess := bruteSessions(rows, true, nil)
			return winAggregate(rows, func(e winEvent, _ int64) [][2]int64 { return [][2]int64{sess[e]} }, true)
		}},
	{"w_session_rows", fmt.Sprintf(`SELECT id, window_start, window_end FROM SESSION(ev, ts, INTERVAL '%d seconds', k)`, winGap),
		func(rows map[int]winEvent) []string {
			sess := bruteSessions(rows, true, nil)
			var out []string
			for id, e := range rows {
				if e.ts != nil {
					w := sess[e]
					out = append(out, fmt.Sprintf("%d | %s | %s", id, winTime(w[0]), winTime(w[1])))
				}
			}
			return out
		}},
	{"w_session_sub", fmt.Sprintf(`SELECT k, window_start, count(*) AS n
		FROM SESSION((SELECT k, ts FROM ev WHERE v > 0), ts, INTERVAL '%d seconds', k) GROUP BY k, window_start`, winGap),
		func(rows map[int]winEvent) []string {
			pos := func(e winEvent) bool { return e.v != nil && *e.v > 0 }
			sess := bruteSessions(rows, true, pos)
			counts := map[string]int{}
			for _, e := range rows {
				if e.ts != nil && pos(e) {
					counts[fmt.Sprintf("%s | %s", winInt(e.k), winTime(sess[e][0]))]++
				}
			}
			var out []string
			for k, n := range counts {
				out = append(out, fmt.Sprintf("%s | %d", k, n))
			}
			return out
		}},
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func winTime(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05") }

func winInt(p *int64) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

// bruteSessions assigns each event with a time its session window
// [first time, last time + gap) by sorting the (key's) events by time and
// cutting where consecutive times are more than the gap apart. Events are
// identified by value: the model's pointers are unique per event.
func bruteSessions(rows map[int]winEvent, keyed bool, keep func(winEvent) bool) map[winEvent][2]int64 {
	groups := map[string][]winEvent{}
	for _, e := range rows {
		if e.ts == nil || (keep != nil && !keep(e)) {
			continue
		}
		key := ""
		if keyed {
			key = winInt(e.k)
		}
		groups[key] = append(groups[key], e)
	}
	out := map[winEvent][2]int64{}
	for _, es := range groups {
		slices.SortFunc(es, func(a, b winEvent) int { return int(*a.ts - *b.ts) })
		for i := 0; i < len(es); {
			j := i + 1
			for j < len(es) && *es[j].ts-*es[j-1].ts <= winGap {
				j++
			}
			for _, e := range es[i:j] {
				out[e] = [2]int64{*es[i].ts, *es[j-1].ts + winGap}
			}
			i = j
		}
	}
	return out
}

// winAggregate groups the events with a time by (key,) window, as windows
// assigns them, into "[k | ]start | end | count | sum(v) [| max(v)]" rows.
func winAggregate(rows map[int]winEvent, windows func(winEvent, int64) [][2]int64, keyed bool) []string {
	type acc struct {
		n       int
		sum, mx *int64
	}
	groups := map[string]*acc{}
	for _, e := range rows {
		if e.ts == nil {
			continue
		}
		for _, w := range windows(e, *e.ts) {
			key := winTime(w[0]) + " | " + winTime(w[1])
			if keyed {
				key = winInt(e.k) + " | " + key
			}
			a := groups[key]
			if a == nil {
				a = &acc{}
				groups[key] = a
			}
			a.n++
			if e.v != nil {
				if a.sum == nil {
					a.sum, a.mx = new(int64), new(int64)
					*a.mx = *e.v
				}
				*a.sum += *e.v
				*a.mx = max(*a.mx, *e.v)
			}
		}
	}
	var out []string
	for key, a := range groups {
		row := fmt.Sprintf("%s | %d | %s", key, a.n, winInt(a.sum))
		if keyed {
			row += " | " + winInt(a.mx)
		}
		out = append(out, row)
	}
	return out
}

// winGen generates a stream of writes to ev: inserts mostly near an
// advancing clock, some late, some with NULL keys, times or values; updates
// of times, keys and values; single and range deletes. It applies each
// statement to its model as it generates it.
type winGen struct {
	rng    *rand.Rand
	clock  int64 // Unix seconds
	nextID int
}

func (g *winGen) ptr(v int64, nullOneIn int) *int64 {
	if g.rng.IntN(nullOneIn) == 0 {
		return nil
	}
	return &v
}

func sqlVal(p *int64) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

func sqlTime(p *int64) string {
	if p == nil {
		return "NULL"
	}
	return "'" + winTime(*p) + "'"
}

func (g *winGen) pick(rows map[int]winEvent) (int, bool) {
	if len(rows) == 0 {
		return 0, false
	}
	ids := slices.Sorted(maps.Keys(rows))
	return ids[g.rng.IntN(len(ids))], true
}

func (g *winGen) stmt(rows map[int]winEvent) string {
	switch r := g.rng.IntN(20); {
	case r < 11:
		var vals []string
		for n := 1 + g.rng.IntN(6); n > 0; n-- {
			ts := g.clock + int64(g.rng.IntN(3))
			if g.rng.IntN(5) == 0 {
				ts = g.clock - int64(g.rng.IntN(60)) // late
			}
			e := winEvent{k: g.ptr(int64(g.rng.IntN(3)), 8), v: g.ptr(int64(g.rng.IntN(11)-5), 8), ts: g.ptr(ts, 20)}
			g.nextID++
			rows[g.nextID] = e
			vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s)", g.nextID, sqlVal(e.k), sqlTime(e.ts), sqlVal(e.v)))
		}
		return "INSERT INTO ev VALUES " + strings.Join(vals, ", ")
	case r < 16:
		id, ok := g.pick(rows)
		if !ok {
			return "SELECT 1"
		}
		e := rows[id]
		var set string
		switch g.rng.IntN(4) {
		case 0: // move the time, possibly across a session boundary
			d := int64(g.rng.IntN(13) - 6)
			if e.ts != nil {
				e.ts = new(int64)
				*e.ts = *rows[id].ts + d
			}
			set = fmt.Sprintf("ts = ts + INTERVAL '%d seconds'", d)
		case 1:
			e.ts = g.ptr(g.clock-int64(g.rng.IntN(40)), 6)
			set = "ts = " + sqlTime(e.ts)
		case 2:
			e.k = g.ptr(int64(g.rng.IntN(3)), 6)
			set = "k = " + sqlVal(e.k)
		default:
			e.v = g.ptr(int64(g.rng.IntN(11)-5), 6)
			set = "v = " + sqlVal(e.v)
		}
		rows[id] = e
		return fmt.Sprintf("UPDATE ev SET %s WHERE id = %d", set, id)
	case r < 19:
		id, ok := g.pick(rows)
		if !ok {
			return "SELECT 1"
		}
		delete(rows, id)
		return fmt.Sprintf("DELETE FROM ev WHERE id = %d", id)
	default: // a range delete: splits whatever sessions it cuts through
		lo := g.clock - int64(g.rng.IntN(40))
		hi := lo + int64(g.rng.IntN(4))
		for id, e := range rows {
			if e.ts != nil && *e.ts >= lo && *e.ts <= hi {
				delete(rows, id)
			}
		}
		return fmt.Sprintf("DELETE FROM ev WHERE ts BETWEEN '%s' AND '%s'", winTime(lo), winTime(hi))
	}
}

// TestWindowViewsMatchBruteForce feeds random streams of inserts (late rows
// included), updates and deletes, in transactions, into materialized views
// over TUMBLE, HOP and SESSION with aggregates, and after every transaction
// compares each view with the window assignment and aggregates recomputed
// in plain Go from a model of the table. Replay a failure with -seed; run
// longer with -long.
func TestWindowViewsMatchBruteForce(t *testing.T) {
	seed := testSeed(t)
	steps := 200
	if *flagLong {
		steps = 3000
	}
	if testing.Short() {
		steps = 40
	}
	ts := newTestSession(t)
	ts.mustExec(`CREATE TABLE ev (id int PRIMARY KEY, k int, ts timestamp, v int)`)
	for _, v := range winViews {
		ts.mustExec("CREATE MATERIALIZED VIEW " + v.name + " AS " + v.def)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	g := &winGen{rng: rng, clock: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).Unix()}
	model := map[int]winEvent{}
	for step := 1; step <= steps; step++ {
		// The clock mostly creeps (sessions chain) and sometimes jumps.
		g.clock += int64(rng.IntN(3))
		if rng.IntN(6) == 0 {
			g.clock += int64(5 + rng.IntN(20))
		}
		next := maps.Clone(model)
		var stmts []string
		for n := 1 + rng.IntN(4); n > 0; n-- {
			stmts = append(stmts, g.stmt(next))
		}
		commit := rng.IntN(10) != 0
		ts.mustExec("BEGIN")
		for _, q := range stmts {
			ts.mustExec(q)
		}
		if commit {
			ts.mustExec("COMMIT")
			model = next
		} else {
			ts.mustExec("ROLLBACK")
		}
		for _, v := range winViews {
			got, err := ts.query("SELECT * FROM " + v.name)
			if err != nil {
				t.Fatalf("seed %d step %d: reading %s: %v", seed, step, v.name, err)
			}
			want := v.want(model)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d: view %s differs from the brute-force answer\n%s\nlast transaction (committed %v):\n  %s\nview:\n%s\nbrute force:\n%s",
					seed, step, v.name, v.def, commit, strings.Join(stmts, "\n  "), indent(got), indent(want))
			}
		}
	}
	t.Logf("seed %d: %d transactions, %d rows at the end", seed, steps, len(model))
}
