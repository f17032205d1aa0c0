package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

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
	names [][]byte // the columns' names, for the match ignoring case
}

func newJSONDecoder(cols []Column) *jsonDecoder {
	d := &jsonDecoder{cols: cols, exact: map[string]int{}}
	for i, c := range cols {
		d.exact[c.Name] = i
		d.names = append(d.names, []byte(c.Name))
	}
	return d
}

var (
	errNotObject   = errors.New("not a JSON object")
	errInvalidUTF8 = errors.New("invalid UTF-8")
)

// row decodes msg into row and checks NOT NULL.
func (d *jsonDecoder) row(msg []byte, row types.Row) error {
	if err := d.fill(msg, row); err != nil {
		return err
	}
	return d.notNull(row)
}

// notNull checks the NOT NULL columns of row.
func (d *jsonDecoder) notNull(row types.Row) error {
	for i, c := range d.cols {
		if c.NotNull && row[i].IsNull() {
			return fmt.Errorf("null value in column %q violates its NOT NULL constraint", c.Name)
		}
	}
	return nil
}

// fill decodes msg into row (len(row) = the columns).
func (d *jsonDecoder) fill(msg []byte, row types.Row) error {
	if !json.Valid(msg) {
		return errors.New("invalid JSON")
	}
	if !utf8.Valid(msg) {
		return errInvalidUTF8 // json.Valid lets it through in strings
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
	return nil
}

// column finds the column a field's key (a JSON string, quoted) names.
// It allocates only for a key with escapes.
func (d *jsonDecoder) column(key []byte) (int, bool) {
	raw := key[1 : len(key)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var name string
		if json.Unmarshal(key, &name) != nil {
			return 0, false
		}
		raw = []byte(name)
	}
	if i, ok := d.exact[string(raw)]; ok {
		return i, true
	}
	for i, name := range d.names {
		if bytes.EqualFold(name, raw) {
			return i, true
		}
	}
	return 0, false
}

// jsonValue converts one JSON value (valid) into a datum of type t.
func jsonValue(v []byte, t types.Type) (types.Datum, error) {
	switch {
	case string(v) == "null":
		return types.Null(t), nil
	case t == types.JSONB:
		return types.ParseJSONB(string(v))
	case v[0] == '"':
		s, err := jsonString(v)
		if err != nil {
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
	// A number, true or false. An integer or a boolean needs no string
	// (strconv does not keep its argument: the conversion stays on the
	// stack); what does not parse here gets ParseText's error.
	switch t {
	case types.Int2, types.Int4, types.Int8:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			if lo, hi := types.IntRange(t); n >= lo && n <= hi {
				return types.NewInt(t, n), nil
			}
		}
	case types.Bool:
		switch string(v) {
		case "true":
			return types.NewBool(true), nil
		case "false":
			return types.NewBool(false), nil
		}
	case types.Float8:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return types.NewFloat8(f), nil
		}
	}
	return types.ParseText(t, string(v))
}

// jsonString is a JSON string's contents.
func jsonString(v []byte) (string, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
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
