package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-db/tributary/sql"
)

// collector reads the engine's and the server's state at scrape time.
type collector struct{ m *Metrics }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dReady          = desc("tributary_ready", "1 once the engine has restored its log and serves queries, 0 while it restores.")
	dRestorePhase   = desc("tributary_restore_phase", "1 for the restore's current phase (done once restored), 0 for the others.", "phase")
	dRestoreElapsed = desc("tributary_restore_elapsed_seconds", "Time the restore has taken so far, or took in all once done.")
	dRestoreCatalog = desc("tributary_restore_catalog_records", "Catalog records (DDL statements) replayed by the restore.")
	dRestoreTables  = desc("tributary_restore_tables_loaded", "Tables loaded from the checkpoint by the restore.")
	dRestoreRows    = desc("tributary_restore_rows_loaded", "Rows loaded from the checkpoint by the restore.")
	dRestoreViews   = desc("tributary_restore_views_recomputed", "Materialized views recomputed from the checkpoint's tables by the restore.")
	dRestoreLoaded  = desc("tributary_restore_views_restored", "Materialized views loaded from their checkpointed operator state by the restore.")
	dRestoreBatches = desc("tributary_restore_tail_batches", "Write batches replayed from the log by the restore.")
	dRestoreUpdates = desc("tributary_restore_tail_updates", "Updates in the write batches replayed by the restore.")
	dRestoreCkpt    = desc("tributary_restore_checkpoint_time_seconds", "Unix time the checkpoint the restore started from is valid at (0: none).")

	dCommits     = desc("tributary_commits_total", "Write batches committed (autocommit writes, COMMITs that wrote, COPY, retention expiry).")
	dRowsWritten = desc("tributary_rows_written_total", "Updates (row insertions and deletions) committed.")
	dQueries     = desc("tributary_queries_total", "Statements executed, by kind.", "type")
	dErrors      = desc("tributary_query_errors_total", "Statements that failed, by SQLSTATE class (the code's first two characters).", "class")
	dLastWrite   = desc("tributary_last_write_time_seconds", "Unix time of the latest write's timestamp.")

	dViewRows        = desc("tributary_view_rows", "Rows in a materialized view's output arrangement.", "schema", "view")
	dViewSteps       = desc("tributary_view_steps_total", "Times a materialized view's dataflow was stepped.", "schema", "view")
	dViewStepSecs    = desc("tributary_view_step_seconds_total", "Total time spent stepping a materialized view's dataflow.", "schema", "view")
	dViewFailed      = desc("tributary_view_failed", "1 while a materialized view holds an error (its definition fails on the current data).", "schema", "view")
	dViewLate        = desc("tributary_view_late_rows_dropped_total", "Rows an EMIT ON WINDOW CLOSE view dropped because their window had closed.", "schema", "view")
	dSourceRows      = desc("tributary_source_rows_total", "Updates a source's connector committed in this process.", "schema", "source")
	dSourceBatches   = desc("tributary_source_batches_total", "Batches (one durable write each, with the source's position) a source's connector committed in this process.", "schema", "source")
	dSourceMalformed = desc("tributary_source_malformed_total", "Messages a source skipped because they could not become a row (invalid JSON, a value of the wrong type, a NULL in a NOT NULL column), since the source was created.", "schema", "source")
	dSourceHealthy   = desc("tributary_source_healthy", "1 while a source is running or has finished, 0 while it waits for disk space, retries a failed connector or is stopped.", "schema", "source")
	dWatermark       = desc("tributary_table_watermark_seconds", "A table's watermark as Unix time (absent before its first row).", "schema", "table")

	dCkptTime     = desc("tributary_checkpoint_last_time_seconds", "Unix time the latest checkpoint is valid at (0: none).")
	dCkptTaken    = desc("tributary_checkpoint_last_taken_seconds", "Unix time the latest checkpoint written by this process was started (0: none).")
	dCkptDuration = desc("tributary_checkpoint_last_duration_seconds", "How long the latest checkpoint written by this process took.")
	dCkptRows     = desc("tributary_checkpoint_last_rows", "Rows in the latest checkpoint.")
	dCkptTables   = desc("tributary_checkpoint_last_tables", "Tables in the latest checkpoint.")
	dCkptWritten  = desc("tributary_checkpoints_written_total", "Checkpoints written by this process.")
	dCkptFailed   = desc("tributary_checkpoint_last_failed", "1 if the latest checkpoint attempt failed.")

	dConnsOpen     = desc("tributary_connections_open", "Client connections being served.")
	dConnsAccepted = desc("tributary_connections_accepted_total", "Client connections accepted.")
	dConnsRefused  = desc("tributary_connections_refused_total", "Client connections refused with 57P03 while the engine restored.")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dReady, dRestorePhase, dRestoreElapsed, dRestoreCatalog, dRestoreTables, dRestoreRows,
		dRestoreViews, dRestoreLoaded, dRestoreBatches, dRestoreUpdates, dRestoreCkpt, dCommits, dRowsWritten, dQueries, dErrors, dLastWrite,
		dViewRows, dViewSteps, dViewStepSecs, dViewFailed, dViewLate, dSourceRows, dSourceBatches, dSourceMalformed, dSourceHealthy, dWatermark,
		dCkptTime, dCkptTaken, dCkptDuration, dCkptRows, dCkptTables, dCkptWritten, dCkptFailed,
		dConnsOpen, dConnsAccepted, dConnsRefused} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixMillis converts a timeline time (Unix milliseconds) to seconds.
func unixMillis(t uint64) float64 { return float64(t) / 1000 }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	p := m.progress.Snapshot()
	gauge(ch, dReady, boolean(m.Ready()))
	for _, ph := range sql.RestorePhases {
		gauge(ch, dRestorePhase, boolean(p.Phase == ph), ph)
	}
	gauge(ch, dRestoreElapsed, p.Elapsed.Seconds())
	gauge(ch, dRestoreCatalog, float64(p.CatalogRecords))
	gauge(ch, dRestoreTables, float64(p.TablesLoaded))
	gauge(ch, dRestoreRows, float64(p.RowsLoaded))
	gauge(ch, dRestoreViews, float64(p.ViewsRecomputed))
	gauge(ch, dRestoreLoaded, float64(p.ViewsRestored))
	gauge(ch, dRestoreBatches, float64(p.TailBatches))
	gauge(ch, dRestoreUpdates, float64(p.TailUpdates))
	gauge(ch, dRestoreCkpt, unixMillis(p.CheckpointTime))

	if srv := m.server.Load(); srv != nil {
		st := srv.Stats()
		gauge(ch, dConnsOpen, float64(st.Open))
		counter(ch, dConnsAccepted, float64(st.Accepted))
		counter(ch, dConnsRefused, float64(st.Refused))
	}

	e := m.engine.Load()
	if e == nil {
		return // restoring: the engine's lock is held until it is done
	}
	s := e.Stats()
	counter(ch, dCommits, float64(s.Commits))
	counter(ch, dRowsWritten, float64(s.RowsWritten))
	for kind, n := range s.Statements {
		counter(ch, dQueries, float64(n), kind)
	}
	for class, n := range s.Errors {
		counter(ch, dErrors, float64(n), class)
	}
	gauge(ch, dLastWrite, unixMillis(s.LastTime))
	for _, v := range s.Views {
		gauge(ch, dViewRows, float64(v.Rows), v.Schema, v.Name)
		counter(ch, dViewSteps, float64(v.Steps), v.Schema, v.Name)
		counter(ch, dViewStepSecs, v.StepTime.Seconds(), v.Schema, v.Name)
		gauge(ch, dViewFailed, boolean(v.Failed), v.Schema, v.Name)
		if v.EmitOnWindowClose {
			counter(ch, dViewLate, float64(v.LateRows), v.Schema, v.Name)
		}
	}
	for _, src := range s.Sources {
		counter(ch, dSourceRows, float64(src.Rows), src.Schema, src.Name)
		counter(ch, dSourceBatches, float64(src.Batches), src.Schema, src.Name)
		counter(ch, dSourceMalformed, float64(src.Malformed), src.Schema, src.Name)
		gauge(ch, dSourceHealthy, boolean(src.Status == "running" || src.Status == "finished"), src.Schema, src.Name)
	}
	for _, w := range s.Watermarks {
		if w.Set {
			gauge(ch, dWatermark, float64(w.Micros)/1e6+pgEpochUnix, w.Schema, w.Table)
		}
	}
	ck := s.Checkpoint
	gauge(ch, dCkptTime, unixMillis(ck.ValidAt))
	taken := 0.0
	if !ck.Taken.IsZero() {
		taken = float64(ck.Taken.UnixNano()) / 1e9
	}
	gauge(ch, dCkptTaken, taken)
	gauge(ch, dCkptDuration, ck.Duration.Seconds())
	gauge(ch, dCkptRows, float64(ck.Rows))
	gauge(ch, dCkptTables, float64(ck.Tables))
	counter(ch, dCkptWritten, float64(ck.Written))
	gauge(ch, dCkptFailed, boolean(ck.Failed))
}
