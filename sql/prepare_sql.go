package sql

import (
	"context"
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/expr"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// SQL-level prepared statements: PREPARE name [(type, ...)] AS statement,
// EXECUTE name [(arg, ...)] and DEALLOCATE (discard.go). They live in the
// session; the extended protocol's named statements live in the protocol
// layer (PreparedStatements). DEALLOCATE and DISCARD ALL remove both, as
// PostgreSQL, which keeps them in one namespace, does.

// execPrepare runs PREPARE: the statement is bound once, with the declared
// parameter types (the others inferred), as the protocol's Parse does.
func (s *Session) execPrepare(ctx context.Context, p *pg.PrepareStmt, outer *Statement) (*Result, error) {
	if _, ok := s.sqlPrepared[p.Name]; ok {
		return nil, pgerror.New(pgerror.DuplicatePstatement, "prepared statement %q already exists", p.Name)
	}
	var paramTypes []types.Type
	for _, a := range p.Argtypes {
		tn := a.GetTypeName()
		if tn == nil {
			return nil, pgerror.New(pgerror.SyntaxError, "a parameter type of PREPARE is not a type name")
		}
		t, err := bindTypeName(tn)
		if err != nil {
			return nil, err
		}
		paramTypes = append(paramTypes, t)
	}
	inner := &Statement{sql: outer.sql, ast: p.Query, offset: outer.offset}
	prep, err := s.Prepare(ctx, inner, paramTypes)
	if err != nil {
		return nil, err
	}
	if s.sqlPrepared == nil {
		s.sqlPrepared = map[string]*Prepared{}
	}
	s.sqlPrepared[p.Name] = prep
	return &Result{Tag: "PREPARE"}, nil
}

// preparedByName finds a statement of PREPARE.
func (s *Session) preparedByName(name string) (*Prepared, error) {
	prep, ok := s.sqlPrepared[name]
	if !ok {
		return nil, pgerror.New(pgerror.InvalidSqlStatementName, "prepared statement %q does not exist", name)
	}
	return prep, nil
}

// execExecute runs EXECUTE name (arg, ...): each argument is a constant
// expression coerced to its parameter's type; the result is the prepared
// statement's, tag included.
func (s *Session) execExecute(ctx context.Context, x *pg.ExecuteStmt, params []types.Datum) (*Result, error) {
	prep, err := s.preparedByName(x.Name)
	if err != nil {
		return nil, err
	}
	if len(x.Params) != len(prep.ParamTypes) {
		e := pgerror.New(pgerror.SyntaxError, "wrong number of parameters for prepared statement %q", x.Name)
		e.Detail = fmt.Sprintf("Expected %d parameters but got %d.", len(prep.ParamTypes), len(x.Params))
		return nil, e
	}
	s.e.mu.RLock()
	values := make([]types.Datum, len(x.Params))
	b := s.newBinder(nil, params)
	for i, n := range x.Params {
		e, err := b.bindExpr(n, &scope{})
		if err == nil {
			e, err = b.coerce(e, prep.ParamTypes[i])
		}
		if err == nil && !expr.IsConst(e) {
			err = pgerror.New(pgerror.FeatureNotSupported, "the arguments of EXECUTE must be constant expressions")
		}
		if err == nil {
			values[i], err = e.Eval(s.evalCtx(), nil)
		}
		if err != nil {
			s.e.mu.RUnlock()
			return nil, err
		}
	}
	s.e.mu.RUnlock()
	return s.execute(ctx, prep, values)
}
