package pgwire

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// pipeConn is a net.Conn whose client side is a fixed byte stream: reads
// return the input then EOF, writes are collected.
type pipeConn struct {
	r  *bytes.Reader
	mu sync.Mutex
	w  bytes.Buffer
}

func (c *pipeConn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(b)
}
func (c *pipeConn) Close() error                     { return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

func startupBytes() []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "fuzz"}}).Encode(nil)
	return b
}

func encodeAll(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// fuzzSeeds are client streams (after the startup message) covering every
// message type and flow.
func fuzzSeeds() [][]byte {
	return [][]byte{
		encodeAll(&pgproto3.Query{String: "SELECT 1; gen 3"}, &pgproto3.Terminate{}),
		encodeAll(&pgproto3.Query{String: "SELECT 1; error; SELECT 1"}, &pgproto3.Query{String: ""}),
		encodeAll(
			&pgproto3.Parse{Name: "s", Query: "params int8 text numeric", ParameterOIDs: []uint32{20, 0, 1700}},
			&pgproto3.Describe{ObjectType: 'S', Name: "s"},
			&pgproto3.Bind{PreparedStatement: "s", ParameterFormatCodes: []int16{1, 0, 1},
				Parameters:        [][]byte{{0, 0, 0, 0, 0, 0, 0, 7}, []byte("x"), {0, 1, 0, 0, 0, 0, 0, 1, 0, 5}},
				ResultFormatCodes: []int16{1}},
			&pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{},
			&pgproto3.Close{ObjectType: 'S', Name: "s"},
			&pgproto3.Sync{},
		),
		encodeAll(&pgproto3.Parse{Query: "gen 5"}, &pgproto3.Bind{}, &pgproto3.Execute{MaxRows: 2},
			&pgproto3.Flush{}, &pgproto3.Execute{MaxRows: 2}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		encodeAll(&pgproto3.Parse{Query: "error"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			&pgproto3.Query{String: "panic"}),
		encodeAll(&pgproto3.Query{String: "copy"}, &pgproto3.CopyData{Data: []byte("a\nb\n")}, &pgproto3.CopyDone{},
			&pgproto3.Query{String: "copy"}, &pgproto3.CopyFail{Message: "x"}),
		encodeAll(&pgproto3.Parse{Query: "types"}, &pgproto3.Bind{ResultFormatCodes: []int16{1}}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		encodeAll(&pgproto3.Parse{Query: "params int4"}, &pgproto3.Bind{}, &pgproto3.Sync{}),
		{'Q', 0, 0, 0, 3},
		{'Z', 0, 0, 0, 4},
		{'B', 0x7f, 0xff, 0xff, 0xff, 0},
	}
}

var writeCorpus = flag.Bool("write-fuzz-corpus", false, "write fuzzSeeds to testdata/fuzz/FuzzFrontend")

// TestWriteFuzzCorpus regenerates the committed seed corpus when run with
// -write-fuzz-corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-fuzz-corpus to regenerate testdata/fuzz/FuzzFrontend")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFrontend")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzFrontend feeds arbitrary bytes, after a valid startup message, to a
// server connection backed by the fake session. The server must not panic
// or hang, must produce a well-formed backend stream, and a FATAL error
// (the 08P01 of a protocol violation) must be the last thing it sends.
func FuzzFrontend(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	env := newFakeEnv()
	env.started = make(chan string, 1<<20) // "block" statements must not fill it
	srv := NewServer(Options{NewSession: env.newSession, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, data []byte) {
		pc := &pipeConn{r: bytes.NewReader(append(startupBytes(), data...))}
		srv.ServeConn(pc)

		out := bytes.NewReader(pc.w.Bytes())
		fe := pgproto3.NewFrontend(out, io.Discard)
		var fatal *pgproto3.ErrorResponse
		for out.Len() > 0 || fe.ReadBufferLen() > 0 {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("server wrote a malformed message: %v", err)
			}
			if fatal != nil {
				t.Fatalf("message %T after FATAL %s %s", msg, fatal.Code, fatal.Message)
			}
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				if e.Severity == "FATAL" {
					if e.Code != "08P01" {
						t.Fatalf("FATAL %s %s, want 08P01", e.Code, e.Message)
					}
					fatal = e
				}
				if e.Code == "XX000" && e.Message != "internal error: fake session panic" {
					t.Fatalf("internal error for client input: %s", e.Message)
				}
			}
		}
	})
}
