package expr

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/tributary-db/tributary/sql/types"
)

// parseArg reads one argument of testdata/scalar.txt: 'text'::type,
// (-7)::type, 1.5::type or NULL::type.
func parseArg(t *testing.T, s string) types.Datum {
	t.Helper()
	i := strings.LastIndex(s, "::")
	typ, ok := types.FromName(s[i+2:])
	if !ok {
		t.Fatalf("bad type in %q", s)
	}
	v := s[:i]
	if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
		v = v[1 : len(v)-1]
	}
	if strings.HasPrefix(v, "'") {
		v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return lit(t, typ, v)
}

// evalCall resolves name for the arguments' types and evaluates it as the
// binder would: arguments cast to the overload's types, strictness applied
// by Call.
func evalCall(ctx *Ctx, name string, args []types.Datum) (types.Datum, error) {
	argTypes := make([]types.Type, len(args))
	for i, a := range args {
		argTypes[i] = a.Type()
	}
	ov, targets, err := Resolve(name, argTypes)
	if err != nil {
		return types.Datum{}, err
	}
	exprs := make([]Expr, len(args))
	for i, a := range args {
		c, err := CastDatum(ctx, a, targets[i])
		if err != nil {
			return types.Datum{}, err
		}
		exprs[i] = &Const{Val: c}
	}
	return (&Call{Fn: ov, Args: exprs}).Eval(ctx, nil)
}

// TestScalarAgainstPostgres checks testdata/scalar.txt, whose expected
// values were produced by PostgreSQL 15.
func TestScalarAgainstPostgres(t *testing.T) {
	f, err := os.Open("testdata/scalar.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := testCtx()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lhs, want, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		want = strings.ReplaceAll(want, `\n`, "\n")
		fields := strings.Split(lhs, "\t")
		name := fields[0]
		if name == "-u" {
			name = "-"
		}
		var args []types.Datum
		for _, a := range fields[1:] {
			args = append(args, parseArg(t, a))
		}
		got, err := evalCall(ctx, name, args)
		if why, ok := typesDeviations[lhs]; ok {
			if err == nil && show(ctx, got) == want {
				t.Errorf("%s now matches PostgreSQL: remove it from typesDeviations", lhs)
			}
			t.Logf("known deviation (%s): %s = %q, PostgreSQL %q", why, lhs, show(ctx, got), want)
			continue
		}
		check(t, lhs, ctx, got, err, want, types.Unknown)
	}
}

// typesDeviations are cases whose value is right but whose text differs
// from PostgreSQL's because of the text output in sql/types; a case that
// starts to match must be removed from the list (the test says so).
var typesDeviations = map[string]string{}
