package expr

import (
	"strings"

	"github.com/tributary-db/tributary/sql/types"
)

// SetFunc is a set-returning function (generate_series, unnest,
// information_schema._pg_expandarray): for one tuple of argument values it
// returns zero or more rows of Cols. A function with more than one output
// column returns a composite (record) value; its columns are the record's
// fields.
//
// Fn must not retain args, and the rows it returns belong to the caller.
type SetFunc struct {
	Name string
	Cols []SetCol
	Fn   func(ctx *Ctx, args []types.Datum) ([]types.Row, error)
}

// SetCol is an output column (a record field) of a SetFunc.
type SetCol struct {
	Name string
	Typ  types.Type
}

// SetCall is a set-returning function applied to argument expressions,
// evaluated once per input row by a FlatMap.
type SetCall struct {
	Func *SetFunc
	Args []Expr
}

func (c SetCall) String() string {
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return c.Func.Name + "(" + strings.Join(parts, ", ") + ")"
}

// FormatRecord writes a record's fields in PostgreSQL's text form of a
// composite value: (a,b), a NULL field empty, a field quoted when it is
// empty or holds a delimiter, quote, backslash or space.
func FormatRecord(fields []types.Datum) string {
	var sb strings.Builder
	sb.WriteByte('(')
	for i, f := range fields {
		if i > 0 {
			sb.WriteByte(',')
		}
		if f.IsNull() {
			continue
		}
		s := types.FormatText(f)
		if s == "" || strings.ContainsAny(s, "(),\"\\ \t\n") {
			sb.WriteByte('"')
			for _, r := range s {
				if r == '"' || r == '\\' {
					sb.WriteRune(r)
				}
				sb.WriteRune(r)
			}
			sb.WriteByte('"')
			continue
		}
		sb.WriteString(s)
	}
	sb.WriteByte(')')
	return sb.String()
}

// ParseRecord reads the text form FormatRecord writes (and PostgreSQL's
// record_out): the fields' text, with ok false for a NULL field.
func ParseRecord(s string) (fields []string, ok []bool, valid bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, nil, false
	}
	body := s[1 : len(s)-1]
	var cur strings.Builder
	quoted, inQuote := false, false
	flush := func() {
		fields = append(fields, cur.String())
		ok = append(ok, quoted || cur.Len() > 0)
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inQuote && c == '"' && i+1 < len(body) && body[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuote && c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == '"':
			inQuote = !inQuote
			quoted = true
		case c == ',' && !inQuote:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return fields, ok, !inQuote
}
