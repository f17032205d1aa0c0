package sql

import (
	"runtime/debug"
	"testing"
)

// TestCollectorWhileLoading walks the restore phases through the policy
// and checks the collector's target at each: off while the checkpoint
// loads, the previous one back for the log's tail and after End, and a
// target under the default left alone.
func TestCollectorWhileLoading(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	percent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }

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
		if got := percent(); got != tc.start {
			t.Fatalf("start %d: %d while replaying the log's tail", tc.start, got)
		}
		// A restore that fails while loading never reaches another phase:
		// End puts the target back.
		c.Phase(PhaseLoadingCheckpoint)
		c.End()
		if got := percent(); got != tc.start {
			t.Fatalf("start %d: %d after End", tc.start, got)
		}
		// After End (the server serves), a rebuild passing through the
		// same phases leaves the collector alone.
		c.Phase(PhaseLoadingCheckpoint)
		if got := percent(); got != tc.start {
			t.Fatalf("start %d: %d in a rebuild after End", tc.start, got)
		}
	}
}
