package storage

import (
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrDiskFull is returned (wrapped, with the directory and the free space)
// by every write of a PebbleLog while the disk of its directory has less
// free space than the reserve (PebbleOptions.MinFreeBytes). Reads keep
// working, and writes resume once space returns.
//
// Why a reserve and not ENOSPC: Pebble treats a failed WAL write as fatal
// (the process exits, as CockroachDB's does on a full disk) because a
// batch whose write failed is already in its memtable. So the log refuses
// writes before the disk is full; if something else fills the last bytes
// anyway, the process exits and restart recovers the durable prefix, which
// loses nothing acknowledged. (ENOSPC while writing a large batch's table
// file, ingest.go, is not fatal: that write fails and the log refuses
// writes until restart, as after a failed sync.)
var ErrDiskFull error = diskFull{}

type diskFull struct{}

func (diskFull) Error() string { return "storage: the disk of the data directory is full" }

// SQLState is disk_full: the pgwire edge reports it to the client.
func (diskFull) SQLState() string { return "53100" }

// DefaultMinFreeBytes is the default reserve of free disk space below which
// a PebbleLog refuses writes: room for the groups in flight, a memtable
// flush and Pebble's own files.
const DefaultMinFreeBytes = 64 << 20

// spaceCheckEvery and spaceCheckBytes bound how stale the free space
// seen by a write may be: it is re-read after this long or after this many
// bytes were queued since (at most an eighth of the reserve, so that what
// is admitted between two readings, written again by a memtable flush,
// stays well inside the reserve), and on every write while the disk is
// full.
const (
	spaceCheckEvery = time.Second
	spaceCheckBytes = 8 << 20
)

// checkBytes is how many queued bytes make the next write re-read the free
// space.
func (g *spaceGuard) checkBytes() uint64 { return min(spaceCheckBytes, g.reserve/8) }

// spaceGuard decides whether a write may go to disk.
type spaceGuard struct {
	fs      vfs.FS
	dir     string
	reserve uint64        // 0: no check
	every   time.Duration // re-read the usage after this long; < 0: on every write

	mu struct {
		sync.Mutex
		checked time.Time
		queued  uint64 // bytes queued since checked
		avail   uint64
		full    bool
	}
}

// admit returns ErrDiskFull (wrapped) when a write of n bytes must be
// refused. A filesystem that cannot report its usage is never full.
func (g *spaceGuard) admit(n int) error {
	if g.reserve == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.queued += uint64(n)
	if g.mu.full || g.every < 0 || g.mu.queued >= g.checkBytes() || time.Since(g.mu.checked) >= g.every {
		g.mu.checked, g.mu.queued = time.Now(), 0
		u, err := g.fs.GetDiskUsage(g.dir)
		g.mu.full = err == nil && u.AvailBytes < g.reserve+uint64(n)
		g.mu.avail = u.AvailBytes
	}
	if g.mu.full {
		return fmt.Errorf("%w: %s has %d bytes free, less than the reserve of %d bytes", ErrDiskFull, g.dir, g.mu.avail, g.reserve)
	}
	return nil
}
