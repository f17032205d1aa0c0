package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tributary-db/tributary/metrics"
	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/source"
	"github.com/tributary-db/tributary/sql"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/storage"
)

func init() { commands["serve"] = runServe }

const serveUsage = `usage: tributary serve [--listen HOST:PORT] [--data-dir DIR] [--metrics-listen HOST:PORT] [--webhook-listen HOST:PORT]
                       [--checkpoint-interval D] [--checkpoint-rows N]
                       [--gc-percent N] [--memory-limit BYTES] [--idle-in-transaction-session-timeout D]
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

Clients may connect at once: while the engine restores its log they are
refused with SQLSTATE 57P03 ("the database system is starting up", with the
restore's progress in the DETAIL), as PostgreSQL does during recovery.
--metrics-listen serves Prometheus metrics on /metrics, liveness on /healthz
and readiness on /readyz (503 with the restore's progress as JSON while it
restores); docs/operations.md lists the metrics.

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
	metricsListen := fs.String("metrics-listen", "", "address (e.g. 127.0.0.1:9187) to serve Prometheus metrics on /metrics, /healthz and /readyz over HTTP; empty: off")
	webhookListen := fs.String("webhook-listen", "", "address (e.g. 127.0.0.1:6878) to accept events for WEBHOOK sources on, over HTTP: POST /api/webhook/<schema>/<source>; empty: off")
	dataDir := fs.String("data-dir", "", "directory of the durable event log (created if missing); without it, data lives in memory")
	authFlag := fs.String("auth", "trust", "client authentication: trust (loopback only), password or scram-sha-256")
	tlsCert := fs.String("tls-cert", "", "PEM certificate file; with --tls-key, clients may connect over TLS")
	tlsKey := fs.String("tls-key", "", "PEM private key file of --tls-cert")
	ckptInterval := fs.Duration("checkpoint-interval", 5*time.Minute, "with --data-dir: write a checkpoint this often if anything changed (0: never by time)")
	ckptRows := fs.Int64("checkpoint-rows", 1_000_000, "with --data-dir: write a checkpoint once this many updates were written since the last one (0: never by volume)")
	bootUser := fs.String("bootstrap-user", "tributary", "the superuser role --bootstrap-password-file creates")
	tick := fs.Duration("tick-interval", time.Second, "how often the timeline advances with no writes, so that views with temporal filters (mz_now()) drop and add rows as time passes; 0 disables")
	minFree := fs.Int64("min-free-disk", storage.DefaultMinFreeBytes, "with --data-dir: refuse writes (SQLSTATE 53100, reads keep working) while the data directory's disk has less free space than this many bytes; negative: never")
	gcPercent := fs.Int("gc-percent", 0, "the Go garbage collector's target (GOGC): collect when the heap has grown this many percent over the live data; higher trades memory for CPU (docs/operations.md); 0: GOGC or Go's 100")
	memLimit := fs.Int64("memory-limit", 0, "a soft limit in bytes on the process' memory (GOMEMLIMIT): the collector runs more often near it, whatever --gc-percent says; 0: GOMEMLIMIT or none")
	idleInTx := fs.Duration("idle-in-transaction-session-timeout", 0, "end a connection that holds a transaction block open without sending anything for this long (FATAL 25P03; its transaction rolls back): the default of every session's idle_in_transaction_session_timeout, which a client may change; 0: never, as PostgreSQL. A block that ran DDL holds every other session's statements until it ends (docs/architecture.md), so a forgotten one stops the server without it")
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile (go tool pprof) of the whole run to this file, finished at shutdown; for performance work")
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
	if *gcPercent < 0 || *memLimit < 0 {
		fmt.Fprintln(os.Stderr, "tributary serve: --gc-percent and --memory-limit must not be negative")
		return 2
	}
	if *gcPercent > 0 {
		debug.SetGCPercent(*gcPercent)
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tributary serve: --cpu-profile: %v\n", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "tributary serve: --cpu-profile: %v\n", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Error("writing the CPU profile", "file", *cpuProfile, "err", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
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

	return serve(ctx, serveConfig{
		listen: *listen, metricsListen: *metricsListen, webhookListen: *webhookListen, dataDir: *dataDir, auth: auth, tls: tlsConfig,
		checkpoints: sql.CheckpointOptions{Interval: *ckptInterval, Rows: *ckptRows}, tick: *tick, minFree: *minFree,
		bootUser: *bootUser, bootPwFile: *bootPwFile, idleInTx: *idleInTx,
	}, log)
}

// serveConfig is serve's validated configuration.
type serveConfig struct {
	listen, metricsListen, dataDir string
	webhookListen                  string
	auth                           pgwire.AuthMethod
	tls                            *tls.Config
	checkpoints                    sql.CheckpointOptions
	tick                           time.Duration
	minFree                        int64
	bootUser, bootPwFile           string
	idleInTx                       time.Duration
}

// serveHooks let tests watch and steer serve; all nil in production.
var serveHooks struct {
	// restorePhase is the engine's RestorePhaseHook.
	restorePhase func(phase string)
	// listening is called once both listeners are open (metrics is nil
	// without --metrics-listen), before the restore starts.
	listening func(pg, metrics net.Addr)
	// ready is called once connections are served normally.
	ready func()
}

// serve runs the server until ctx is done. The listeners open before the
// engine restores its log: meanwhile /readyz and the metrics report the
// restore's progress and every client connection is refused with 57P03,
// as PostgreSQL does while it recovers.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger) int {
	progress := &sql.RestoreProgress{}
	// The collector stays off while a checkpoint loads (see
	// sql.CollectorWhileLoading: a restart of 3M rows spent more than half
	// its time marking the state it was loading); serve owns the process,
	// so the process-wide setting is its to change.
	var collector sql.CollectorWhileLoading
	phase := func(p string) {
		collector.Phase(p)
		if serveHooks.restorePhase != nil {
			serveHooks.restorePhase(p)
		}
	}
	opts := sql.EngineOptions{Logger: log, TickInterval: cfg.tick, Progress: progress, RestorePhaseHook: phase,
		IdleInTransactionSessionTimeout: cfg.idleInTx}
	if cfg.tick <= 0 {
		opts.TickInterval = -1
	}
	var m *metrics.Metrics
	if cfg.metricsListen != "" {
		m = metrics.New(progress)
	}

	// The pgwire listener first, so that a taken port fails before the data
	// directory is opened.
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		log.Error("listening", "addr", cfg.listen, "err", err)
		return 1
	}
	if cfg.auth == pgwire.AuthTrust && !pgwire.TrustAllowed(ln.Addr()) {
		// The name resolved to loopback above but the listener is not.
		fmt.Fprintf(os.Stderr, "tributary serve: --auth trust is only allowed on a loopback address, not %s\n", ln.Addr())
		ln.Close()
		return 2
	}
	var metricsSrv *http.Server
	var metricsAddr net.Addr
	if m != nil {
		mln, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			log.Error("listening for metrics", "addr", cfg.metricsListen, "err", err)
			ln.Close()
			return 1
		}
		metricsAddr = mln.Addr()
		metricsSrv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serving metrics", "err", err)
			}
		}()
		defer metricsSrv.Close()
		log.Info("metrics", "addr", "http://"+mln.Addr().String()+"/metrics")
	}

	if cfg.dataDir != "" {
		// Every acknowledged write is synced to the log in the data
		// directory; opening it replays the log into the engine.
		po := &storage.PebbleOptions{Logger: log, MinFreeBytes: cfg.minFree}
		if m != nil {
			po.OnSync = m.OnSync
		}
		l, err := storage.OpenPebble(cfg.dataDir, po)
		if err != nil {
			log.Error("opening the data directory", "data_dir", cfg.dataDir, "err", err)
			ln.Close()
			return 1
		}
		opts.Log = l
		opts.Checkpoints = cfg.checkpoints
		log.Info("durable storage", "data_dir", cfg.dataDir, "checkpoint_interval", cfg.checkpoints.Interval.String(), "checkpoint_rows", cfg.checkpoints.Rows)
	} else {
		log.Info("no --data-dir: data lives in memory and is lost at exit")
	}
	if cfg.auth == pgwire.AuthPassword && cfg.tls == nil {
		log.Warn("--auth password without TLS: passwords cross the network in clear")
	}

	// ready holds the engine once it restored (and the bootstrap role is
	// there); until then connections are refused with 57P03.
	var ready atomic.Pointer[sql.Engine]
	srv := pgwire.NewServer(pgwire.Options{
		NewSession: func(o sql.SessionOptions) pgwire.Session { return ready.Load().NewSession(o) },
		Logger:     log,
		Auth:       cfg.auth,
		Roles:      func(name string) (sql.LoginRole, bool) { return ready.Load().LoginRole(name) },
		TLS:        cfg.tls,
		Unavailable: func() error {
			if ready.Load() != nil {
				return nil
			}
			return &pgerror.Error{Code: pgerror.CannotConnectNow, Message: "the database system is starting up",
				Detail: progress.Snapshot().Describe()}
		},
	})
	if m != nil {
		m.SetServer(srv)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var webhookSrv *http.Server
	if cfg.webhookListen != "" {
		wln, err := net.Listen("tcp", cfg.webhookListen)
		if err != nil {
			log.Error("listening for webhooks", "addr", cfg.webhookListen, "err", err)
			srv.Close()
			if opts.Log != nil {
				opts.Log.Close()
			}
			return 1
		}
		find := func(schema, name string) (*source.Webhook, error) {
			eng := ready.Load()
			if eng == nil {
				return nil, pgerror.New(pgerror.ObjectNotInPrerequisiteState, "the server is starting up: %s", progress.Snapshot().Describe())
			}
			return eng.Webhook(schema, name)
		}
		mux := http.NewServeMux()
		mux.Handle("/api/webhook/", source.WebhookHandler(find))
		webhookSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := webhookSrv.Serve(wln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serving webhooks", "err", err)
			}
		}()
		defer webhookSrv.Close()
		log.Info("webhooks", "addr", "http://"+wln.Addr().String()+"/api/webhook/<schema>/<source>")
	}
	log.Info("client authentication", "auth", string(cfg.auth), "tls", cfg.tls != nil)
	log.Info("accepting connections; they are refused with 57P03 until the engine has restored its log", "addr", ln.Addr().String())
	if serveHooks.listening != nil {
		serveHooks.listening(ln.Addr(), metricsAddr)
	}

	eng, err := sql.NewEngine(opts)
	collector.End()
	if err != nil {
		log.Error("opening the engine", "err", err)
		srv.Close()
		if opts.Log != nil {
			opts.Log.Close()
		}
		return 1
	}
	if cfg.bootPwFile != "" {
		if err := bootstrapRole(eng, cfg.bootUser, cfg.bootPwFile, log); err != nil {
			log.Error("creating the bootstrap role", "user", cfg.bootUser, "err", err)
			srv.Close()
			eng.Close()
			return 1
		}
	}
	ready.Store(eng)
	if m != nil {
		m.SetEngine(eng)
	}

	host, port, _ := net.SplitHostPort(ln.Addr().String())
	log.Info("tributary is ready", "addr", ln.Addr().String())
	if serveHooks.ready != nil {
		serveHooks.ready()
	}
	fmt.Printf("connect with: psql \"host=%s port=%s user=tributary dbname=postgres\"\n", host, port)

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx).Error())
	case err := <-served:
		// Serve only returns early on a listener failure.
		log.Error("accepting connections", "err", err)
		code = 1
	}
	if err := srv.Close(); err != nil {
		log.Error("closing the server", "err", err)
		code = 1
	}
	if webhookSrv != nil {
		webhookSrv.Close() // requests waiting for a commit are answered 503
	}
	if cfg.dataDir != "" {
		// The next start then has no log tail to replay (sources stop
		// writing first).
		eng.StopSources()
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
