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
//
// It acts at startup only: after End, Phase does nothing, so the rebuild
// a ROLLBACK of DDL may run in a serving process (which passes through
// the same phases) leaves the collector alone.
type CollectorWhileLoading struct {
	off     bool
	ended   bool
	percent int // the target to put back
}

// Phase is the restore phase hook.
func (c *CollectorWhileLoading) Phase(phase string) {
	if c.ended {
		return
	}
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
		c.restore()
	}
}

// End puts the previous target back, if Phase turned it off, and ends
// the policy.
func (c *CollectorWhileLoading) End() {
	c.ended = true
	c.restore()
}

func (c *CollectorWhileLoading) restore() {
	if c.off {
		debug.SetGCPercent(c.percent)
		c.off = false
	}
}
