package storage

import (
	"context"
	"slices"

	"github.com/tributary-db/tributary/sql/types"
)

// History is the part of a Log that serves time travel (AS OF) and
// compaction: each collection's updates can be read up to a time, and the
// history older than a collection's since can be compacted away.
//
// The since of a collection is a time such that the log holds every update
// of the collection at a time after since exactly as appended, while the
// updates at times up to since may have been compacted: their sum (the
// collection's contents at any time at or after since) is unchanged, but
// the history of changes before since is gone. A collection that was never
// compacted has since 0.
type History interface {
	// ReadUpdates calls f with every update of collection c that the log
	// holds at a time ≤ upTo, in time order (entries of one time in the
	// order appended), as of one snapshot taken when it starts. It sees
	// every batch whose Append has returned. Summing the diffs gives the
	// collection's contents at upTo when upTo ≥ Since(c). f owns the row.
	ReadUpdates(ctx context.Context, c CollectionID, upTo uint64, f func(t uint64, e Entry) error) error
	// Since returns c's since (0 when never compacted).
	Since(c CollectionID) (uint64, error)
	// Compact advances c's since to since (a since at or before the
	// current one is a no-op). Among the updates at times ≤ since, every
	// retraction cancels the oldest earlier insertions of an equal row
	// (types.AppendKey identity); cancelled updates are removed, an
	// insertion that is partly cancelled keeps its time with its diff
	// reduced. What remains below since is therefore the collection's
	// contents at since, each row stamped with the time it was inserted
	// (which retention needs). The caller must pass a since no later than
	// the latest appended batch's time, and must not read history below
	// the new since once Compact has started. Safe concurrently with
	// Append (appends are all later than since) and with reads at or after
	// since; compactions of one collection must not run concurrently.
	Compact(ctx context.Context, c CollectionID, since uint64) (CompactStats, error)
	// DropCollection removes every update of c (a dropped table's). The
	// catalog records stay, so replay still creates and drops it.
	DropCollection(ctx context.Context, c CollectionID) error
}

// CompactStats says what one Compact did.
type CompactStats struct {
	// Read is the number of updates at times ≤ since before compaction.
	Read int
	// Removed is the number of updates deleted; Rewritten the number of
	// insertions kept with a smaller diff.
	Removed, Rewritten int
}

// netted is one update below since during compaction.
type netted struct {
	time    uint64
	seq     int // position within the collection's updates at time
	diff    int64
	row     types.Row
	removed bool
	changed bool
}

// netFIFO cancels, in time order, each retraction against the oldest
// earlier live insertions of an equal row. ups must be in time order.
func netFIFO(ups []*netted) CompactStats {
	st := CompactStats{Read: len(ups)}
	live := map[string][]*netted{} // row identity -> insertions with diff left, oldest first
	var key []byte
	for _, u := range ups {
		key = key[:0]
		for _, d := range u.row {
			key = types.AppendKey(key, d)
		}
		if u.diff > 0 {
			live[string(key)] = append(live[string(key)], u)
			continue
		}
		q := live[string(key)]
		for u.diff < 0 && len(q) > 0 {
			ins := q[0]
			m := min(ins.diff, -u.diff)
			ins.diff -= m
			u.diff += m
			ins.changed, u.changed = true, true
			if ins.diff == 0 {
				ins.removed = true
				q = q[1:]
			}
		}
		if u.diff == 0 {
			u.removed = true
		}
		if len(q) == 0 {
			delete(live, string(key))
		} else {
			live[string(key)] = q
		}
	}
	for _, u := range ups {
		switch {
		case u.removed:
			st.Removed++
		case u.changed:
			st.Rewritten++
		}
	}
	return st
}

// ReadUpdates implements History.
func (l *MemLog) ReadUpdates(ctx context.Context, c CollectionID, upTo uint64, f func(uint64, Entry) error) error {
	l.mu.Lock()
	batches := l.mu.batches
	l.mu.Unlock()
	for _, b := range batches {
		if b.Time > upTo {
			break
		}
		for _, e := range b.Entries {
			if e.Collection == c {
				if err := f(b.Time, e); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Since implements History.
func (l *MemLog) Since(c CollectionID) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.since[c], nil
}

// Compact implements History. Batches are never modified in place (Replay
// and ReadUpdates iterate over them without the lock): a batch that loses
// entries is replaced by a copy.
func (l *MemLog) Compact(_ context.Context, c CollectionID, since uint64) (CompactStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if since <= l.mu.since[c] {
		return CompactStats{}, nil
	}
	var ups []*netted
	at := map[[2]int]int{} // (batch index, entry index) -> index in ups
	for bi, b := range l.mu.batches {
		if b.Time > since {
			break
		}
		seq := 0
		for ei, e := range b.Entries {
			if e.Collection == c {
				at[[2]int{bi, ei}] = len(ups)
				ups = append(ups, &netted{time: b.Time, seq: seq, diff: e.Diff, row: e.Row})
				seq++
			}
		}
	}
	st := netFIFO(ups)
	batches := slices.Clone(l.mu.batches)
	touched := map[int]bool{}
	for w, i := range at {
		if ups[i].removed || ups[i].changed {
			touched[w[0]] = true
		}
	}
	for bi := range touched {
		b := batches[bi]
		var kept []Entry
		for ei, e := range b.Entries {
			if e.Collection != c {
				kept = append(kept, e)
				continue
			}
			if u := ups[at[[2]int{bi, ei}]]; !u.removed {
				e.Diff = u.diff
				kept = append(kept, e)
			}
		}
		b.Entries = kept
		batches[bi] = b
	}
	// Drop batches left with nothing.
	out := batches[:0:0]
	for _, b := range batches {
		if len(b.Entries) > 0 || b.Catalog != nil {
			out = append(out, b)
		}
	}
	l.mu.batches = out
	if l.mu.since == nil {
		l.mu.since = map[CollectionID]uint64{}
	}
	l.mu.since[c] = since
	return st, nil
}

// DropCollection implements History.
func (l *MemLog) DropCollection(_ context.Context, c CollectionID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Batch
	for _, b := range l.mu.batches {
		if slices.ContainsFunc(b.Entries, func(e Entry) bool { return e.Collection == c }) {
			b.Entries = slices.DeleteFunc(slices.Clone(b.Entries), func(e Entry) bool { return e.Collection == c })
		}
		if len(b.Entries) > 0 || b.Catalog != nil {
			out = append(out, b)
		}
	}
	l.mu.batches = out
	delete(l.mu.since, c)
	delete(l.mu.positions, c)
	return nil
}
