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
		c.Phase(PhaseReplayingLog)
		switch got, lim := percent(), limit(); {
		case got != tc.whileLoaded:
			t.Fatalf("start %d: %d while replaying the log's tail, want %d", tc.start, got, tc.whileLoaded)
		case tc.whileLoaded == -1 && (lim <= 0 || lim > 2*processMemory()):
			t.Fatalf("start %d: memory limit %d while replaying the log's tail, want at most twice the process' %d", tc.start, lim, processMemory())
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
