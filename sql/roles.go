package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
)

// execRole runs CREATE ROLE, ALTER ROLE and DROP ROLE.
func (e *Engine) execRole(s *Session, n *pg.Node) (*Result, error) {
	return nil, pgerror.New(pgerror.FeatureNotSupported, "roles are not supported yet")
}
