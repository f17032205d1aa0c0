package sql

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

func TestRoleStatements(t *testing.T) {
	ts := newTestSession(t)
	ts.mustExec(`CREATE ROLE reader`)
	ts.mustExec(`CREATE USER app WITH PASSWORD 'app-secret' SUPERUSER`)
	ts.mustExec(`CREATE ROLE nologin NOLOGIN PASSWORD 'x'`)

	checks := []struct {
		q    string
		code pgerror.Code
	}{
		{`CREATE ROLE reader`, pgerror.DuplicateObject},
		{`CREATE USER app`, pgerror.DuplicateObject},
		{`ALTER ROLE missing PASSWORD 'y'`, pgerror.UndefinedObject},
		{`DROP ROLE missing`, pgerror.UndefinedObject},
		{`DROP ROLE reader, missing`, pgerror.UndefinedObject},
	}
	for _, c := range checks {
		if _, err := ts.exec(c.q); errCode(err) != c.code {
			t.Errorf("%s: got %v (%s), want SQLSTATE %s", c.q, err, errCode(err), c.code)
		}
	}
	// The failed DROP ROLE dropped nothing.
	if _, ok := ts.e.LoginRole("reader"); !ok {
		t.Error("reader was dropped by a failing DROP ROLE")
	}

	r, ok := ts.e.LoginRole("reader")
	if !ok || r.CanLogin || r.Verifier != nil {
		t.Errorf("reader: %+v, %v; want no login, no password", r, ok)
	}
	r, _ = ts.e.LoginRole("app")
	if !r.CanLogin || !r.Superuser || r.Verifier == nil || !r.Verifier.CheckPassword("app-secret") || r.Verifier.CheckPassword("wrong") {
		t.Errorf("app: %+v", r)
	}
	if r.Verifier.Iterations != scramIterations || len(r.Verifier.Salt) != 16 {
		t.Errorf("app verifier: %s", r.Verifier)
	}
	if r, _ := ts.e.LoginRole("nologin"); r.CanLogin {
		t.Error("NOLOGIN role can log in")
	}

	ts.mustExec(`ALTER ROLE app WITH PASSWORD 'new-secret'`)
	if r, _ := ts.e.LoginRole("app"); !r.Verifier.CheckPassword("new-secret") || r.Verifier.CheckPassword("app-secret") {
		t.Error("ALTER ROLE PASSWORD did not change the password")
	}
	ts.mustExec(`ALTER ROLE app PASSWORD NULL`)
	if r, _ := ts.e.LoginRole("app"); r.Verifier != nil {
		t.Error("PASSWORD NULL kept a verifier")
	}

	// A verifier given as the password is stored as-is.
	v, err := NewSCRAMVerifier("pre-hashed")
	if err != nil {
		t.Fatal(err)
	}
	ts.mustExec(`CREATE ROLE hashed LOGIN PASSWORD '` + v.String() + `'`)
	if r, _ := ts.e.LoginRole("hashed"); r.Verifier.String() != v.String() || !r.Verifier.CheckPassword("pre-hashed") {
		t.Errorf("hashed: %s, want %s", r.Verifier, v)
	}

	res := ts.mustExec(`DROP ROLE IF EXISTS reader, ghost`)
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0].Message, "ghost") {
		t.Errorf("notices: %+v", res.Notices)
	}
	if _, ok := ts.e.LoginRole("reader"); ok {
		t.Error("reader survived DROP ROLE")
	}
}

// TestSCRAMVerifierKnownAnswer checks the derivation against RFC 7677's
// example (user "user", password "pencil").
func TestSCRAMVerifierKnownAnswer(t *testing.T) {
	v, ok := ParseSCRAMVerifier("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
	if !ok {
		t.Fatal("the RFC 7677 verifier does not parse")
	}
	if !v.CheckPassword("pencil") || v.CheckPassword("pencil ") {
		t.Error("the RFC 7677 verifier does not match its password")
	}
	for _, bad := range []string{"pencil", "SCRAM-SHA-256$4096:abc", "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==$a:b", "md5abc"} {
		if _, ok := ParseSCRAMVerifier(bad); ok {
			t.Errorf("%q parsed as a verifier", bad)
		}
	}
}

// TestRoleCatalogRecordHasNoPassword scans every log record for the
// cleartext and checks that the roles, with their passwords, survive a
// restart.
func TestRoleCatalogRecordHasNoPassword(t *testing.T) {
	const secret = "Sup3r-Secret-Pw"
	dir := t.TempDir()
	ts := openTestEngine(t, dir)
	ts.mustExec(`CREATE USER alice PASSWORD '` + secret + `'`)
	ts.mustExec(`CREATE ROLE bob WITH LOGIN PASSWORD 'first-` + secret + `'`)
	ts.mustExec(`ALTER ROLE bob PASSWORD '` + secret + `2'`)
	ts.mustExec(`CREATE ROLE carol LOGIN`)
	ts.mustExec(`DROP ROLE carol`)
	records := 0
	err := ts.e.log.Replay(context.Background(), func(b storage.Batch) error {
		if b.Catalog != nil {
			records++
			if strings.Contains(string(b.Catalog), secret) {
				t.Errorf("catalog record holds the cleartext password: %s", b.Catalog)
			}
		}
		return nil
	})
	if err != nil || records != 5 {
		t.Fatalf("replay: %v, %d catalog records, want 5", err, records)
	}
	ts.e.Close()

	// Nothing in the data directory holds it either.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the cleartext password", p)
		}
		return nil
	})

	ts = openTestEngine(t, dir)
	defer ts.e.Close()
	if r, ok := ts.e.LoginRole("alice"); !ok || !r.CanLogin || r.Verifier == nil || !r.Verifier.CheckPassword(secret) {
		t.Errorf("alice after restart: %+v %v", r, ok)
	}
	if r, ok := ts.e.LoginRole("bob"); !ok || !r.CanLogin || !r.Verifier.CheckPassword(secret+"2") {
		t.Errorf("bob after restart: %+v %v", r, ok)
	}
	if _, ok := ts.e.LoginRole("carol"); ok {
		t.Error("carol came back after restart")
	}
	ts.mustExec(`CREATE ROLE carol`) // and the dropped name is free
	if _, err := ts.exec(`CREATE ROLE alice`); errCode(err) != pgerror.DuplicateObject {
		t.Errorf("CREATE ROLE alice after restart: %v", err)
	}
}

func TestRoleCatalogRecordMemLog(t *testing.T) {
	l := storage.NewMemLog()
	e, err := NewEngine(EngineOptions{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ts := &testSession{t: t, e: e, s: e.NewSession(SessionOptions{}), ctx: context.Background()}
	ts.mustExec(`CREATE ROLE x LOGIN PASSWORD 'mem-secret'`)
	l.Replay(context.Background(), func(b storage.Batch) error {
		if strings.Contains(string(b.Catalog), "mem-secret") || (b.Catalog != nil && !strings.Contains(string(b.Catalog), "SCRAM-SHA-256$4096:")) {
			t.Errorf("catalog record: %s", b.Catalog)
		}
		return nil
	})
}

func TestRolesInPgRoles(t *testing.T) {
	ts := newTestSession(t) // session user "" is shown as the bootstrap role
	ts.mustExec(`CREATE USER zed PASSWORD 'p'`)
	ts.mustExec(`CREATE ROLE amy NOLOGIN SUPERUSER`)
	got := ts.mustQuery(`SELECT rolname, rolsuper, rolcanlogin, rolpassword FROM pg_roles WHERE oid <> 10 ORDER BY rolname`)
	want := []string{"amy | t | f | ********", "zed | f | t | ********"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pg_roles: %q, want %q", got, want)
	}
	got = ts.mustQuery(`SELECT usename, usesuper FROM pg_user WHERE usesysid <> 10`)
	if strings.Join(got, "|") != "zed | f" {
		t.Errorf("pg_user: %q", got)
	}
}

func TestRolePasswordForms(t *testing.T) {
	ts := newTestSession(t)
	// psql's \password asks for the method and sends a verifier.
	if got := ts.mustQuery(`SHOW password_encryption`); strings.Join(got, "") != "scram-sha-256" {
		t.Errorf("password_encryption: %q", got)
	}
	if _, err := ts.exec(`CREATE USER m PASSWORD 'md50123456789abcdef0123456789abcdef'`); errCode(err) != pgerror.FeatureNotSupported {
		t.Errorf("an MD5 hash as password: %v", err)
	}
	if _, ok := ts.e.LoginRole("m"); ok {
		t.Error("the role with an MD5 hash was created")
	}
	ts.mustExec(`CREATE USER m PASSWORD 'md5-but-not-a-hash'`)
	if r, _ := ts.e.LoginRole("m"); !r.Verifier.CheckPassword("md5-but-not-a-hash") {
		t.Error("a password starting with md5 was not hashed")
	}
}
