package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sqllogictest"
)

func init() { commands["slt"] = runSLT }

const sltUsage = `usage: tributary slt [flags] FILE|DIR...

Runs sqllogictest scripts (*.slt, *.test; directories are walked in sorted
order). Without --url every file runs against a fresh in-memory Tributary
started in-process. Prints one line per file and the totals; exits 0 even
when records fail (the corpus is a measurement) unless --fail-on-failure is
given, and non-zero when a file cannot be run at all.

flags:
`

// runSLT implements "tributary slt".
func runSLT(args []string) int {
	fs := flag.NewFlagSet("slt", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), sltUsage)
		fs.PrintDefaults()
	}
	url := fs.String("url", "", "run against the server at this postgres:// URL instead of an in-process one")
	freshDB := fs.Bool("fresh-db", false, "with --url: create (and drop) a fresh database per file; for PostgreSQL")
	simple := fs.Bool("simple", false, "run records over the simple query protocol instead of the extended one")
	summary := fs.String("summary", "", "write per-file counts to this file, in the format of postgresql15-baseline.txt")
	verbose := fs.Bool("v", false, "print every failed record")
	failOnFailure := fs.Bool("fail-on-failure", false, "exit 1 if any record fails (for the project's own suites)")
	fileTimeout := fs.Duration("file-timeout", 10*time.Minute, "give up on a file after this long")
	engine := fs.String("engine", sqllogictest.DefaultEngine, "engine name for skipif/onlyif")

	// Flags may follow the paths: parse, take one path, parse again.
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		paths, rest = append(paths, rest[0]), rest[1:]
	}
	if len(paths) == 0 {
		fs.Usage()
		return 2
	}
	if *freshDB && *url == "" {
		fmt.Fprintln(os.Stderr, "tributary slt: --fresh-db needs --url")
		return 2
	}
	files, err := sqllogictest.CollectFiles(paths)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tributary slt: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	opts := sqllogictest.Options{Engine: *engine, Simple: *simple, Verbose: *verbose, Out: os.Stdout}
	var lines []string
	var passed, failed int
	runErrors := 0
	for i, f := range files {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "tributary slt: interrupted")
			return 1
		}
		res, err := runSLTFile(ctx, f, i, *url, *freshDB, *fileTimeout, opts)
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			// The engine hung: a failure of the file, not of the runner.
			fmt.Fprintf(os.Stderr, "%s: timed out after %s\n", f.Name, *fileTimeout)
		default:
			fmt.Fprintf(os.Stderr, "%s: %v\n", f.Name, err)
			runErrors++
		}
		line := res.Summary(f.Name)
		fmt.Println(line)
		lines = append(lines, line)
		passed += res.Passed
		failed += res.Failed
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)

	if *summary != "" {
		proto := "extended"
		if *simple {
			proto = "simple"
		}
		target := "a fresh in-process Tributary per file"
		if *url != "" {
			target = "--url"
			if *freshDB {
				target += " with a fresh database per file"
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# Records that tributary slt passes per file (engine name %s, %s protocol, %s)\n", *engine, proto, target)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(*summary, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "tributary slt: %v\n", err)
			return 1
		}
	}
	switch {
	case runErrors > 0:
		return 1
	case *failOnFailure && failed > 0:
		return 1
	}
	return 0
}

// runSLTFile runs one file against its own server (or database) under the
// per-file timeout.
func runSLTFile(ctx context.Context, f sqllogictest.File, i int, url string, freshDB bool,
	timeout time.Duration, opts sqllogictest.Options) (sqllogictest.FileResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := sqllogictest.FileResult{Path: f.Path}
	switch {
	case url == "":
		u, stop, err := startSLTServer()
		if err != nil {
			return res, err
		}
		defer stop()
		url = u
	case freshDB:
		u, drop, err := sqllogictest.FreshDatabase(ctx, url, fmt.Sprintf("tributary_slt_%d_%d", os.Getpid(), i))
		if err != nil {
			return res, err
		}
		defer drop()
		url = u
	}
	return sqllogictest.RunFile(ctx, url, f.Path, opts)
}

// startSLTServer starts an in-memory engine behind a pgwire server on a
// loopback port and returns its URL and a function that stops both.
func startSLTServer() (string, func(), error) {
	eng, err := sql.NewEngine(sql.EngineOptions{})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		return "", nil, err
	}
	srv := pgwire.NewServer(pgwire.Options{
		NewSession: func(o sql.SessionOptions) pgwire.Session { return eng.NewSession(o) },
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	go srv.Serve(ln)
	stop := func() {
		// Close waits for every connection's goroutines; a statement that
		// ignores cancellation must not hang the whole run, so give up
		// waiting (and leak the server) after a while.
		done := make(chan struct{})
		go func() {
			srv.Close()
			eng.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "tributary slt: server did not shut down within 30s; abandoning it")
		}
	}
	url := fmt.Sprintf("postgres://tributary@%s/tributary?sslmode=disable", ln.Addr())
	return url, stop, nil
}
