package expr

import (
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// AdvisoryKey names an advisory lock: a bigint key (Pair false; Hi and Lo
// are its halves) or a pair of integer keys (Pair true), which PostgreSQL
// keeps apart even when the bits agree (pg_locks.objsubid 1 or 2).
type AdvisoryKey struct {
	Hi, Lo uint32
	Pair   bool
}

// AdvisoryLocker is a session's handle on the engine's advisory locks,
// for pg_advisory_lock and friends. Locks are held per session; a session
// never conflicts with itself; an exclusive lock conflicts with every lock
// of another session on the key, a shared one with exclusive ones only.
// Session-level locks are re-entrant (each hold is released separately);
// transaction-level ones (xact) last until the transaction ends.
type AdvisoryLocker interface {
	// AdvisoryLock takes one hold of key. When another session holds a
	// conflicting lock, a try reports false; a blocking call returns an
	// error that makes the session wait for the lock, outside the engine's
	// lock, and run the statement again (Session.Execute).
	AdvisoryLock(key AdvisoryKey, shared, xact, try bool) (bool, error)
	// AdvisoryUnlock releases one session-level hold of key; false when the
	// session holds none.
	AdvisoryUnlock(key AdvisoryKey, shared bool) bool
	// AdvisoryUnlockAll releases every session-level hold of the session.
	AdvisoryUnlockAll()
}

func needLocker(ctx *Ctx, fn string) (AdvisoryLocker, error) {
	if ctx == nil || ctx.Locks == nil {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "%s can only be called by a query of a session (not in a materialized view)", fn)
	}
	return ctx.Locks, nil
}

func bigintKey(k int64) AdvisoryKey { return AdvisoryKey{Hi: uint32(uint64(k) >> 32), Lo: uint32(k)} }

func pairKey(a, b int64) AdvisoryKey { return AdvisoryKey{Hi: uint32(a), Lo: uint32(b), Pair: true} }

func init() {
	i4, i8, b, void := types.Int4, types.Int8, types.Bool, types.Void
	// Each function exists for a bigint key and for two integer keys.
	keyed := func(name string, ret types.Type, f func(ctx *Ctx, l AdvisoryLocker, key AdvisoryKey) (types.Datum, error)) {
		call := func(ctx *Ctx, key AdvisoryKey) (types.Datum, error) {
			l, err := needLocker(ctx, name)
			if err != nil {
				return types.Datum{}, err
			}
			return f(ctx, l, key)
		}
		Register(name,
			&Overload{Args: []types.Type{i8}, Ret: ret, Volatile: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
				return call(ctx, bigintKey(a[0].Int()))
			}},
			&Overload{Args: []types.Type{i4, i4}, Ret: ret, Volatile: true, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
				return call(ctx, pairKey(a[0].Int(), a[1].Int()))
			}})
	}
	voidValue := types.NewString(types.Void, "")
	for _, v := range []struct {
		suffix string
		shared bool
	}{{"", false}, {"_shared", true}} {
		shared := v.shared
		keyed("pg_advisory_lock"+v.suffix, void, func(ctx *Ctx, l AdvisoryLocker, k AdvisoryKey) (types.Datum, error) {
			_, err := l.AdvisoryLock(k, shared, false, false)
			return voidValue, err
		})
		keyed("pg_advisory_xact_lock"+v.suffix, void, func(ctx *Ctx, l AdvisoryLocker, k AdvisoryKey) (types.Datum, error) {
			_, err := l.AdvisoryLock(k, shared, true, false)
			return voidValue, err
		})
		keyed("pg_try_advisory_lock"+v.suffix, b, func(ctx *Ctx, l AdvisoryLocker, k AdvisoryKey) (types.Datum, error) {
			ok, err := l.AdvisoryLock(k, shared, false, true)
			return types.NewBool(ok), err
		})
		keyed("pg_try_advisory_xact_lock"+v.suffix, b, func(ctx *Ctx, l AdvisoryLocker, k AdvisoryKey) (types.Datum, error) {
			ok, err := l.AdvisoryLock(k, shared, true, true)
			return types.NewBool(ok), err
		})
		keyed("pg_advisory_unlock"+v.suffix, b, func(ctx *Ctx, l AdvisoryLocker, k AdvisoryKey) (types.Datum, error) {
			return types.NewBool(l.AdvisoryUnlock(k, shared)), nil
		})
	}
	Register("pg_advisory_unlock_all", &Overload{Ret: void, Volatile: true, Fn: func(ctx *Ctx, _ []types.Datum) (types.Datum, error) {
		l, err := needLocker(ctx, "pg_advisory_unlock_all")
		if err != nil {
			return types.Datum{}, err
		}
		l.AdvisoryUnlockAll()
		return voidValue, nil
	}})
}
