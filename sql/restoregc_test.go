package sql

import (
	"runtime/debug"
	"testing"
)

// TestCollectorWhileLoading walks the restore phases through the policy
// and checks the collector's target and memory limit at each: the target
// off while the checkpoint loads and while the log's tail replays, then
// under a memory limit of at most twice the process' memory; both back
// when done and after End; a target under the default left alone.
func TestCollectorWhileLoading(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	percent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	origLimit := limit()
	const margin = 64 << 20

	for _, tc := range []struct {
		start       int
		whileLoaded int
	}{{100, -1}, {400, -1}, {50, 50}} {
		debug.SetGCPercent(tc.start)
		var c CollectorWhileLoading
		c.Phase(PhaseReplayingCatalog)
		if got := percent(); got != tc.start {
			t.Fatalf("start %d: %d while replaying the catalog", tc.start, got)
		}
		c.Phase(PhaseLoadingCheckpoint)
		c.Phase(PhaseRestoringViews)
		if got := percent(); got != tc.whileLoaded {
			t.Fatalf("start %d: %d while restoring the views, want %d", tc.start, got, tc.whileLoaded)
		}
		// The process' memory moves while the test runs (other tests, the
		// scavenger): the limit must be twice a reading between these.
		before := processMemory()
		c.Phase(PhaseReplayingLog)
		after := processMemory()
		switch got, lim := percent(), limit(); {
		case got != tc.whileLoaded:
			t.Fatalf("start %d: %d while replaying the log's tail, want %d", tc.start, got, tc.whileLoaded)
		case tc.whileLoaded == -1 && (lim < 2*min(before, after)-margin || lim > 2*max(before, after)+margin):
			t.Fatalf("start %d: memory limit %d while replaying the log's tail, want twice the process' %d to %d", tc.start, lim, before, after)
		case tc.whileLoaded != -1 && lim != origLimit:
			t.Fatalf("start %d: memory limit %d while replaying the log's tail, want the operator's %d", tc.start, lim, origLimit)
		}
		c.Phase(PhaseDone)
		if got, lim := percent(), limit(); got != tc.start || lim != origLimit {
			t.Fatalf("start %d: target %d and limit %d when done, want %d and %d", tc.start, got, lim, tc.start, origLimit)
		}
		// A restore that fails while loading never reaches another phase:
		// End puts the target back.
		c.Phase(PhaseLoadingCheckpoint)
		c.End()
		if got, lim := percent(), limit(); got != tc.start || lim != origLimit {
			t.Fatalf("start %d: target %d and limit %d after End", tc.start, got, lim)
		}
		// After End (the server serves), a rebuild passing through the
		// same phases leaves the collector alone.
		c.Phase(PhaseLoadingCheckpoint)
		if got := percent(); got != tc.start {
			t.Fatalf("start %d: %d in a rebuild after End", tc.start, got)
		}
	}
}
