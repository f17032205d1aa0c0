package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/storage"
)

func init() { commands["serve"] = runServe }

const serveUsage = `usage: tributary serve [--listen HOST:PORT] [--data-dir DIR]
                       [--checkpoint-interval D] [--checkpoint-rows N]
                       [--auth trust|password|scram-sha-256] [--tls-cert FILE --tls-key FILE]

Runs a Tributary server that speaks the PostgreSQL wire protocol. SIGINT or
SIGTERM shut it down cleanly: no new connections, running statements are
cancelled, the engine is closed.

Authentication: trust (the default) lets anyone connect as any user and is
only accepted on a loopback --listen address. To require passwords, start
with trust on loopback, create the login roles
    CREATE USER app WITH PASSWORD '...';
(passwords are stored only as SCRAM-SHA-256 verifiers), then restart with
--auth scram-sha-256 (or --auth password, which sends the password in clear:
use it with TLS). Or let --bootstrap-password-file create the first
superuser (--bootstrap-user, default tributary) when it does not exist yet.
--tls-cert and --tls-key enable TLS (sslmode=require).

With --data-dir, a checkpoint of every table is written in the background
every --checkpoint-interval or --checkpoint-rows written updates, whichever
comes first, and at a clean shutdown, so that a restart reads the latest
checkpoint and the log after it instead of the whole history. CHECKPOINT
takes one at once; tb_catalog.checkpoints and tb_catalog.restart show them.
Writes are refused with SQLSTATE 53100 (disk_full) while the disk has less
free space than --min-free-disk, and resume when space returns.

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
	dataDir := fs.String("data-dir", "", "directory of the durable event log (created if missing); without it, data lives in memory")
	authFlag := fs.String("auth", "trust", "client authentication: trust (loopback only), password or scram-sha-256")
	tlsCert := fs.String("tls-cert", "", "PEM certificate file; with --tls-key, clients may connect over TLS")
	tlsKey := fs.String("tls-key", "", "PEM private key file of --tls-cert")
	ckptInterval := fs.Duration("checkpoint-interval", 5*time.Minute, "with --data-dir: write a checkpoint this often if anything changed (0: never by time)")
	ckptRows := fs.Int64("checkpoint-rows", 1_000_000, "with --data-dir: write a checkpoint once this many updates were written since the last one (0: never by volume)")
	bootUser := fs.String("bootstrap-user", "tributary", "the superuser role --bootstrap-password-file creates")
	tick := fs.Duration("tick-interval", time.Second, "how often the timeline advances with no writes, so that views with temporal filters (mz_now()) drop and add rows as time passes; 0 disables")
	minFree := fs.Int64("min-free-disk", storage.DefaultMinFreeBytes, "with --data-dir: refuse writes (SQLSTATE 53100, reads keep working) while the data directory's disk has less free space than this many bytes; negative: never")
	bootPwFile := fs.String("bootstrap-password-file", "", "file holding the password of --bootstrap-user; at start, that superuser login role is created if it does not exist (an existing role is left as is)")
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
	auth, err := pgwire.ParseAuthMethod(*authFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tributary serve: --auth: %v\n", err)
		return 2
	}
	var tlsConfig *tls.Config
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(os.Stderr, "tributary serve: --tls-cert and --tls-key go together")
		return 2
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tributary serve: loading the TLS certificate: %v\n", err)
			return 2
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Refuse trust on a reachable address before touching the data directory.
	if auth == pgwire.AuthTrust {
		if a, err := net.ResolveTCPAddr("tcp", *listen); err != nil || !pgwire.TrustAllowed(a) {
			fmt.Fprintf(os.Stderr, "tributary serve: --auth trust lets anyone connect as any user, so it is only allowed on a loopback address (--listen 127.0.0.1:PORT or [::1]:PORT), not %q; create login roles with passwords and use --auth scram-sha-256\n", *listen)
			return 2
		}
	}

	opts := sql.EngineOptions{Logger: log, TickInterval: *tick}
	if *tick <= 0 {
		opts.TickInterval = -1
	}
	if *dataDir != "" {
		// Every acknowledged write is synced to the log in the data
		// directory; opening it replays the log into the engine.
		l, err := storage.OpenPebble(*dataDir, &storage.PebbleOptions{Logger: log, MinFreeBytes: *minFree})
		if err != nil {
			log.Error("opening the data directory", "data_dir", *dataDir, "err", err)
			return 1
		}
		opts.Log = l
		opts.Checkpoints = sql.CheckpointOptions{Interval: *ckptInterval, Rows: *ckptRows}
		log.Info("durable storage", "data_dir", *dataDir, "checkpoint_interval", ckptInterval.String(), "checkpoint_rows", *ckptRows)
	} else {
		log.Info("no --data-dir: data lives in memory and is lost at exit")
	}
	eng, err := sql.NewEngine(opts)
	if err != nil {
		log.Error("opening the engine", "err", err)
		if opts.Log != nil {
			opts.Log.Close()
		}
		return 1
	}
	if *bootPwFile != "" {
		if err := bootstrapRole(eng, *bootUser, *bootPwFile, log); err != nil {
			log.Error("creating the bootstrap role", "user", *bootUser, "err", err)
			eng.Close()
			return 1
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listening", "addr", *listen, "err", err)
		eng.Close()
		return 1
	}
	if auth == pgwire.AuthTrust && !pgwire.TrustAllowed(ln.Addr()) {
		// The name resolved to loopback above but the listener is not.
		fmt.Fprintf(os.Stderr, "tributary serve: --auth trust is only allowed on a loopback address, not %s\n", ln.Addr())
		ln.Close()
		eng.Close()
		return 2
	}
	if auth == pgwire.AuthPassword && tlsConfig == nil {
		log.Warn("--auth password without TLS: passwords cross the network in clear")
	}
	srv := pgwire.NewServer(pgwire.Options{
		NewSession: func(o sql.SessionOptions) pgwire.Session { return eng.NewSession(o) },
		Logger:     log,
		Auth:       auth,
		Roles:      eng.LoginRole,
		TLS:        tlsConfig,
	})
	log.Info("client authentication", "auth", string(auth), "tls", tlsConfig != nil)

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
	if *dataDir != "" {
		// The next start then has no log tail to replay.
		if _, err := eng.Checkpoint(context.Background()); err != nil {
			log.Error("the shutdown checkpoint failed; the next start replays the log after the previous one", "err", err)
		}
	}
	if err := eng.Close(); err != nil {
		log.Error("closing the engine", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// bootstrapRole creates the superuser login role user with the password in
// file (one line; the trailing newline is not part of it) unless the role
// exists. Only the password's SCRAM verifier reaches the statement, and so
// the catalog log.
func bootstrapRole(eng *sql.Engine, user, file string, log *slog.Logger) error {
	if _, ok := eng.LoginRole(user); ok {
		log.Info("bootstrap role exists; --bootstrap-password-file is not applied", "user", user)
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return fmt.Errorf("%s holds an empty password", file)
	}
	v, err := sql.NewSCRAMVerifier(pw)
	if err != nil {
		return err
	}
	s := eng.NewSession(sql.SessionOptions{User: user, ApplicationName: "bootstrap"})
	defer s.Close()
	q := `CREATE USER "` + strings.ReplaceAll(user, `"`, `""`) + `" SUPERUSER PASSWORD '` + v.String() + `'`
	sts, err := s.ParseStatements(q)
	if err != nil {
		return err
	}
	ctx := context.Background()
	p, err := s.Prepare(ctx, sts[0], nil)
	if err != nil {
		return err
	}
	if _, err := s.Execute(ctx, p, nil); err != nil {
		return err
	}
	log.Info("created the bootstrap superuser", "user", user)
	return nil
}
