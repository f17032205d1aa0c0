package expr

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// jsonb operators and functions. A jsonb datum holds canonical jsonb text;
// functions decode it with types.DecodeJSON and re-encode results with
// types.AppendJSON, so every result is canonical too. json is an alias of
// jsonb in Tributary.

// jsonKind is jsonb_typeof of canonical jsonb text.
func jsonKind(s string) string {
	if s == "" {
		return "null"
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func decodeJSONB(d types.Datum) (any, error) {
	v, err := types.DecodeJSON(d.Str())
	if err != nil {
		return nil, pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type json")
	}
	return v, nil
}

func jsonbDatum(v any) types.Datum {
	return types.NewString(types.JSONB, string(types.AppendJSON(nil, v)))
}

// jsonText is ->>: strings unquoted, JSON null as SQL NULL, the rest as
// jsonb text.
func jsonText(v any) types.Datum {
	switch x := v.(type) {
	case nil:
		return types.Null(types.Text)
	case string:
		return types.NewText(x)
	}
	return types.NewText(string(types.AppendJSON(nil, v)))
}

// jsonField is v->key for objects; a missing key (or a non-object) is NULL.
func jsonField(v any, key string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	e, ok := m[key]
	return e, ok
}

// jsonIndex is v->i for arrays; negative i counts from the end.
func jsonIndex(v any, i int64) (any, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	if i < 0 {
		i += int64(len(a))
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, false
	}
	return a[i], true
}

// jsonPath follows a path of keys (or array indexes written as integers).
func jsonPath(v any, path []types.Datum) (any, bool) {
	for _, p := range path {
		if p.IsNull() {
			return nil, false
		}
		var ok bool
		switch v.(type) {
		case map[string]any:
			v, ok = jsonField(v, p.Str())
		case []any:
			i, err := strconv.ParseInt(strings.TrimSpace(p.Str()), 10, 64)
			if err != nil {
				return nil, false
			}
			v, ok = jsonIndex(v, i)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

func registerJSONOps() {
	jb, text, i4, b := types.JSONB, types.Text, types.Int4, types.Bool
	get := func(sym string, key types.Type, asText bool) {
		ret := jb
		if asText {
			ret = text
		}
		binop(sym, jb, key, ret, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			v, err := decodeJSONB(a[0])
			if err != nil {
				return types.Datum{}, err
			}
			var e any
			var ok bool
			if key == text {
				e, ok = jsonField(v, a[1].Str())
			} else {
				e, ok = jsonIndex(v, a[1].Int())
			}
			switch {
			case !ok:
				return types.Null(ret), nil
			case asText:
				return jsonText(e), nil
			}
			return jsonbDatum(e), nil
		})
	}
	get("->", text, false)
	get("->", i4, false)
	get("->>", text, true)
	get("->>", i4, true)
	binop("@>", jb, jb, b, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return jsonContains(a[0], a[1]) })
	binop("<@", jb, jb, b, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return jsonContains(a[1], a[0]) })
	binop("?", jb, text, b, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		v, err := decodeJSONB(a[0])
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewBool(jsonHasKey(v, a[1].Str())), nil
	})
	binop("||", jb, jb, jb, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		x, err := decodeJSONB(a[0])
		if err != nil {
			return types.Datum{}, err
		}
		y, err := decodeJSONB(a[1])
		if err != nil {
			return types.Datum{}, err
		}
		return jsonbDatum(jsonConcat(x, y)), nil
	})
}

// jsonHasKey is the ? operator: an object key, or a string element of an
// array, or a string scalar equal to key.
func jsonHasKey(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		_, ok := x[key]
		return ok
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == key {
				return true
			}
		}
	case string:
		return x == key
	}
	return false
}

// jsonConcat is jsonb || jsonb: objects merge (right wins), anything else
// concatenates as arrays.
func jsonConcat(x, y any) any {
	xm, xok := x.(map[string]any)
	ym, yok := y.(map[string]any)
	if xok && yok {
		out := map[string]any{}
		for k, v := range xm {
			out[k] = v
		}
		for k, v := range ym {
			out[k] = v
		}
		return out
	}
	asArray := func(v any) []any {
		if a, ok := v.([]any); ok {
			return a
		}
		return []any{v}
	}
	return append(append([]any{}, asArray(x)...), asArray(y)...)
}

func jsonContains(a, b types.Datum) (types.Datum, error) {
	x, err := decodeJSONB(a)
	if err != nil {
		return types.Datum{}, err
	}
	y, err := decodeJSONB(b)
	if err != nil {
		return types.Datum{}, err
	}
	return types.NewBool(contains(x, y, true)), nil
}

// contains implements jsonb @>: objects contain objects key by key, arrays
// contain arrays element-wise (in any order), and a top-level array may
// contain a bare scalar.
func contains(x, y any, top bool) bool {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			return false
		}
		for k, ye := range yv {
			xe, ok := xv[k]
			if !ok || !contains(xe, ye, false) {
				return false
			}
		}
		return true
	case []any:
		switch yv := y.(type) {
		case []any:
			for _, ye := range yv {
				found := false
				for _, xe := range xv {
					if contains(xe, ye, false) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
			return true
		case map[string]any:
			return false
		default:
			if !top {
				return false
			}
			for _, xe := range xv {
				if jsonScalarEqual(xe, y) {
					return true
				}
			}
			return false
		}
	}
	return jsonScalarEqual(x, y)
}

func jsonScalarEqual(x, y any) bool {
	switch xv := x.(type) {
	case json.Number:
		yv, ok := y.(json.Number)
		if !ok {
			return false
		}
		a, _, err1 := apd.NewFromString(xv.String())
		b, _, err2 := apd.NewFromString(yv.String())
		return err1 == nil && err2 == nil && a.Cmp(b) == 0
	case string:
		yv, ok := y.(string)
		return ok && xv == yv
	case bool:
		yv, ok := y.(bool)
		return ok && xv == yv
	case nil:
		return y == nil
	}
	return false
}

// toJSONValue converts a SQL datum to the JSON value to_jsonb gives it:
// numbers stay numbers, booleans booleans, jsonb is embedded, and other
// types become their text output as a string.
func toJSONValue(ctx *Ctx, d types.Datum) (any, error) {
	if d.IsNull() {
		return nil, nil
	}
	switch t := d.Type(); {
	case t == types.JSONB:
		return decodeJSONB(d)
	case t == types.Bool:
		return d.Bool(), nil
	case t.Family() == types.FamNumeric:
		s := types.FormatText(d)
		switch s {
		case "NaN", "Infinity", "-Infinity":
			return s, nil
		}
		return json.Number(s), nil
	case t == types.Timestamp:
		return strings.Replace(types.FormatText(d), " ", "T", 1), nil
	case t == types.TimestampTZ:
		return isoTZ(textOut(ctx, d)), nil
	}
	return textOut(ctx, d), nil
}

// isoTZ turns "2024-01-02 03:04:05+00" into to_jsonb's
// "2024-01-02T03:04:05+00:00".
func isoTZ(s string) string {
	s = strings.Replace(s, " ", "T", 1)
	if i := strings.LastIndexAny(s, "+-"); i > 10 && len(s)-i == 3 {
		s += ":00"
	}
	return s
}

func init() {
	jb, text, i4 := types.JSONB, types.Text, types.Int4
	strfn("jsonb_typeof", []types.Type{jb}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(jsonKind(a[0].Str())), nil
	})
	strfn("jsonb_array_length", []types.Type{jb}, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		v, err := decodeJSONB(a[0])
		if err != nil {
			return types.Datum{}, err
		}
		arr, ok := v.([]any)
		if !ok {
			what := "a scalar"
			if _, obj := v.(map[string]any); obj {
				what = "a non-array"
			}
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "cannot get array length of %s", what)
		}
		return types.NewInt(i4, int64(len(arr))), nil
	})
	for _, name := range []string{"jsonb_build_object", "json_build_object"} {
		Register(name, &Overload{Args: []types.Type{types.Unknown}, Variadic: true, Ret: jb, NonStrict: true,
			Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
				if len(a)%2 != 0 {
					return types.Datum{}, &pgerror.Error{Code: pgerror.InvalidParameterValue,
						Message: "argument list must have even number of elements",
						Hint:    "The arguments of jsonb_build_object() must consist of alternating keys and values."}
				}
				m := map[string]any{}
				for i := 0; i < len(a); i += 2 {
					if a[i].IsNull() {
						return types.Datum{}, pgerror.New(pgerror.NullValueNotAllowed, "argument %d: key must not be null", i+1)
					}
					v, err := toJSONValue(ctx, a[i+1])
					if err != nil {
						return types.Datum{}, err
					}
					m[textOut(ctx, a[i])] = v
				}
				return jsonbDatum(m), nil
			}})
	}
	for _, name := range []string{"jsonb_build_array", "json_build_array"} {
		Register(name, &Overload{Args: []types.Type{types.Unknown}, Variadic: true, Ret: jb, NonStrict: true,
			Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
				arr := make([]any, 0, len(a))
				for _, d := range a {
					v, err := toJSONValue(ctx, d)
					if err != nil {
						return types.Datum{}, err
					}
					arr = append(arr, v)
				}
				return jsonbDatum(arr), nil
			}})
	}
	for _, name := range []string{"to_jsonb", "to_json"} {
		Register(name, &Overload{Args: []types.Type{types.Unknown}, Ret: jb, Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			v, err := toJSONValue(ctx, a[0])
			if err != nil {
				return types.Datum{}, err
			}
			return jsonbDatum(v), nil
		}})
	}
	for _, asText := range []bool{false, true} {
		asText := asText
		name, ret := "jsonb_extract_path", jb
		if asText {
			name, ret = "jsonb_extract_path_text", text
		}
		Register(name, &Overload{Args: []types.Type{jb, text}, Variadic: true, Ret: ret, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			v, err := decodeJSONB(a[0])
			if err != nil {
				return types.Datum{}, err
			}
			e, ok := jsonPath(v, a[1:])
			switch {
			case !ok:
				return types.Null(ret), nil
			case asText:
				return jsonText(e), nil
			}
			return jsonbDatum(e), nil
		}})
	}
	strfn("jsonb_pretty", []types.Type{jb}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		v, err := decodeJSONB(a[0])
		if err != nil {
			return types.Datum{}, err
		}
		var sb strings.Builder
		prettyJSON(&sb, v, 0)
		return types.NewText(sb.String()), nil
	})
	strfn("jsonb_strip_nulls", []types.Type{jb}, jb, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		v, err := decodeJSONB(a[0])
		if err != nil {
			return types.Datum{}, err
		}
		return jsonbDatum(stripNulls(v)), nil
	})
}

func stripNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e != nil {
				out[k] = stripNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripNulls(e)
		}
		return out
	}
	return v
}

// prettyJSON writes jsonb_pretty's layout: four-space indent, one member
// per line, empty containers as {} and [].
func prettyJSON(sb *strings.Builder, v any, depth int) {
	ind := func(d int) { sb.WriteString(strings.Repeat("    ", d)) }
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			sb.WriteString("{\n")
			ind(depth)
			sb.WriteString("}")
			return
		}
		keys := objectKeys(x)
		sb.WriteString("{\n")
		for i, k := range keys {
			ind(depth + 1)
			sb.Write(types.AppendJSON(nil, k))
			sb.WriteString(": ")
			prettyJSON(sb, x[k], depth+1)
			if i < len(keys)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
		ind(depth)
		sb.WriteString("}")
	case []any:
		if len(x) == 0 {
			sb.WriteString("[\n")
			ind(depth)
			sb.WriteString("]")
			return
		}
		sb.WriteString("[\n")
		for i, e := range x {
			ind(depth + 1)
			prettyJSON(sb, e, depth+1)
			if i < len(x)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
		ind(depth)
		sb.WriteString("]")
	default:
		sb.Write(types.AppendJSON(nil, v))
	}
}

// objectKeys lists an object's keys in jsonb order: by length, then bytes.
func objectKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	return keys
}
