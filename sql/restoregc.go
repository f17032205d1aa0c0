package sql

import "runtime/debug"

// CollectorWhileLoading is a policy for the process that owns the Go
// runtime (tributary serve), not something the engine does by itself: it
// turns the garbage collector's percentage target off while a restore
// loads a checkpoint (its tables, then its views' states) and puts the
// previous target back when the restore moves on to the log's tail or
// ends. Pass Phase as EngineOptions.RestorePhaseHook (calling any hook of
// your own from it) and call End once NewEngine has returned, whatever it
// returned.
//
// Why: the state a checkpoint loads is live from the moment it is loaded,
// so each collection while it grows marks all of it again and frees
// little (about one collection per doubling of the heap). With the
// collector running, that was more than half of restarting 3M rows under
// the five views of BenchmarkRestartFromCheckpoint (docs/performance.md,
// "Restart: cheaper per row of state").
//
// What it costs: until the load ends the heap holds everything the load
// allocated, the garbage with the state (about 1.6 times the state there:
// 8.9 GB allocated for a 5.5 GB heap at 10M rows), where the default
// target lets the heap reach twice the live data. A memory limit
// (GOMEMLIMIT, --memory-limit) still holds: near it the collector runs
// whatever the target says. The log's tail, whose garbage grows with the
// history rather than the state, is replayed with the target back. A
// target set below the default (GOGC or --gc-percent under 100: an
// operator short of memory) is left alone, as is one already off.
type CollectorWhileLoading struct {
	off     bool
	percent int // the target to put back
}

// Phase is the restore phase hook.
func (c *CollectorWhileLoading) Phase(phase string) {
	loading := phase == PhaseLoadingCheckpoint || phase == PhaseRestoringViews
	switch {
	case loading && !c.off:
		prev := debug.SetGCPercent(-1)
		if prev < 100 {
			debug.SetGCPercent(prev)
			return
		}
		c.off, c.percent = true, prev
	case !loading:
		c.End()
	}
}

// End puts the previous target back, if Phase turned it off.
func (c *CollectorWhileLoading) End() {
	if c.off {
		debug.SetGCPercent(c.percent)
		c.off = false
	}
}
