package sql

import (
	"fmt"
	"strings"

	"github.com/tributary-db/tributary/dataflow"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// Unique constraints and unique indexes (UNIQUE in CREATE TABLE, CREATE
// UNIQUE INDEX). Each is enforced like the primary key: the table keeps a
// row count per key value (uniqueKey.counts, current with every applied
// write), a write is checked against those counts plus the transaction's
// pending changes, and COMMIT checks again against what committed in the
// meantime. Keys holding a NULL are never equal (NULLS DISTINCT, the
// default), so they are not counted.

// uniqueKey is one unique constraint or unique index of a table.
type uniqueKey struct {
	name   string
	cols   []int
	counts map[string]int64
}

// keyOf encodes row's key, false when a key column is NULL.
func (u *uniqueKey) keyOf(row types.Row) (string, bool) {
	var buf []byte
	for _, c := range u.cols {
		if row[c].IsNull() {
			return "", false
		}
		buf = types.AppendKey(buf, row[c])
	}
	return string(buf), true
}

func (u *uniqueKey) apply(ups []dataflow.Update) {
	for _, up := range ups {
		k, ok := u.keyOf(up.Row)
		if !ok {
			continue
		}
		if n := u.counts[k] + up.Diff; n == 0 {
			delete(u.counts, k)
		} else {
			u.counts[k] = n
		}
	}
}

// violation is the 23505 error for a duplicate of row's key.
func (u *uniqueKey) violation(o *Object, row types.Row) error {
	var parts, vals []string
	for _, c := range u.cols {
		parts = append(parts, o.Columns[c].Name)
		vals = append(vals, types.FormatText(row[c]))
	}
	return &pgerror.Error{Code: pgerror.UniqueViolation, Message: fmt.Sprintf("duplicate key value violates unique constraint %q", u.name),
		Detail: fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(parts, ", "), strings.Join(vals, ", "))}
}

// addUnique starts enforcing a unique key over the table's current rows;
// it fails (23505) when they already hold a duplicate.
func (o *Object) addUnique(name string, cols []int) error {
	u := &uniqueKey{name: name, cols: cols, counts: map[string]int64{}}
	for _, up := range o.Data.Snapshot() {
		u.apply([]dataflow.Update{up})
		if k, ok := u.keyOf(up.Row); ok && u.counts[k] > 1 {
			var parts, vals []string
			for _, c := range cols {
				parts = append(parts, o.Columns[c].Name)
				vals = append(vals, types.FormatText(up.Row[c]))
			}
			return &pgerror.Error{Code: pgerror.UniqueViolation, Message: fmt.Sprintf("could not create unique index %q", name),
				Detail: fmt.Sprintf("Key (%s)=(%s) is duplicated.", strings.Join(parts, ", "), strings.Join(vals, ", "))}
		}
	}
	o.uniques = append(o.uniques, u)
	return nil
}

// dropUnique stops enforcing the named unique key.
func (o *Object) dropUnique(name string) {
	for i, u := range o.uniques {
		if u.name == name {
			o.uniques = append(o.uniques[:i], o.uniques[i+1:]...)
			return
		}
	}
}

// checkUniqueLocked rejects changes that would leave two rows with the same
// key of a unique constraint or index, counting the transaction's pending
// changes, and records the changes as pending. REQUIRES: e.mu held.
func (s *Session) checkUniqueLocked(o *Object, changes []dataflow.Update) error {
	for _, u := range o.uniques {
		delta := map[string]int64{}
		rowOf := map[string]types.Row{}
		var order []string
		for _, up := range changes {
			k, ok := u.keyOf(up.Row)
			if !ok {
				continue
			}
			if _, seen := delta[k]; !seen {
				order = append(order, k)
			}
			delta[k] += up.Diff
			if up.Diff > 0 {
				rowOf[k] = up.Row
			}
		}
		var pending map[string]int64
		if s.tx != nil && s.tx.explicit {
			pending = s.tx.uniq[o.ID][u.name]
		}
		for _, k := range order {
			if delta[k] > 0 && u.counts[k]+pending[k]+delta[k] > 1 {
				return u.violation(o, rowOf[k])
			}
		}
		if s.tx != nil && s.tx.explicit {
			if s.tx.uniq == nil {
				s.tx.uniq = map[dataflow.CollectionID]map[string]map[string]int64{}
			}
			if s.tx.uniq[o.ID] == nil {
				s.tx.uniq[o.ID] = map[string]map[string]int64{}
			}
			if s.tx.uniq[o.ID][u.name] == nil {
				s.tx.uniq[o.ID][u.name] = map[string]int64{}
			}
			for k, d := range delta {
				s.tx.uniq[o.ID][u.name][k] += d
			}
		}
	}
	return nil
}

// validateUniqueLocked checks a committing transaction's consolidated
// writes to o against the unique keys' current counts.
func validateUniqueLocked(o *Object, ups []dataflow.Update) error {
	for _, u := range o.uniques {
		delta := map[string]int64{}
		rowOf := map[string]types.Row{}
		for _, up := range ups {
			if k, ok := u.keyOf(up.Row); ok {
				delta[k] += up.Diff
				if up.Diff > 0 {
					rowOf[k] = up.Row
				}
			}
		}
		for k, d := range delta {
			if d > 0 && u.counts[k]+d > 1 {
				return u.violation(o, rowOf[k])
			}
		}
	}
	return nil
}
