package metrics

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tributary-db/tributary/pgwire"
	"github.com/tributary-db/tributary/sql"
)

// pgEpochUnix is 2000-01-01 in Unix seconds: timestamps count from it.
const pgEpochUnix = 946684800

// Metrics is one server's metrics registry and HTTP handlers. It is safe
// for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	progress *sql.RestoreProgress
	engine   atomic.Pointer[sql.Engine]
	server   atomic.Pointer[pgwire.Server]

	syncSeconds prometheus.Histogram
	syncGroup   prometheus.Histogram
	syncErrors  prometheus.Counter
}

// New returns the metrics of a server whose engine reports its restore to
// progress.
func New(progress *sql.RestoreProgress) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), progress: progress}
	m.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tributary_wal_sync_duration_seconds",
		Help: "Time of each group commit of the event log (one Pebble batch, one WAL sync).",
		// 50µs .. ~0.8s
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 15),
	})
	m.syncGroup = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tributary_wal_sync_group_batches",
		Help:    "Write batches made durable by each group commit (how many commits shared one sync).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
	m.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tributary_wal_sync_errors_total",
		Help: "Group commits that failed (the log then refuses writes until restart).",
	})
	m.reg.MustRegister(m.syncSeconds, m.syncGroup, m.syncErrors, collector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// OnSync records one group commit; pass it as storage.PebbleOptions.OnSync.
func (m *Metrics) OnSync(batches int, d time.Duration, err error) {
	if err != nil {
		m.syncErrors.Inc()
		return
	}
	m.syncSeconds.Observe(d.Seconds())
	m.syncGroup.Observe(float64(batches))
}

// SetEngine makes the server ready: the engine finished its restore.
func (m *Metrics) SetEngine(e *sql.Engine) { m.engine.Store(e) }

// SetServer adds the protocol server's connection counts.
func (m *Metrics) SetServer(s *pgwire.Server) { m.server.Store(s) }

// Ready reports whether the engine finished restoring.
func (m *Metrics) Ready() bool { return m.engine.Load() != nil }

// Registry is the registry the metrics are in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", m.readyz)
	return mux
}

// Readiness is the JSON body of /readyz.
type Readiness struct {
	// Status is "ready" or "starting".
	Status  string          `json:"status"`
	Restore RestoreProgress `json:"restore"`
}

// RestoreProgress is a restore's progress in /readyz.
type RestoreProgress struct {
	Phase           string  `json:"phase"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	CheckpointTime  uint64  `json:"checkpoint_time"`
	CatalogRecords  int     `json:"catalog_records"`
	TablesLoaded    int     `json:"tables_loaded"`
	RowsLoaded      int64   `json:"rows_loaded"`
	ViewsRecomputed int     `json:"views_recomputed"`
	ViewsRestored   int     `json:"views_restored"`
	TailBatches     int     `json:"tail_batches"`
	TailUpdates     int64   `json:"tail_updates"`
}

func (m *Metrics) readyz(w http.ResponseWriter, r *http.Request) {
	p := m.progress.Snapshot()
	body := Readiness{Status: "starting", Restore: RestoreProgress{Phase: p.Phase, ElapsedSeconds: p.Elapsed.Seconds(),
		CheckpointTime: p.CheckpointTime, CatalogRecords: p.CatalogRecords, TablesLoaded: p.TablesLoaded, RowsLoaded: p.RowsLoaded,
		ViewsRecomputed: p.ViewsRecomputed, ViewsRestored: p.ViewsRestored, TailBatches: p.TailBatches, TailUpdates: p.TailUpdates}}
	code := http.StatusServiceUnavailable
	if m.Ready() {
		body.Status, code = "ready", http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}
