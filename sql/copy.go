package sql

import (
	"context"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// execCopy runs COPY: FROM STDIN hands the protocol layer a CopyInHandler
// (Result.CopyIn); TO STDOUT returns the rows to send.
func (s *Session) execCopy(ctx context.Context, cs *pg.CopyStmt, p *Prepared, params []types.Datum) (*Result, error) {
	return nil, pgerror.New(pgerror.FeatureNotSupported, "COPY is not supported yet")
}
