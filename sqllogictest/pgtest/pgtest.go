package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Bin finds the directory holding initdb and pg_ctl: on PATH, or the newest
// /usr/lib/postgresql/*/bin. When there is none it returns "" and why.
func Bin() (dir, why string) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), ""
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) < len(dirs[j]) || dirs[i] < dirs[j] })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], ""
		}
	}
	return "", "initdb/pg_ctl not on PATH nor under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
}

// Start initializes and starts a cluster on a free loopback port and
// returns an admin URL (user postgres, database postgres, trust
// authentication); the cluster is stopped and removed after the test.
// PostgreSQL refuses to run as root, so as root it runs as the postgres
// user (the test is skipped when there is none).
func Start(t testing.TB, bin string) string {
	t.Helper()
	return StartWith(t, bin)
}

// StartWith is Start with server settings ("name=value", each passed as
// -c name=value), e.g. "wal_level=logical" for logical replication.
func StartWith(t testing.TB, bin string, settings ...string) string {
	t.Helper()
	var cred *syscall.Credential
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "tributary-test-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	for _, s := range settings {
		opts += " -c " + s
	}
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "start", "-o", opts)
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}
