package expr

import (
	"testing"
	"time"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// lit parses a typed literal for test tables; it fails the test on bad input.
func lit(t *testing.T, typ types.Type, s string) types.Datum {
	t.Helper()
	if s == "NULL" {
		return types.Null(typ)
	}
	d, err := CastDatum(testCtx(), types.NewString(types.Unknown, s), typ)
	if err != nil {
		t.Fatalf("literal %s::%s: %v", s, typ, err)
	}
	return d
}

func testCtx() *Ctx {
	return &Ctx{Now: 777_000_000, Location: time.UTC}
}

// show renders a result as psql would, "NULL" for NULL.
func show(ctx *Ctx, d types.Datum) string {
	if d.IsNull() {
		return "NULL"
	}
	return textOut(ctx, d)
}

// check compares a result (or error) with the expected text or SQLSTATE
// ("ERROR 22012").
func check(t *testing.T, name string, ctx *Ctx, got types.Datum, err error, want string, wantType types.Type) {
	t.Helper()
	if err != nil {
		if want != "ERROR "+string(pgerror.CodeOf(err)) {
			t.Errorf("%s: error %v (%s), want %s", name, err, pgerror.CodeOf(err), want)
		}
		return
	}
	if s := show(ctx, got); s != want {
		t.Errorf("%s = %q, want %q", name, s, want)
	}
	if wantType != types.Unknown && got.Type() != wantType {
		t.Errorf("%s: type %s, want %s", name, got.Type(), wantType)
	}
}
