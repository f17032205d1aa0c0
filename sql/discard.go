package sql

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// PreparedStatements is the protocol layer's registry of named prepared
// statements (those of the extended protocol's Parse), which DEALLOCATE and
// DISCARD ALL remove: in PostgreSQL, SQL's DEALLOCATE and the protocol's
// named statements share one namespace. Deallocate removes one statement
// and reports whether it existed; DeallocateAll removes every named one
// (the unnamed statement is not a prepared statement in this sense and
// stays). Both are called on the session's goroutine, between messages.
type PreparedStatements interface {
	Deallocate(name string) bool
	DeallocateAll()
}

// execDeallocate runs DEALLOCATE [PREPARE] name | ALL.
func (s *Session) execDeallocate(d *pg.DeallocateStmt) (*Result, error) {
	if d.Isall {
		s.sqlPrepared = nil
		if s.opts.Statements != nil {
			s.opts.Statements.DeallocateAll()
		}
		return &Result{Tag: "DEALLOCATE ALL"}, nil
	}
	if _, ok := s.sqlPrepared[d.Name]; ok {
		delete(s.sqlPrepared, d.Name)
		return &Result{Tag: "DEALLOCATE"}, nil
	}
	if s.opts.Statements == nil || !s.opts.Statements.Deallocate(d.Name) {
		return nil, pgerror.New(pgerror.InvalidSqlStatementName, "prepared statement %q does not exist", d.Name)
	}
	return &Result{Tag: "DEALLOCATE"}, nil
}

// execDiscard runs DISCARD ALL | PLANS | SEQUENCES | TEMP. DISCARD ALL
// returns the session to the state of a new connection, as connection
// pools expect before handing it to the next client: it closes every
// cursor, resets every setting to its value at connection start,
// deallocates the named prepared statements, releases the session's
// advisory locks and forgets currval/lastval. It cannot run inside a
// transaction block (25001). Tributary caches no plans and has no
// temporary objects, so PLANS and TEMP have nothing to discard.
func (s *Session) execDiscard(d *pg.DiscardStmt) (*Result, error) {
	switch d.Target {
	case pg.DiscardMode_DISCARD_PLANS:
		return &Result{Tag: "DISCARD PLANS"}, nil
	case pg.DiscardMode_DISCARD_TEMP:
		return &Result{Tag: "DISCARD TEMP"}, nil
	case pg.DiscardMode_DISCARD_SEQUENCES:
		s.seqLast, s.lastSeq = nil, nil
		return &Result{Tag: "DISCARD SEQUENCES"}, nil
	case pg.DiscardMode_DISCARD_ALL:
	default:
		return nil, pgerror.New(pgerror.FeatureNotSupported, "DISCARD %s is not supported", strings.TrimPrefix(d.Target.String(), "DISCARD_MODE_"))
	}
	if s.tx != nil && s.tx.explicit {
		return nil, pgerror.New(pgerror.ActiveSqlTransaction, "DISCARD ALL cannot run inside a transaction block")
	}
	s.closeAllCursors()
	res, err := s.execSet(&pg.VariableSetStmt{Kind: pg.VariableSetKind_VAR_RESET_ALL})
	if err != nil {
		return nil, err
	}
	s.sqlPrepared = nil
	if s.opts.Statements != nil {
		s.opts.Statements.DeallocateAll()
	}
	s.e.locks.unlockAll(s, false)
	s.seqLast, s.lastSeq = nil, nil
	res.Tag = "DISCARD ALL"
	return res, nil
}
