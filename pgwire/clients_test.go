package pgwire

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPsycopg runs the real psycopg 3 (Debian's python3-psycopg, installed
// by make deps) against an in-process server: parameters, binary results,
// COPY, named cursors, errors. It skips, saying why, where psycopg is
// missing.
func TestPsycopg(t *testing.T) {
	// Debian's python3-psycopg installs for Debian's own interpreter, which
	// another python3 earlier on PATH (pyenv) would not see.
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 is not installed")
		}
	}
	if err := exec.Command(python, "-c", "import psycopg").Run(); err != nil {
		t.Skip("psycopg is not installed (Debian package python3-psycopg)")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/clients/psycopg_check.py",
		"host="+host+" port="+port+" user=tributary dbname=postgres sslmode=disable").CombinedOutput()
	if err != nil {
		t.Fatalf("psycopg: %v\n%s", err, out)
	}
}

// TestNodePostgres runs node-postgres (npm "pg", installed by make deps from
// testdata/clients/node) against an in-process server: named prepared
// statements, parameters, transactions, errors.
func TestNodePostgres(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	if _, err := os.Stat("testdata/clients/node/node_modules/pg"); err != nil {
		t.Skip("node-postgres is not installed (make deps runs npm ci in pgwire/testdata/clients/node)")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/clients/node/check.js", host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("node-postgres: %v\n%s", err, out)
	}
}
