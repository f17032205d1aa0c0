package pgwire

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-db/tributary/sql"
)

// syncBuffer collects log output from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type authServer struct {
	addr string
	logs *syncBuffer
}

// startAuthServer serves a real engine with the given authentication and
// TLS configuration, after running setup statements (trust-free: directly
// on an engine session).
func startAuthServer(t *testing.T, auth AuthMethod, tlsConfig *tls.Config, setup ...string) *authServer {
	t.Helper()
	eng, err := sql.NewEngine(sql.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := eng.NewSession(sql.SessionOptions{User: "setup"})
	for _, q := range setup {
		sts, err := s.ParseStatements(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			p, err := s.Prepare(context.Background(), st, nil)
			if err == nil {
				_, err = s.Execute(context.Background(), p, nil)
			}
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := NewServer(Options{
		NewSession: func(o sql.SessionOptions) Session { return eng.NewSession(o) },
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		Auth:       auth,
		Roles:      eng.LoginRole,
		TLS:        tlsConfig,
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
		eng.Close()
	})
	return &authServer{addr: ln.Addr().String(), logs: logs}
}

var authSetup = []string{
	`CREATE USER app WITH PASSWORD 'app-pw'`,
	`CREATE ROLE nopw LOGIN`,
	`CREATE ROLE locked NOLOGIN PASSWORD 'locked-pw'`,
}

func TestPasswordAuthentication(t *testing.T) {
	for _, method := range []AuthMethod{AuthPassword, AuthSCRAM} {
		t.Run(string(method), func(t *testing.T) {
			as := startAuthServer(t, method, nil, authSetup...)
			connect := func(user, pw string) (*pgx.Conn, error) {
				// pgx answers whichever request the server sends:
				// cleartext or SCRAM (and checks the server's signature).
				cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", user, as.addr))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Password = pw
				return pgx.ConnectConfig(testCtx(t), cfg)
			}

			conn, err := connect("app", "app-pw")
			if err != nil {
				t.Fatalf("app with the right password: %v", err)
			}
			selectOne(t, conn)
			// The session can change the password; the new one counts.
			if _, err := conn.Exec(testCtx(t), `ALTER ROLE app PASSWORD 'new-pw'`); err != nil {
				t.Fatal(err)
			}
			conn.Close(context.Background())
			if conn, err := connect("app", "new-pw"); err != nil {
				t.Errorf("app with the new password: %v", err)
			} else {
				conn.Close(context.Background())
			}

			for _, c := range []struct{ user, pw, code string }{
				{"app", "app-pw", "28P01"}, // the old password
				{"app", "wrong-pw-123", "28P01"},
				{"app", "", "28P01"},
				{"ghost", "whatever-pw", "28P01"},
				{"nopw", "anything-pw", "28P01"},
				{"locked", "locked-pw", "28000"},
			} {
				conn, err := connect(c.user, c.pw)
				if err == nil {
					conn.Close(context.Background())
					t.Errorf("%s/%q logged in", c.user, c.pw)
					continue
				}
				pe := wantCode(t, err, c.code)
				if c.code == "28P01" && pe.Message != fmt.Sprintf("password authentication failed for user %q", c.user) {
					t.Errorf("%s: message %q", c.user, pe.Message)
				}
				if pe.Severity != "FATAL" {
					t.Errorf("%s: severity %s", c.user, pe.Severity)
				}
			}
			logs := as.logs.String()
			if !strings.Contains(logs, "password authentication failed") || !strings.Contains(logs, "user=ghost") {
				t.Errorf("failed logins are not logged:\n%s", logs)
			}
			for _, pw := range []string{"wrong-pw-123", "whatever-pw", "anything-pw", "new-pw"} {
				if strings.Contains(logs, pw) {
					t.Errorf("the log holds the password %q:\n%s", pw, logs)
				}
			}
		})
	}
}

func TestTrustNeedsNoRole(t *testing.T) {
	as := startAuthServer(t, AuthTrust, nil)
	conn, err := pgx.Connect(testCtx(t), fmt.Sprintf("postgres://anyone@%s/postgres?sslmode=disable", as.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	selectOne(t, conn)
}

func TestTrustAllowed(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "0.0.0.0:1": false, "[::]:1": false, "10.1.2.3:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := TrustAllowed(a); got != want {
			t.Errorf("TrustAllowed(%s) = %v", addr, got)
		}
	}
}

// selfSignedTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tributary test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestTLS(t *testing.T) {
	as := startAuthServer(t, AuthSCRAM, selfSignedTLS(t), authSetup...)
	conn, err := pgx.Connect(testCtx(t), fmt.Sprintf("postgres://app:app-pw@%s/postgres?sslmode=require", as.addr))
	if err != nil {
		t.Fatalf("sslmode=require: %v", err)
	}
	defer conn.Close(context.Background())
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("the connection is a %T, not TLS", conn.PgConn().Conn())
	}
	selectOne(t, conn)
	// A wrong password over TLS still fails.
	_, err = pgx.Connect(testCtx(t), fmt.Sprintf("postgres://app:nope@%s/postgres?sslmode=require", as.addr))
	wantCode(t, err, "28P01")
	// Without a certificate the server declines: sslmode=require fails and
	// sslmode=prefer falls back to plain.
	plain := startAuthServer(t, AuthTrust, nil)
	if c, err := pgx.Connect(testCtx(t), fmt.Sprintf("postgres://x@%s/postgres?sslmode=require", plain.addr)); err == nil {
		c.Close(context.Background())
		t.Error("sslmode=require connected to a server without TLS")
	}
	c, err := pgx.Connect(testCtx(t), fmt.Sprintf("postgres://x@%s/postgres?sslmode=prefer", plain.addr))
	if err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
}

func TestPsqlPassword(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not on PATH; skipping the psql authentication test")
	}
	for _, method := range []AuthMethod{AuthPassword, AuthSCRAM} {
		t.Run(string(method), func(t *testing.T) {
			as := startAuthServer(t, method, selfSignedTLS(t), authSetup...)
			host, port, _ := net.SplitHostPort(as.addr)
			run := func(pw, sslmode string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, psql, "-X", "-w", "-h", host, "-p", port, "-U", "app", "-d", "postgres", "-tA", "-c", "SELECT 41 + 1")
				cmd.Env = append(os.Environ(), "PGPASSWORD="+pw, "PGSSLMODE="+sslmode, "PGCONNECT_TIMEOUT=10", "PGPASSFILE=/nonexistent")
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			for _, sslmode := range []string{"disable", "require"} {
				out, err := run("app-pw", sslmode)
				if err != nil || strings.TrimSpace(out) != "42" {
					t.Errorf("psql sslmode=%s with the right password: %v\n%s", sslmode, err, out)
				}
			}
			out, err := run("bad-pw", "disable")
			if err == nil || !strings.Contains(out, `password authentication failed for user "app"`) {
				t.Errorf("psql with a wrong password: %v\n%s", err, out)
			}
		})
	}
}

// TestSCRAMProtocolViolations sends malformed SASL messages by hand: each
// is a FATAL 08P01, never a login.
func TestSCRAMProtocolViolations(t *testing.T) {
	as := startAuthServer(t, AuthSCRAM, nil, authSetup...)
	start := func(t *testing.T) *pgproto3.Frontend {
		_, fe := dialStartup(t, as.addr, "app")
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := msg.(*pgproto3.AuthenticationSASL); !ok || len(m.AuthMechanisms) != 1 || m.AuthMechanisms[0] != "SCRAM-SHA-256" {
			t.Fatalf("got %#v, want AuthenticationSASL SCRAM-SHA-256", msg)
		}
		return fe
	}
	first := func(t *testing.T, mech, data string) *pgproto3.Frontend {
		fe := start(t)
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(data)})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		return fe
	}
	for name, c := range map[string][2]string{
		"mechanism":       {"SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"},
		"channel binding": {"SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abc"},
		"authzid":         {"SCRAM-SHA-256", "n,a=admin,n=,r=abc"},
		"no nonce":        {"SCRAM-SHA-256", "n,,n="},
		"empty":           {"SCRAM-SHA-256", ""},
		"extension":       {"SCRAM-SHA-256", "n,,m=x,n=,r=abc"},
	} {
		t.Run(name, func(t *testing.T) { expectFatal(t, first(t, c[0], c[1]), "08P01") })
	}

	// A client-final message that does not continue the exchange.
	final := func(t *testing.T, makeFinal func(nonce string) string) *pgproto3.Frontend {
		fe := first(t, "SCRAM-SHA-256", "n,,n=,r=clientnonce")
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		cont, ok := msg.(*pgproto3.AuthenticationSASLContinue)
		if !ok {
			t.Fatalf("got %#v, want AuthenticationSASLContinue", msg)
		}
		r, _, _ := strings.Cut(strings.TrimPrefix(string(cont.Data), "r="), ",")
		if !strings.HasPrefix(r, "clientnonce") || len(r) <= len("clientnonce") {
			t.Fatalf("server nonce %q does not extend the client's", r)
		}
		fe.Send(&pgproto3.SASLResponse{Data: []byte(makeFinal(r))})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		return fe
	}
	proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	t.Run("nonce mismatch", func(t *testing.T) {
		expectFatal(t, final(t, func(string) string { return "c=biws,r=other,p=" + proof }), "08P01")
	})
	t.Run("channel binding data", func(t *testing.T) {
		expectFatal(t, final(t, func(r string) string { return "c=eSws,r=" + r + ",p=" + proof }), "08P01")
	})
	t.Run("wrong proof", func(t *testing.T) {
		expectFatal(t, final(t, func(r string) string { return "c=biws,r=" + r + ",p=" + proof }), "28P01")
	})
}

// TestSCRAMMockSalt checks that an unknown user cannot be told from a real
// one by its salt: the mock salt is the same at every attempt.
func TestSCRAMMockSalt(t *testing.T) {
	as := startAuthServer(t, AuthSCRAM, nil, authSetup...)
	salt := func(user string) string {
		nc, err := net.Dial("tcp", as.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
		fe := pgproto3.NewFrontend(nc, nc)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": user}})
		fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=nonce")})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := msg.(*pgproto3.AuthenticationSASLContinue); ok {
				_, s, _ := strings.Cut(string(m.Data), ",s=")
				return s
			}
		}
	}
	for _, user := range []string{"app", "ghost", "nopw"} {
		if a, b := salt(user), salt(user); a != b || a == "" {
			t.Errorf("%s: salts %q and %q differ", user, a, b)
		}
	}
	if salt("ghost") == salt("nopw") {
		t.Error("two mock users share a salt")
	}
}

// FuzzSCRAMClientMessages feeds arbitrary client-first and client-final
// messages to the parsers: they return an error or well-formed parts, and
// never panic.
func FuzzSCRAMClientMessages(f *testing.F) {
	f.Add("n,,n=,r=rOprNGfwEbeRWgbNEkqO", "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	f.Add("y,,n=user,r=abc,ext=1", "c=eSws,r=abcdef,p=")
	f.Add("p=tls-server-end-point,,n=,r=x", ",p=")
	f.Add("n,a=x,n=,r=y", "c=biws,p=AAAA")
	f.Fuzz(func(t *testing.T, first, final string) {
		gs2, bare, nonce, err := parseClientFirst(first)
		if err != nil {
			return
		}
		if gs2+bare != first || nonce == "" || !strings.Contains(bare, "r="+nonce) {
			t.Fatalf("parseClientFirst(%q) = %q, %q, %q", first, gs2, bare, nonce)
		}
		withoutProof, proof, err := parseClientFinal(final, gs2, nonce+"srv")
		if err == nil && (len(proof) != sha256.Size || !strings.HasPrefix(final, withoutProof+",p=")) {
			t.Fatalf("parseClientFinal(%q) = %q, %x", final, withoutProof, proof)
		}
	})
}
