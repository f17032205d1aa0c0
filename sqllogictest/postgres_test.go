package sqllogictest

import (
	"context"
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
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestPostgres runs small scripts against a throwaway PostgreSQL cluster:
// the runner's end-to-end behaviour (both protocols, errors with SQLSTATEs,
// connections, value rendering of real server output) checked against the
// real thing. It is skipped when PostgreSQL's server binaries are not
// installed (the Debian postgresql package); scripts/slt-postgres-baseline.sh
// runs the whole SQLite corpus the same way.
//
//	run [file=NAME] [simple]   run the input script, print counts and failures
func TestPostgres(t *testing.T) {
	bin, why := postgresBin()
	if bin == "" {
		t.Skipf("no PostgreSQL to test against: %s", why)
	}
	admin := startPostgres(t, bin)
	n := 0
	datadriven.RunTest(t, "testdata/runner-postgres", func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd != "run" {
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
		}
		name := "script.test"
		td.MaybeScanArgs(t, "file", &name)
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(script(td.Input)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n++
		url, drop, err := FreshDatabase(ctx, admin, fmt.Sprintf("slt_test_%d", n))
		if err != nil {
			t.Fatal(err)
		}
		defer drop()
		res, err := RunFile(ctx, url, path, Options{Simple: td.HasArg("simple")})
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		var b strings.Builder
		b.WriteString(res.Summary(name) + "\n")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "line %d: expected %q, got %q\n", f.Line, f.Expected, f.Got)
		}
		return b.String()
	})
}

// postgresBin finds the directory holding initdb and pg_ctl.
func postgresBin() (dir, why string) {
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

// startPostgres initializes and starts a cluster on a free loopback port
// and returns an admin URL; the cluster is stopped and removed after the
// test. PostgreSQL refuses to run as root, so as root it runs as the
// postgres user.
func startPostgres(t *testing.T, bin string) string {
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
	dir, err := os.MkdirTemp("", "tributary-slt-test-pg-")
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
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "start",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir))
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}
