package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/sql"
)

func init() { commands["serve"] = runServe }

const serveUsage = `usage: tributary serve [--listen HOST:PORT] [--data-dir DIR]

Runs a Tributary server that speaks the PostgreSQL wire protocol. SIGINT or
SIGTERM shut it down cleanly: no new connections, running statements are
cancelled, the engine is closed.

flags:
`

// runServe implements "tributary serve".
func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:6877", "address to accept PostgreSQL connections on")
	dataDir := fs.String("data-dir", "", "directory for durable storage (not wired yet: data is kept in memory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "tributary serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if *dataDir != "" {
		// sql.EngineOptions has no data directory yet (only an in-memory
		// storage.Log exists); say so rather than pretend to be durable.
		log.Warn("durable storage is not wired yet; --data-dir is ignored and data lives in memory", "data_dir", *dataDir)
	}
	eng, err := sql.NewEngine(sql.EngineOptions{Logger: log})
	if err != nil {
		log.Error("opening the engine", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listening", "addr", *listen, "err", err)
		eng.Close()
		return 1
	}
	srv := pgwire.NewServer(pgwire.Options{
		NewSession: func(o sql.SessionOptions) pgwire.Session { return eng.NewSession(o) },
		Logger:     log,
	})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	host, port, _ := net.SplitHostPort(ln.Addr().String())
	log.Info("tributary is ready", "addr", ln.Addr().String())
	fmt.Printf("connect with: psql \"host=%s port=%s user=tributary dbname=postgres\"\n", host, port)

	code := 0
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case err := <-served:
		// Serve only returns early on a listener failure.
		log.Error("accepting connections", "err", err)
		code = 1
	}
	if err := srv.Close(); err != nil {
		log.Error("closing the server", "err", err)
		code = 1
	}
	if err := eng.Close(); err != nil {
		log.Error("closing the engine", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}
