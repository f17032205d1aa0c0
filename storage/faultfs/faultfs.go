// Package faultfs is a Pebble filesystem (vfs.FS) whose disk fills up on
// demand, for tests of what the event log does on a full disk: while Full
// is set it reports almost no free space and fails every file creation,
// write and sync with ENOSPC.
//
// faultfs imports Pebble's vfs only.
package faultfs

import (
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FS is a filesystem whose disk fills up on demand: while Full is set,
// every write and sync of a file fails with ENOSPC, as on a full disk, and
// creating files fails too. Full is safe to flip from any goroutine.
type FS struct {
	vfs.FS
	Full atomic.Bool
}

// New wraps fs.
func New(fs vfs.FS) *FS { return &FS{FS: fs} }

// Create implements vfs.FS.
func (f *FS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if f.Full.Load() {
		return nil, &fsError{op: "create", name: name}
	}
	file, err := f.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &fullFile{File: file, fs: f}, nil
}

// ReuseForWrite implements vfs.FS.
func (f *FS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if f.Full.Load() {
		return nil, &fsError{op: "reuse", name: newname}
	}
	file, err := f.FS.ReuseForWrite(oldname, newname, c)
	if err != nil {
		return nil, err
	}
	return &fullFile{File: file, fs: f}, nil
}

type fsError struct{ op, name string }

func (e *fsError) Error() string {
	return e.op + " " + e.name + ": " + syscall.ENOSPC.Error()
}
func (e *fsError) Unwrap() error { return syscall.ENOSPC }

type fullFile struct {
	vfs.File
	fs *FS
}

func (f *fullFile) check(op string) error {
	if f.fs.Full.Load() {
		return &fsError{op: op, name: "file"}
	}
	return nil
}

func (f *fullFile) Write(p []byte) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *fullFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *fullFile) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *fullFile) SyncData() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *fullFile) SyncTo(n int64) (bool, error) {
	if err := f.check("sync"); err != nil {
		return false, err
	}
	return f.File.SyncTo(n)
}

// GetDiskUsage reports the disk nearly full (1 KiB free) while Full is
// set, and half empty otherwise.
func (f *FS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	if f.Full.Load() {
		return vfs.DiskUsage{AvailBytes: 1 << 10, TotalBytes: 1 << 30, UsedBytes: 1<<30 - 1<<10}, nil
	}
	return vfs.DiskUsage{AvailBytes: 1 << 29, TotalBytes: 1 << 30, UsedBytes: 1 << 29}, nil
}
