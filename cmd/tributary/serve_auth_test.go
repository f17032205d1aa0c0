package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-db/tributary/sql"
)

// TestServeRefusesBadAuthFlags checks the flag validation that runs before
// serve opens anything: trust on a reachable address, unknown methods, half
// a TLS configuration.
func TestServeRefusesBadAuthFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0"},
		{"--listen", ":0", "--auth", "trust"},
		{"--listen", "[::]:0"},
		{"--auth", "md5"},
		{"--auth", "scram-sha-256", "--tls-cert", "cert.pem"},
		{"--auth", "scram-sha-256", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
	} {
		if code := runServe(args); code != 2 {
			t.Errorf("tributary serve %q exited %d, want 2", args, code)
		}
	}
}

func TestBootstrapRole(t *testing.T) {
	eng, err := sql.NewEngine(sql.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	os.WriteFile(file, []byte("boot-secret\n"), 0o600)
	if err := bootstrapRole(eng, `odd"name`, file, log); err != nil {
		t.Fatal(err)
	}
	r, ok := eng.LoginRole(`odd"name`)
	if !ok || !r.CanLogin || !r.Superuser || r.Verifier == nil || !r.Verifier.CheckPassword("boot-secret") {
		t.Fatalf("bootstrap role: %+v %v", r, ok)
	}
	// An existing role keeps its password.
	os.WriteFile(file, []byte("other-secret\n"), 0o600)
	if err := bootstrapRole(eng, `odd"name`, file, log); err != nil {
		t.Fatal(err)
	}
	if r, _ := eng.LoginRole(`odd"name`); !r.Verifier.CheckPassword("boot-secret") {
		t.Error("the bootstrap file overwrote an existing role's password")
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	if err := bootstrapRole(eng, "empty", file, log); err == nil {
		t.Error("an empty bootstrap password was accepted")
	}
}
