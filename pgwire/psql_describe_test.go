package pgwire

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPsqlDescribe runs the real psql's describe meta-commands against an
// in-process server and checks that each succeeds and lists the right
// objects. docs/compatibility.md reports what this test measures.
func TestPsqlDescribe(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not on PATH; skipping the psql compatibility test")
	}
	host, port, _ := net.SplitHostPort(startEngineServer(t))

	run := func(t *testing.T, cmds ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := []string{"-X", "-h", host, "-p", port, "-U", "tributary", "-d", "tributary", "-v", "ON_ERROR_STOP=1"}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		cmd := exec.CommandContext(ctx, psql, args...)
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PAGER=", "PSQL_PAGER=", "PGPASSWORD=", "PGSSLMODE=disable")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql %q: %v\n%s", cmds, err, out)
		}
		if strings.Contains(string(out), "ERROR") {
			t.Fatalf("psql %q printed an error:\n%s", cmds, out)
		}
		return string(out)
	}
	run(t,
		"CREATE TABLE accounts (id int PRIMARY KEY, owner varchar(40) NOT NULL, balance numeric(12,2) DEFAULT 0)",
		"CREATE VIEW rich AS SELECT id, owner FROM accounts WHERE balance > 1000",
		"CREATE MATERIALIZED VIEW totals AS SELECT owner, sum(balance) AS total FROM accounts GROUP BY owner",
		"CREATE INDEX accounts_owner_idx ON accounts (owner)",
		"INSERT INTO accounts VALUES (1, 'ann', 5000), (2, 'bob', 10)",
		"CREATE SCHEMA billing",
		"CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount numeric)",
		"CREATE SEQUENCE billing.numbers",
	)

	for _, tc := range []struct {
		cmd  string
		want []string // lines or fragments the output must contain
		not  []string // fragments it must not contain
	}{
		{`\d`, []string{"public | accounts | table", "public | rich     | view", "public | totals   | materialized view"}, []string{"pg_class", "accounts_owner_idx"}},
		{`\dt`, []string{"public | accounts | table"}, []string{"rich", "totals", "invoices"}},
		{`\dv`, []string{"public | rich | view"}, []string{"accounts |"}},
		{`\dm`, []string{"public | totals | materialized view"}, []string{"rich"}},
		{`\di`, []string{"accounts_owner_idx | index", "accounts_pkey      | index", "| accounts"}, nil},
		{`\d accounts`, []string{`Table "public.accounts"`, "id      | integer               |           | not null |",
			"owner   | character varying(40) |           | not null |", "balance | numeric(12,2)", `"accounts_pkey" PRIMARY KEY, btree (id)`,
			`"accounts_owner_idx" btree (owner)`}, nil},
		{`\d+ accounts`, []string{`Table "public.accounts"`, "Storage", "Access method: heap", `"accounts_pkey" PRIMARY KEY, btree (id)`}, nil},
		{`\d rich`, []string{`View "public.rich"`, "id     | integer", "owner  | character varying"}, nil},
		{`\d+ rich`, []string{`View "public.rich"`, "View definition:", "FROM accounts"}, nil},
		{`\d totals`, []string{`Materialized view "public.totals"`, "owner  | character varying", "total  | numeric"}, nil},
		{`\d+ totals`, []string{`Materialized view "public.totals"`, "View definition:", "sum(balance) AS total", "GROUP BY owner"}, nil},
		{`\d accounts_owner_idx`, []string{`Index "public.accounts_owner_idx"`, "owner  | character varying(40) | yes  | owner", `btree, for table "public.accounts"`}, nil},
		{`\dn`, []string{"public", "billing"}, []string{"pg_catalog", "information_schema"}},
		{`\dt billing.*`, []string{"billing | invoices | table"}, []string{"accounts"}},
		{`\ds billing.*`, []string{"billing | invoices_id_seq | sequence", "billing | numbers         | sequence"}, nil},
		{`\d billing.invoices`, []string{`Table "billing.invoices"`, `nextval('billing.invoices_id_seq'::regclass)`, `"invoices_pkey" PRIMARY KEY, btree (id)`}, nil},
		{`\df`, []string{"List of functions"}, nil},
		{`\du`, []string{"tributary", "Superuser"}, nil},
		{`\l`, []string{"tributary", "UTF8"}, nil},
		{`\dt+`, []string{"public | accounts | table", "heap", "bytes"}, nil},
		{`\dm+`, []string{"public | totals | materialized view"}, nil},
		{`\di+`, []string{"accounts_owner_idx | index", "btree"}, nil},
		{`\l+`, []string{"tributary", "pg_default"}, nil},
		{`\dS`, []string{"pg_catalog | pg_class", "pg_catalog | pg_attribute"}, nil},
		{`\d pg_catalog.pg_class`, []string{`Table "pg_catalog.pg_class"`, "relname", "relkind"}, nil},
		{`\sv rich`, []string{"CREATE OR REPLACE VIEW public.rich AS", "FROM accounts"}, nil},
		{`\dT`, []string{"List of data types"}, nil},
		{`\dx`, []string{"List of installed extensions"}, nil},
		{`\dC`, []string{"List of casts"}, nil},
		{`\dd`, []string{"Object descriptions"}, nil},
		{`\dp`, []string{"Access privileges", "public | accounts | table", "public | totals   | materialized view"}, nil},
		{`\z accounts`, []string{"Access privileges", "public | accounts | table"}, nil},
		{`\conninfo`, []string{`You are connected to database "tributary" as user "tributary"`}, nil},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			out := run(t, tc.cmd)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: output lacks %q:\n%s", tc.cmd, w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("%s: output contains %q:\n%s", tc.cmd, n, out)
				}
			}
		})
	}
}
