package sql

import (
	"sort"

	"github.com/tributary-db/tributary/sql/parser"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// extColumns returns the result columns of an extension statement.
func extColumns(ext parser.Ext) []Column {
	switch x := ext.(type) {
	case *parser.ShowObjects:
		switch x.Kind {
		case "indexes":
			return []Column{{Name: "name", Type: types.Text}, {Name: "on", Type: types.Text}}
		case "sources":
			return []Column{{Name: "name", Type: types.Text}, {Name: "type", Type: types.Text}}
		}
		return []Column{{Name: "name", Type: types.Text}}
	}
	return nil
}

// execExt runs one of Tributary's own statements.
func (s *Session) execExt(ext parser.Ext) (*Result, error) {
	switch x := ext.(type) {
	case *parser.ShowObjects:
		return s.showObjects(x)
	}
	return nil, pgerror.New(pgerror.FeatureNotSupported, "statement is not supported")
}

// showObjects lists the catalog's objects of one kind, by name.
func (s *Session) showObjects(x *parser.ShowObjects) (*Result, error) {
	kind := map[string]ObjectKind{"tables": KindTable, "views": KindView, "materialized views": KindMatView, "indexes": KindIndex, "sources": KindTable}
	res := &Result{Columns: extColumns(x), Tag: "SHOW"}
	want, ok := kind[x.Kind]
	if !ok {
		// Sinks arrive with their issue; none exist yet.
		return res, nil
	}
	sources := x.Kind == "sources"
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	var objs []*Object
	for _, o := range s.e.mu.cat.byName {
		if o.Kind == want && (o.Kind != KindTable || (o.Source != nil) == sources) {
			objs = append(objs, o)
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	for _, o := range objs {
		row := types.Row{types.NewText(o.Name)}
		if want == KindIndex {
			on := o.On
			if t, ok := s.e.mu.cat.byName[o.On]; ok {
				on = t.Name
			}
			row = append(row, types.NewText(on))
		}
		if sources {
			row = append(row, types.NewText(o.Source.connectorName()))
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}
