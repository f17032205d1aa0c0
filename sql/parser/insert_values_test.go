package parser

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// checkInsertFastPath compares Parse's fast path for INSERTs of literal
// rows with PostgreSQL's parser on query: when the fast path takes the
// query, PostgreSQL's parser must accept it and give the same statements,
// trees and positions included. It reports whether the fast path took it.
func checkInsertFastPath(t *testing.T, query string) bool {
	t.Helper()
	fast, ok := parseInsertValues(query)
	if !ok {
		return false
	}
	slow, err := parseScanned(query)
	if err != nil {
		t.Fatalf("%q: the fast path parsed what PostgreSQL's parser rejects: %v", query, err)
	}
	if len(fast) != len(slow) {
		t.Fatalf("%q: %d statements, PostgreSQL's parser %d", query, len(fast), len(slow))
	}
	for i := range fast {
		f, s := fast[i], slow[i]
		if f.SQL != s.SQL || f.Offset != s.Offset {
			t.Fatalf("%q: statement %d is %q at %d, PostgreSQL's parser %q at %d", query, i, f.SQL, f.Offset, s.SQL, s.Offset)
		}
		if s.Ext != nil || s.AsOf != nil || s.Streaming != nil || s.Subscribe != nil || s.Fetch != nil || f.Ext != nil || f.AsOf != nil || f.Streaming != nil || f.Subscribe != nil || f.Fetch != nil {
			t.Fatalf("%q: statement %d has extension clauses", query, i)
		}
		if !proto.Equal(f.AST, s.AST) {
			t.Fatalf("%q: statement %d's tree differs:\nfast path: %v\nPostgreSQL: %v", query, i, f.AST, s.AST)
		}
	}
	return true
}

func TestInsertValuesFastPath(t *testing.T) {
	// Statements the fast path must take (and read as PostgreSQL does).
	for _, q := range []string{
		"INSERT INTO events VALUES (1, 2, 3, 'note 1'), (2, 3, 4, 'note 2')",
		"insert into s.t (a, B, c$1) values (-1, - 2.5, 1e10);",
		"  INSERT INTO t VALUES (NULL, true, FALSE, 'it''s', E'a\\nb\\'c\\\\', e'\\q', E'\\v\\b\\f\\r\\t')  ;  ;",
		"INSERT INTO t VALUES (2147483647, 2147483648, -2147483648, -2147483649, 007, .5, 1., 1.5E-3)",
		"INSERT INTO t VALUES ('a\\b');\nINSERT INTO u VALUES (1)\n",
		"INSERT\tINTO\nt\r\nVALUES(1)",
	} {
		if !checkInsertFastPath(t, q) {
			t.Errorf("%q: not taken by the fast path", q)
		}
	}
	// Statements it must leave to PostgreSQL's parser.
	for _, q := range []string{
		"", ";", "INSERT INTO t VALUES (1); SELECT 1", "INSERT INTO t SELECT 1",
		"INSERT INTO t VALUES (1) RETURNING *", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
		"INSERT INTO t VALUES (1::int)", "INSERT INTO t VALUES (+1)", "INSERT INTO t VALUES (- -1)",
		"INSERT INTO t VALUES ('a' 'b')", "INSERT INTO t VALUES ('a'\n'b')", "INSERT INTO t VALUES (1_000)",
		"INSERT INTO t VALUES (0x1f)", "INSERT INTO t VALUES (1e)", "INSERT INTO t VALUES (1a)",
		"INSERT INTO t VALUES (E'\\x41')", "INSERT INTO t VALUES (E'\\101')", "INSERT INTO t VALUES (E'\\u0041')",
		"INSERT INTO t VALUES ('é')", "INSERT INTO t VALUES (DEFAULT)", "INSERT INTO t VALUES ($1)",
		"INSERT INTO \"T\" VALUES (1)", "INSERT INTO user VALUES (1)", "INSERT INTO t (select) VALUES (1)",
		"INSERT INTO t VALUES (1) -- comment", "INSERT /* c */ INTO t VALUES (1)", "INSERT INTO t VALUES ()",
		"INSERT INTO t VALUES (1", "INSERT INTO t VALUES ('a)", "INSERT INTO t VALUES (N'a')",
		"INSERT INTO t VALUES (x'1f')", "INSERT INTO t VALUES (1)\f", "INSERT INTO t VALUES ('a\x00')",
		"INSERT INTO " + strings.Repeat("a", 64) + " VALUES (1)", "INSERT INTO t AS x VALUES (1)",
	} {
		if checkInsertFastPath(t, q) {
			t.Errorf("%q: taken by the fast path", q)
		}
	}
	// Every ASCII character escaped in an E'' string, inside a '' string,
	// between tokens and after a number.
	for c := 1; c < 0x80; c++ {
		ch := string(rune(c))
		for _, q := range []string{
			"INSERT INTO t VALUES (E'a\\" + ch + "b')",
			"INSERT INTO t VALUES ('a" + ch + "b')",
			"INSERT INTO t VALUES (1," + ch + "2)",
			"INSERT INTO t VALUES (1" + ch + ")",
			"INSERT INTO t" + ch + "VALUES (1)",
		} {
			checkInsertFastPath(t, q)
		}
	}
	// Every keyword as a table, a schema and a column name: the fast path
	// must leave the reserved ones to PostgreSQL's parser and read the
	// others as it does.
	for _, kw := range strings.Fields(pgKeywords) {
		for _, q := range []string{
			"INSERT INTO " + kw + " VALUES (1)",
			"INSERT INTO " + kw + ".t VALUES (1)",
			"INSERT INTO t (" + kw + ") VALUES (1)",
			"INSERT INTO t (a, " + strings.ToUpper(kw) + ") VALUES (1, 2)",
		} {
			checkInsertFastPath(t, q)
		}
	}

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	taken, n := 0, 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		if checkInsertFastPath(t, genInsert(rng)) {
			taken++
		}
	}
	// The generator mixes in forms the fast path declines; most statements
	// must still take it, or this compares little.
	if taken < n/4 {
		t.Fatalf("the fast path took %d of %d generated statements", taken, n)
	}
	t.Logf("the fast path took %d of %d generated statements", taken, n)
}

// FuzzInsertValuesFastPath compares the fast path with PostgreSQL's
// parser on arbitrary text; the seeds are generated statements.
func FuzzInsertValuesFastPath(f *testing.F) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 64; i++ {
		f.Add(genInsert(rng))
	}
	f.Fuzz(func(t *testing.T, query string) {
		checkInsertFastPath(t, query)
	})
}

// genInsert makes a statement near the fast path's grammar: mostly inside
// it, with a few forms at its edges (keywords as names, numbers at the int4
// boundary, escapes, comments, casts, continuation strings, junk).
func genInsert(rng *rand.Rand) string {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	// Half the statements stay inside the fast path's grammar; in the
	// others, one element in eight is at its edges.
	edgy := rng.Intn(2) == 0
	edge := func() bool { return edgy && rng.Intn(8) == 0 }
	sp := func() string {
		if edge() {
			return pick("", "\f", "/* c */", "--c\n", "\v", "\u00a0")
		}
		return pick(" ", " ", " ", "  ", "\t", "\n", "\r\n", "")
	}
	mustSp := func() string {
		if s := sp(); s != "" {
			return s
		}
		return " "
	}
	word := func(w string) string {
		switch rng.Intn(3) {
		case 0:
			return strings.ToUpper(w)
		case 1:
			return w
		}
		b := []byte(w)
		for i := range b {
			if rng.Intn(2) == 0 {
				b[i] = strings.ToUpper(string(b[i]))[0]
			}
		}
		return string(b)
	}
	ident := func() string {
		if edge() {
			// Keywords of every category, and edge spellings.
			return pick("values", "name", "value", "type", "text", "user", "select", "table", "into",
				"null", "true", "default", "int", "integer", "char", "time", "json_table", "merge_action",
				"system_user", "format", "nulls", "without", "authorization", "left", "verbose", "between",
				"\"Quoted\"", "\"a\"\"b\"", "a$b", "_x", "x1", "1x", "$1", "é", strings.Repeat("a", 63),
				strings.Repeat("b", 64), "U&\"x\"")
		}
		return word(pick("t", "events", "k", "v", "note", "id", "col_2", "Abc", "s"))
	}
	literal := func() string {
		n := rng.Intn(10)
		if edge() {
			n = 10 + rng.Intn(2)
		}
		switch n {
		case 0, 1, 2:
			return fmt.Sprint(rng.Intn(2000000))
		case 3:
			if !edgy {
				return pick("2147483647", "2147483648", "-2147483648", "-2147483649", "-5", "- 5", "-.5", ".5", "1.", "1.5E-3")
			}
			return pick("2147483647", "2147483648", "-2147483648", "-2147483649", "0", "-0", "007",
				"99999999999999999999", "-5", "- 5", "-\n5", "- -5", "+5", "1_000", "0x1F", "0b1", "0o7", "1e",
				"1e+", "1a", "1.2.3", "1..2", "-.5", "- .5", ".5", "1.", "1.e5", "1.5E-3", "1e10", "00.10")
		case 4:
			return fmt.Sprintf("%d.%d", rng.Intn(1000), rng.Intn(1000))
		case 5:
			if !edgy {
				return word(pick("null", "true", "false"))
			}
			return word(pick("null", "true", "false", "nul", "nullx", "default", "unknown"))
		case 6, 7, 8:
			if !edgy {
				return "'" + pick("", "note", "it''s", "a\\b", "a\"b", "x y", "line\nbreak", "\t") + "'"
			}
			return "'" + pick("", "note", "it''s", "a\\b", "a\"b", "x y", "line\nbreak", "\t", "é", "\x00", "a'", "--", "/*") + "'"
		case 9:
			if !edgy {
				return pick("E", "e") + "'" + pick("\\n", "\\t", "\\b\\f\\r", "\\v", "\\\\", "\\'", "''", "\\q", "plain") + "'"
			}
			return pick("E", "e") + "'" + pick("\\n", "\\t", "\\b\\f\\r", "\\\\", "\\'", "''", "\\q", "\\x41", "\\xg",
				"\\101", "\\0", "\\u0041", "\\U00000041", "\\u00", "\\é", "plain", "a\\", "\\\"") + "'"
		case 10:
			return pick("'a' 'b'", "'a'\n'b'", "'a'::text", "1::int", "CAST(1 AS int)", "$1", "N'x'", "x'1f'",
				"B'01'", "U&'x'", "ARRAY[1]", "(1)", "1 + 1", "now()", "'a' || 'b'")
		default:
			return pick("-", "'unterminated", "E'\\", "1 2", ",", "")
		}
	}
	var b strings.Builder
	stmts := 1 + rng.Intn(2)
	for s := 0; s < stmts; s++ {
		b.WriteString(sp())
		b.WriteString(word("insert") + mustSp() + word("into") + mustSp())
		if rng.Intn(5) == 0 {
			b.WriteString(ident() + sp() + "." + sp())
		}
		b.WriteString(ident() + sp())
		if edge() {
			b.WriteString(pick("AS x ", "x ", "* "))
		}
		cols := 1 + rng.Intn(4)
		if rng.Intn(3) == 0 {
			b.WriteString("(")
			for c := 0; c < cols; c++ {
				if c > 0 {
					b.WriteString(sp() + "," + sp())
				}
				b.WriteString(ident())
			}
			b.WriteString(sp() + ")" + sp())
		}
		b.WriteString(word("values") + sp())
		for r, rows := 0, 1+rng.Intn(4); r < rows; r++ {
			if r > 0 {
				b.WriteString(sp() + "," + sp())
			}
			b.WriteString("(" + sp())
			for c := 0; c < cols; c++ {
				if c > 0 {
					b.WriteString(sp() + "," + sp())
				}
				b.WriteString(literal())
			}
			b.WriteString(sp() + ")")
		}
		if edge() {
			b.WriteString(pick(" RETURNING *", " ON CONFLICT DO NOTHING", " AS OF 5", ")", " x"))
		}
		if s < stmts-1 {
			b.WriteString(sp() + pick(";", ";;", "; "))
		} else {
			b.WriteString(sp() + pick(";", "", ";;", "; "))
		}
		if s == stmts-1 && edge() {
			b.WriteString(pick("SELECT 1", "-- done", " ", "\x00"))
		}
	}
	return b.String()
}

// pgKeywords is PostgreSQL 17's keyword list (kwlist.h of the parser
// pg_query_go embeds), every category.
const pgKeywords = `
	abort absent absolute access action add admin after aggregate all also alter always analyse
	analyze and any array as asc asensitive assertion assignment asymmetric at atomic attach
	attribute authorization backward before begin between bigint binary bit boolean both breadth by
	cache call called cascade cascaded case cast catalog chain char character characteristics check
	checkpoint class close cluster coalesce collate collation column columns comment comments
	commit committed compression concurrently conditional configuration conflict connection
	constraint constraints content continue conversion copy cost create cross csv cube current
	current_catalog current_date current_role current_schema current_time current_timestamp
	current_user cursor cycle data database day deallocate dec decimal declare default defaults
	deferrable deferred definer delete delimiter delimiters depends depth desc detach dictionary
	disable discard distinct do document domain double drop each else empty enable encoding
	encrypted end enum error escape event except exclude excluding exclusive execute exists explain
	expression extension external extract false family fetch filter finalize first float following
	for force foreign format forward freeze from full function functions generated global grant
	granted greatest group grouping groups handler having header hold hour identity if ilike
	immediate immutable implicit import in include including increment indent index indexes inherit
	inherits initially inline inner inout input insensitive insert instead int integer intersect
	interval into invoker is isnull isolation join json json_array json_arrayagg json_exists
	json_object json_objectagg json_query json_scalar json_serialize json_table json_value keep key
	keys label language large last lateral leading leakproof least left level like limit listen
	load local localtime localtimestamp location lock locked logged mapping match matched
	materialized maxvalue merge merge_action method minute minvalue mode month move name names
	national natural nchar nested new next nfc nfd nfkc nfkd no none normalize normalized not
	nothing notify notnull nowait null nullif nulls numeric object of off offset oids old omit on
	only operator option options or order ordinality others out outer over overlaps overlay
	overriding owned owner parallel parameter parser partial partition passing password path
	placing plan plans policy position preceding precision prepare prepared preserve primary prior
	privileges procedural procedure procedures program publication quote quotes range read real
	reassign recheck recursive ref references referencing refresh reindex relative release rename
	repeatable replace replica reset restart restrict return returning returns revoke right role
	rollback rollup routine routines row rows rule savepoint scalar schema schemas scroll search
	second security select sequence sequences serializable server session session_user set setof
	sets share show similar simple skip smallint snapshot some source sql stable standalone start
	statement statistics stdin stdout storage stored strict string strip subscription substring
	support symmetric sysid system system_user table tables tablesample tablespace target temp
	template temporary text then ties time timestamp to trailing transaction transform treat
	trigger trim true truncate trusted type types uescape unbounded uncommitted unconditional
	unencrypted union unique unknown unlisten unlogged until update user using vacuum valid
	validate validator value values varchar variadic varying verbose version view views volatile
	when where whitespace window with within without work wrapper write xml xmlattributes xmlconcat
	xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable year
	yes zone
`

// BenchmarkParseInsert parses a 1000-row INSERT of the script's shape
// (scripts/bench-durable-vs-postgres.sh): through the fast path, through
// pg_query, and with a cast per row (which the fast path declines).
func BenchmarkParseInsert(b *testing.B) {
	rows := func(cast string) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO events VALUES ")
		for i := 0; i < 1000; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "(%d,%d,%d,'note %d'%s)", i, i%1000, i*7919%1000000, i, cast)
		}
		return sb.String()
	}
	for _, c := range []struct {
		name, query string
		parse       func(string) ([]Statement, error)
	}{
		{"literals", rows(""), Parse},
		{"literals-pg_query", rows(""), parseScanned},
		{"casts", rows("::text"), Parse},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := c.parse(c.query); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
