package sql

import (
	"runtime/debug"
	"runtime/metrics"
)

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
// whatever the target says. A target set below the default (GOGC or
// --gc-percent under 100: an operator short of memory) is left alone, as
// is one already off.
//
// The log's tail after the checkpoint is replayed with the target still
// off, under a memory limit of twice what the process holds once the
// checkpoint is loaded (or the operator's, if lower): its garbage grows
// with the history, not the state, so the limit bounds it as the default
// target would, but the target put back there would have started a
// collection at once — its last mark was before the load — and marked the
// whole loaded state on the restart's critical path (2 s of a restart of
// 10M rows with a 100k-row tail). That first collection now runs once the
// server serves, beside it.
//
// It acts at startup only: after End, Phase does nothing, so the rebuild
// a ROLLBACK of DDL may run in a serving process (which passes through
// the same phases) leaves the collector alone.
type CollectorWhileLoading struct {
	off     bool
	ended   bool
	percent int // the target to put back
	limited bool
	limit   int64 // the memory limit to put back, when limited
}

// Phase is the restore phase hook.
func (c *CollectorWhileLoading) Phase(phase string) {
	if c.ended {
		return
	}
	switch {
	case phase == PhaseLoadingCheckpoint || phase == PhaseRestoringViews:
		if c.off {
			return
		}
		prev := debug.SetGCPercent(-1)
		if prev < 100 {
			debug.SetGCPercent(prev)
			return
		}
		c.off, c.percent = true, prev
	case phase == PhaseReplayingLog && c.off && !c.limited:
		c.limit = debug.SetMemoryLimit(-1) // reads it
		debug.SetMemoryLimit(min(c.limit, 2*processMemory()))
		c.limited = true
	case phase != PhaseReplayingLog:
		c.restore()
	}
}

// End puts the previous target and limit back, if Phase changed them, and
// ends the policy.
func (c *CollectorWhileLoading) End() {
	c.ended = true
	c.restore()
}

func (c *CollectorWhileLoading) restore() {
	if c.limited {
		debug.SetMemoryLimit(c.limit)
		c.limited = false
	}
	if c.off {
		debug.SetGCPercent(c.percent)
		c.off = false
	}
}

// processMemory is the memory the Go runtime holds from the OS, as the
// memory limit counts it.
func processMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
