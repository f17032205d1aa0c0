package sqllogictest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tributary-db/tributary/sqllogictest/pgtest"
)

// TestPostgres runs small scripts against a throwaway PostgreSQL cluster:
// the runner's end-to-end behaviour (both protocols, errors with SQLSTATEs,
// connections, value rendering of real server output) checked against the
// real thing. It is skipped when PostgreSQL's server binaries are not
// installed (the Debian postgresql package); scripts/slt-postgres-baseline.sh
// runs the whole SQLite corpus the same way.
//
//	run [file=NAME] [simple]   run the input script, print counts and failures
func TestPostgres(t *testing.T) {
	bin, why := pgtest.Bin()
	if bin == "" {
		t.Skipf("no PostgreSQL to test against: %s", why)
	}
	admin := pgtest.Start(t, bin)
	n := 0
	datadriven.RunTest(t, "testdata/runner-postgres", func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd != "run" {
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
		}
		name := "script.test"
		td.MaybeScanArgs(t, "file", &name)
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(script(td.Input)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n++
		url, drop, err := FreshDatabase(ctx, admin, fmt.Sprintf("slt_test_%d", n))
		if err != nil {
			t.Fatal(err)
		}
		defer drop()
		res, err := RunFile(ctx, url, path, Options{Simple: td.HasArg("simple")})
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		var b strings.Builder
		b.WriteString(res.Summary(name) + "\n")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "line %d: expected %q, got %q\n", f.Line, f.Expected, f.Got)
		}
		return b.String()
	})
}
