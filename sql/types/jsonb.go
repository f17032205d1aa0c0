package types

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// ParseJSONB parses JSON text into a jsonb datum, stored as the canonical
// text PostgreSQL prints for jsonb: object keys ordered by length then bytes,
// duplicate keys keeping the last value, ", " and ": " separators.
func ParseJSONB(s string) (Datum, error) {
	v, err := DecodeJSON(s)
	if err != nil {
		return Datum{}, &ParseError{Code: "22P02", Msg: fmt.Sprintf("invalid input syntax for type json: %v", err)}
	}
	return NewString(JSONB, string(AppendJSON(nil, v))), nil
}

// DecodeJSON decodes JSON text into Go values: map[string]any, []any,
// json.Number, string, bool and nil.
func DecodeJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// AppendJSON appends the canonical jsonb text of a decoded JSON value.
func AppendJSON(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, x)
	case json.Number:
		return append(buf, x.String()...)
	case float64:
		return strconv.AppendFloat(buf, x, 'f', -1, 64)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case string:
		b, _ := json.Marshal(x)
		return append(buf, b...)
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = AppendJSON(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = AppendJSON(buf, k)
			buf = append(buf, ": "...)
			buf = AppendJSON(buf, x[k])
		}
		return append(buf, '}')
	}
	return append(buf, "null"...)
}
