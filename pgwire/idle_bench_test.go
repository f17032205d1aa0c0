package pgwire

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkIdleConnections opens b.N idle connections to an in-process
// server (a real engine) and reports the heap and goroutine-stack memory
// each one holds, and the connection rate. Run with -benchtime 1000x.
func BenchmarkIdleConnections(b *testing.B) {
	addr := startEngineServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before := memInUse()
	conns := make([]*pgconn.PgConn, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c, err := pgconn.Connect(ctx, fmt.Sprintf("postgres://tributary@%s/postgres?sslmode=disable", addr))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := memInUse()
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/conn")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "conns/s")
	for _, c := range conns {
		c.Close(ctx)
	}
}

// memInUse is the heap and stack memory in use after a collection,
// counting both sides of the in-process connections (the client's share is
// small next to the server's goroutines and buffers).
func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
