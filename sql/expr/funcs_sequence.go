package expr

import (
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// SeqRef names a sequence by OID ('s'::regclass) or by name (a text
// argument, read as 'name'::regclass reads it).
type SeqRef struct {
	OID  uint32
	Name string
}

// SequenceSource is a session's access to sequences, for nextval, currval,
// setval and lastval. Calls happen during evaluation, under the engine's
// lock the statement holds.
type SequenceSource interface {
	NextVal(ref SeqRef) (int64, error)
	CurrVal(ref SeqRef) (int64, error)
	SetVal(ref SeqRef, v int64, called bool) (int64, error)
	LastVal() (int64, error)
}

func needSequences(ctx *Ctx, fn string) (SequenceSource, error) {
	if ctx == nil || ctx.Sequences == nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "%s can only be called by a query of a session (not in a materialized view)", fn)
	}
	return ctx.Sequences, nil
}

func init() {
	text, oid, i8, b := types.Text, types.Oid, types.Int8, types.Bool
	ref := func(d types.Datum) SeqRef {
		if d.Type() == oid {
			return SeqRef{OID: uint32(d.Int())}
		}
		return SeqRef{Name: d.Str()}
	}
	one := func(name string, f func(SequenceSource, SeqRef) (int64, error)) {
		fn := func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			q, err := needSequences(ctx, name)
			if err != nil {
				return types.Datum{}, err
			}
			v, err := f(q, ref(a[0]))
			return types.NewInt8(v), err
		}
		Register(name,
			&Overload{Args: []types.Type{oid}, Ret: i8, Volatile: true, Fn: fn},
			&Overload{Args: []types.Type{text}, Ret: i8, Volatile: true, Fn: fn})
	}
	one("nextval", SequenceSource.NextVal)
	one("currval", SequenceSource.CurrVal)
	setval := func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
		q, err := needSequences(ctx, "setval")
		if err != nil {
			return types.Datum{}, err
		}
		called := len(a) < 3 || a[2].Bool()
		v, err := q.SetVal(ref(a[0]), a[1].Int(), called)
		return types.NewInt8(v), err
	}
	for _, t := range []types.Type{oid, text} {
		Register("setval",
			&Overload{Args: []types.Type{t, i8}, Ret: i8, Volatile: true, Fn: setval},
			&Overload{Args: []types.Type{t, i8, b}, Ret: i8, Volatile: true, Fn: setval})
	}
	Register("lastval", &Overload{Ret: i8, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		q, err := needSequences(ctx, "lastval")
		if err != nil {
			return types.Datum{}, err
		}
		v, err := q.LastVal()
		return types.NewInt8(v), err
	}})
}
