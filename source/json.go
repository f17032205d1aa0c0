package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tributary-db/tributary/sql/types"
)

// jsonDecoder fills a row's columns from a JSON object's fields by name:
// a field the columns do not name is ignored, a column no field names (or
// whose field is null) is NULL. A value converts as a cast from text
// would (the string's contents, or a number's or boolean's literal text:
// {"n": "42"} and {"n": 42} both fill an integer column), except into a
// jsonb column, which takes the field's JSON value, and into a text
// column, which takes an object's or array's JSON text.
//
// A field matches the column of its exact name, or failing that the one
// whose name equals it ignoring case (column names are lower-case unless
// quoted, JSON fields often are not).
//
// The decoder keeps no state between messages: it may be used by two
// goroutines at once.
type jsonDecoder struct {
	cols  []Column
	exact map[string]int
	lower map[string]int
}

func newJSONDecoder(cols []Column) *jsonDecoder {
	d := &jsonDecoder{cols: cols, exact: map[string]int{}, lower: map[string]int{}}
	for i, c := range cols {
		d.exact[c.Name] = i
		if _, dup := d.lower[strings.ToLower(c.Name)]; !dup {
			d.lower[strings.ToLower(c.Name)] = i
		}
	}
	return d
}

var errNotObject = errors.New("not a JSON object")

// row decodes msg into row.
func (d *jsonDecoder) row(msg []byte, row types.Row) error {
	if !json.Valid(msg) {
		return errors.New("invalid JSON")
	}
	for i, c := range d.cols {
		row[i] = types.Null(c.Type)
	}
	// msg is valid JSON from here on: the scan below need not check it.
	i := skipSpace(msg, 0)
	if msg[i] != '{' {
		return errNotObject
	}
	i = skipSpace(msg, i+1)
	for msg[i] != '}' {
		k0 := i
		i = skipString(msg, i)
		key := msg[k0:i]
		i = skipSpace(msg, i)
		i = skipSpace(msg, i+1) // ':'
		v0 := i
		i = skipValue(msg, i)
		if col, ok := d.column(key); ok {
			v, err := jsonValue(msg[v0:i], d.cols[col].Type)
			if err != nil {
				return fmt.Errorf("field %s: %v", key, err)
			}
			row[col] = v
		}
		i = skipSpace(msg, i)
		if msg[i] == ',' {
			i = skipSpace(msg, i+1)
		}
	}
	for i, c := range d.cols {
		if c.NotNull && row[i].IsNull() {
			return fmt.Errorf("null value in column %q violates its NOT NULL constraint", c.Name)
		}
	}
	return nil
}

// column finds the column a field's key (a JSON string, quoted) names.
func (d *jsonDecoder) column(key []byte) (int, bool) {
	raw := key[1 : len(key)-1]
	var name string
	if !strings.Contains(string(raw), `\`) {
		if i, ok := d.exact[string(raw)]; ok {
			return i, true
		}
		name = string(raw)
	} else if json.Unmarshal(key, &name) != nil {
		return 0, false
	} else if i, ok := d.exact[name]; ok {
		return i, true
	}
	i, ok := d.lower[strings.ToLower(name)]
	return i, ok
}

// jsonValue converts one JSON value (valid) into a datum of type t.
func jsonValue(v []byte, t types.Type) (types.Datum, error) {
	switch {
	case string(v) == "null":
		return types.Null(t), nil
	case t == types.JSONB:
		return types.ParseJSONB(string(v))
	case v[0] == '"':
		var s string
		if !strings.Contains(string(v), `\`) {
			s = string(v[1 : len(v)-1])
		} else if err := json.Unmarshal(v, &s); err != nil {
			return types.Datum{}, err
		}
		return types.ParseText(t, s)
	case v[0] == '{' || v[0] == '[':
		if t != types.Text && t != types.Varchar && t != types.Bpchar {
			return types.Datum{}, fmt.Errorf("cannot cast a JSON %s to type %s", map[byte]string{'{': "object", '[': "array"}[v[0]], t)
		}
		j, err := types.ParseJSONB(string(v))
		if err != nil {
			return types.Datum{}, err
		}
		return types.ParseText(t, types.FormatText(j))
	}
	return types.ParseText(t, string(v)) // a number, true or false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
