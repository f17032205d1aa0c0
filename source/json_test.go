package source

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tributary-db/tributary/sql/types"
)

// FuzzJSONDecoder checks the JSON column decoder on any input: it never
// panics, refuses what encoding/json refuses or what is not an object,
// and otherwise fills each column from the same field value as an
// independent reading with encoding/json's tokenizer (fields in order, the
// last matching one wins; a key matches a column exactly, or else the
// first column equal to it ignoring case).
//
//	timeout 300 go test -run XXX -fuzz FuzzJSONDecoder -fuzztime 60s ./source/
func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": "x", "c": {"k": [1, "}"]}}`,
		` { "A" : -2.5e3 , "b":"\"q\u00e9\\" ,"c":null, "Dé": true} `,
		`{"a": 1, "a": 2, "B": [], "b": "late"}`,
		`{"d\u00c9": "esc", "\u0061": 7}`,
		`{}`, `[]`, `"s"`, `{"a": }`, `{"a": 1`, "\xff", "{\"b\": \"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	cols := []Column{{Name: "a", Type: types.Int8}, {Name: "b", Type: types.Text}, {Name: "c", Type: types.JSONB}, {Name: "dé", Type: types.Text}}
	d := newJSONDecoder(cols)
	f.Fuzz(func(t *testing.T, msg []byte) {
		row := make(types.Row, len(cols))
		err := d.row(msg, row)
		want, werr := referenceRow(msg, cols)
		if werr != nil {
			if err == nil {
				t.Fatalf("%q: decoded, the reference refuses it: %v", msg, werr)
			}
			return
		}
		if (err == nil) != (want != nil) {
			t.Fatalf("%q: decoder error %v, reference row %v", msg, err, want)
		}
		if err == nil && types.CompareRows(row, want) != 0 {
			t.Fatalf("%q: decoded %v, reference %v", msg, row, want)
		}
	})
}

// referenceRow reads msg with encoding/json's tokenizer: an error if msg
// is not a JSON object, a nil row if a value does not convert.
func referenceRow(msg []byte, cols []Column) (types.Row, error) {
	if !json.Valid(msg) {
		return nil, json.Unmarshal(msg, new(any))
	}
	if !utf8.Valid(msg) {
		return nil, errInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	row := make(types.Row, len(cols))
	for i, c := range cols {
		row[i] = types.Null(c.Type)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		col := -1
		for i, c := range cols {
			if c.Name == key {
				col = i
				break
			}
		}
		for i, c := range cols {
			if col < 0 && strings.EqualFold(c.Name, key) {
				col = i
			}
		}
		if col < 0 {
			continue
		}
		v, err := jsonValue(raw, cols[col].Type)
		if err != nil {
			return nil, nil
		}
		row[col] = v
	}
	return row, nil
}
