package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/planner"
)

// systemRelation binds a relation of the system schemas (pg_catalog,
// information_schema, tb_catalog): ok is false for every other name.
func (b *binder) systemRelation(rv *pg.RangeVar, alias string, colAliases []*pg.Node) (planner.Rel, []scopeCol, bool, error) {
	return nil, nil, false, nil
}
