package expr

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// String functions. Lengths and positions count characters (UTF-8 code
// points), as PostgreSQL does in a UTF8 database.

func strfn(name string, args []types.Type, ret types.Type, f fn) {
	Register(name, &Overload{Args: args, Ret: ret, Fn: f})
}

func init() {
	text, i4, b := types.Text, types.Int4, types.Bool
	t1 := []types.Type{text}
	t2 := []types.Type{text, text}
	strfn("lower", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(strings.ToLower(a[0].Str())), nil
	})
	strfn("upper", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(strings.ToUpper(a[0].Str())), nil
	})
	for _, name := range []string{"length", "char_length", "character_length"} {
		strfn(name, t1, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewInt(i4, int64(utf8.RuneCountInString(a[0].Str()))), nil
		})
	}
	strfn("octet_length", t1, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewInt(i4, int64(len(a[0].Str()))), nil
	})
	strfn("bit_length", t1, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewInt(i4, int64(8*len(a[0].Str()))), nil
	})
	for _, name := range []string{"substr", "substring"} {
		strfn(name, []types.Type{text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			r := []rune(a[0].Str())
			return types.NewText(substr(r, a[1].Int(), int64(len(r))+1)), nil
		})
		strfn(name, []types.Type{text, i4, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			if a[2].Int() < 0 {
				return types.Datum{}, pgerror.New(pgerror.SubstringError, "negative substring length not allowed")
			}
			return types.NewText(substr([]rune(a[0].Str()), a[1].Int(), a[2].Int())), nil
		})
	}
	strfn("strpos", t2, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return position(a[0].Str(), a[1].Str()), nil })
	// PostgreSQL's grammar turns position(sub IN s) into position(s, sub):
	// the same argument order as strpos.
	strfn("position", t2, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return position(a[0].Str(), a[1].Str()), nil })
	trims := map[string]func(s, set string) string{
		"btrim": func(s, set string) string { return strings.Trim(s, set) },
		"trim":  func(s, set string) string { return strings.Trim(s, set) },
		"ltrim": strings.TrimLeft,
		"rtrim": strings.TrimRight,
	}
	for name, f := range trims {
		f := f
		strfn(name, t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewText(f(a[0].Str(), " ")), nil })
		strfn(name, t2, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewText(f(a[0].Str(), a[1].Str())), nil
		})
	}
	for _, left := range []bool{true, false} {
		left := left
		name := "rpad"
		if left {
			name = "lpad"
		}
		strfn(name, []types.Type{text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewText(pad(a[0].Str(), a[1].Int(), " ", left)), nil
		})
		strfn(name, []types.Type{text, i4, text}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return types.NewText(pad(a[0].Str(), a[1].Int(), a[2].Str(), left)), nil
		})
	}
	strfn("replace", []types.Type{text, text, text}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if a[1].Str() == "" {
			return a[0].WithType(text), nil
		}
		return types.NewText(strings.ReplaceAll(a[0].Str(), a[1].Str(), a[2].Str())), nil
	})
	strfn("split_part", []types.Type{text, text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		n := a[2].Int()
		if n == 0 {
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "field position must not be zero")
		}
		var parts []string
		if a[1].Str() == "" {
			parts = []string{a[0].Str()}
			if a[0].Str() == "" {
				parts = nil
			}
		} else {
			parts = strings.Split(a[0].Str(), a[1].Str())
		}
		if n < 0 { // counts from the end (PostgreSQL 14+)
			n += int64(len(parts)) + 1
		}
		if n < 1 || n > int64(len(parts)) {
			return types.NewText(""), nil
		}
		return types.NewText(parts[n-1]), nil
	})
	strfn("left", []types.Type{text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		r, n := []rune(a[0].Str()), a[1].Int()
		if n < 0 {
			n = max(int64(len(r))+n, 0)
		}
		return types.NewText(string(r[:min(n, int64(len(r)))])), nil
	})
	strfn("right", []types.Type{text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		r, n := []rune(a[0].Str()), a[1].Int()
		if n < 0 {
			n = max(int64(len(r))+n, 0)
		}
		n = min(n, int64(len(r)))
		return types.NewText(string(r[int64(len(r))-n:])), nil
	})
	strfn("repeat", []types.Type{text, i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		n := a[1].Int()
		if n <= 0 {
			return types.NewText(""), nil
		}
		if int64(len(a[0].Str()))*n > 1<<30-1 {
			return types.Datum{}, pgerror.New(pgerror.ProgramLimitExceeded, "requested length too large")
		}
		return types.NewText(strings.Repeat(a[0].Str(), int(n))), nil
	})
	strfn("reverse", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		r := []rune(a[0].Str())
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return types.NewText(string(r)), nil
	})
	strfn("initcap", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		var sb strings.Builder
		inWord := false
		for _, c := range a[0].Str() {
			if inWord {
				sb.WriteRune(unicode.ToLower(c))
			} else {
				sb.WriteRune(unicode.ToUpper(c))
			}
			inWord = unicode.IsLetter(c) || unicode.IsDigit(c)
		}
		return types.NewText(sb.String()), nil
	})
	// concat and concat_ws take any arguments and skip NULLs.
	Register("concat", &Overload{Args: []types.Type{types.Unknown}, Variadic: true, Ret: text, NonStrict: true,
		Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			var sb strings.Builder
			for _, d := range a {
				if !d.IsNull() {
					sb.WriteString(textOut(ctx, d))
				}
			}
			return types.NewText(sb.String()), nil
		}})
	Register("concat_ws", &Overload{Args: []types.Type{text, types.Unknown}, Variadic: true, Ret: text, NonStrict: true,
		Fn: func(ctx *Ctx, a []types.Datum) (types.Datum, error) {
			if a[0].IsNull() {
				return types.Null(text), nil
			}
			var parts []string
			for _, d := range a[1:] {
				if !d.IsNull() {
					parts = append(parts, textOut(ctx, d))
				}
			}
			return types.NewText(strings.Join(parts, a[0].Str())), nil
		}})
	strfn("md5", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		sum := md5.Sum([]byte(a[0].Str()))
		return types.NewText(hex.EncodeToString(sum[:])), nil
	})
	strfn("starts_with", t2, b, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewBool(strings.HasPrefix(a[0].Str(), a[1].Str())), nil
	})
	strfn("ascii", t1, i4, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		r, _ := utf8.DecodeRuneInString(a[0].Str())
		if a[0].Str() == "" {
			r = 0
		}
		return types.NewInt(i4, int64(r)), nil
	})
	strfn("chr", []types.Type{i4}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		c := a[0].Int()
		switch {
		case c == 0:
			return types.Datum{}, pgerror.New(pgerror.ProgramLimitExceeded, "null character not permitted")
		case c < 0 || c > unicode.MaxRune || c >= 0xD800 && c <= 0xDFFF:
			return types.Datum{}, pgerror.New(pgerror.ProgramLimitExceeded, "requested character too large for encoding: %d", c)
		}
		return types.NewText(string(rune(c))), nil
	})
	for _, t := range []types.Type{types.Int4, types.Int8} {
		bitsize := 32
		if t == types.Int8 {
			bitsize = 64
		}
		strfn("to_hex", []types.Type{t}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			v := uint64(a[0].Int())
			if bitsize == 32 {
				v = uint64(uint32(a[0].Int()))
			}
			return types.NewText(strconv.FormatUint(v, 16)), nil
		})
	}
	strfn("quote_ident", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) { return types.NewText(quoteIdent(a[0].Str())), nil })
	strfn("quote_literal", t1, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return types.NewText(quoteLiteral(a[0].Str())), nil
	})
	Register("quote_nullable", &Overload{Args: t1, Ret: text, NonStrict: true, Fn: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if a[0].IsNull() {
			return types.NewText("NULL"), nil
		}
		return types.NewText(quoteLiteral(a[0].Str())), nil
	}})
	Register("format", &Overload{Args: []types.Type{text, types.Unknown}, Variadic: true, Ret: text, NonStrict: true, Fn: format})
	strfn("translate", []types.Type{text, text, text}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		from, to := []rune(a[1].Str()), []rune(a[2].Str())
		var sb strings.Builder
		for _, c := range a[0].Str() {
			i := indexRune(from, c)
			switch {
			case i < 0:
				sb.WriteRune(c)
			case i < len(to):
				sb.WriteRune(to[i])
			}
		}
		return types.NewText(sb.String()), nil
	})
	strfn("regexp_replace", []types.Type{text, text, text}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return regexpReplace(a[0].Str(), a[1].Str(), a[2].Str(), "")
	})
	strfn("regexp_replace", []types.Type{text, text, text, text}, text, func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		return regexpReplace(a[0].Str(), a[1].Str(), a[2].Str(), a[3].Str())
	})
}

func indexRune(rs []rune, c rune) int {
	for i, r := range rs {
		if r == c {
			return i
		}
	}
	return -1
}

// substr is SQL's substring with 1-based start: characters in
// [start, start+length) that exist.
func substr(r []rune, start, length int64) string {
	end := start + length
	if length > int64(len(r))+1 { // guard against overflow of start+length
		end = int64(len(r)) + 1
	}
	start = max(start, 1)
	end = min(end, int64(len(r))+1)
	if start >= end {
		return ""
	}
	return string(r[start-1 : end-1])
}

func position(s, sub string) types.Datum {
	i := strings.Index(s, sub)
	if i < 0 {
		return types.NewInt(types.Int4, 0)
	}
	return types.NewInt(types.Int4, int64(utf8.RuneCountInString(s[:i]))+1)
}

// pad extends s to n characters with fill (on the left for lpad), or
// truncates it to n characters.
func pad(s string, n int64, fill string, left bool) string {
	r := []rune(s)
	if n <= 0 {
		return ""
	}
	if int64(len(r)) >= n {
		return string(r[:n])
	}
	f := []rune(fill)
	if len(f) == 0 {
		return s
	}
	need := int(n) - len(r)
	p := make([]rune, need)
	for i := range p {
		p[i] = f[i%len(f)]
	}
	if left {
		return string(p) + s
	}
	return s + string(p)
}

func quoteIdent(s string) string {
	ok := s != "" && (s[0] == '_' || s[0] >= 'a' && s[0] <= 'z')
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			ok = false
		}
	}
	if ok && !reservedWords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedWords are the keywords quote_ident must quote (PostgreSQL's
// reserved and type-function-name keywords most often seen as identifiers).
var reservedWords = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true, "asc": true,
	"asymmetric": true, "both": true, "case": true, "cast": true, "check": true, "collate": true, "column": true,
	"constraint": true, "create": true, "current_catalog": true, "current_date": true, "current_role": true,
	"current_time": true, "current_timestamp": true, "current_user": true, "default": true, "deferrable": true,
	"desc": true, "distinct": true, "do": true, "else": true, "end": true, "except": true, "false": true,
	"fetch": true, "for": true, "foreign": true, "from": true, "grant": true, "group": true, "having": true,
	"in": true, "initially": true, "intersect": true, "into": true, "lateral": true, "leading": true, "limit": true,
	"localtime": true, "localtimestamp": true, "not": true, "null": true, "offset": true, "on": true, "only": true,
	"or": true, "order": true, "placing": true, "primary": true, "references": true, "returning": true,
	"select": true, "session_user": true, "some": true, "symmetric": true, "table": true, "then": true, "to": true,
	"trailing": true, "true": true, "union": true, "unique": true, "user": true, "using": true, "variadic": true,
	"when": true, "where": true, "window": true, "with": true,
	"authorization": true, "binary": true, "cross": true, "full": true, "ilike": true, "inner": true, "is": true,
	"join": true, "left": true, "like": true, "natural": true, "outer": true, "right": true, "similar": true,
	"verbose": true, "between": true, "bigint": true, "boolean": true, "char": true, "character": true,
	"coalesce": true, "dec": true, "decimal": true, "exists": true, "extract": true, "float": true, "int": true,
	"integer": true, "interval": true, "numeric": true, "real": true, "smallint": true, "time": true,
	"timestamp": true, "values": true, "varchar": true,
}

// quoteLiteral quotes a string literal; one with backslashes becomes an
// E” literal with them doubled, as PostgreSQL does.
func quoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// format implements format(fmt, args...) with %s, %I, %L and %%, plus
// positional n$ references. Width and - flags are not supported.
func format(ctx *Ctx, a []types.Datum) (types.Datum, error) {
	if a[0].IsNull() {
		return types.Null(types.Text), nil
	}
	f, args := a[0].Str(), a[1:]
	var sb strings.Builder
	next := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			sb.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "unterminated format() type specifier")
		}
		if f[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		j := i
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if j < len(f) && f[j] == '$' && j > i {
			n, _ := strconv.Atoi(f[i:j])
			if n == 0 {
				return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "format specifies argument 0, but arguments are numbered from 1")
			}
			next = n - 1
			i = j + 1
		}
		if i >= len(f) {
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "unterminated format() type specifier")
		}
		if next >= len(args) {
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "too few arguments for format()")
		}
		arg := args[next]
		next++
		switch f[i] {
		case 's':
			if !arg.IsNull() {
				sb.WriteString(textOut(ctx, arg))
			}
		case 'I':
			if arg.IsNull() {
				return types.Datum{}, pgerror.New(pgerror.NullValueNotAllowed, "null values cannot be formatted as an SQL identifier")
			}
			sb.WriteString(quoteIdent(textOut(ctx, arg)))
		case 'L':
			if arg.IsNull() {
				sb.WriteString("NULL")
			} else {
				sb.WriteString(quoteLiteral(textOut(ctx, arg)))
			}
		default:
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "unrecognized format() type specifier \"%c\"", f[i])
		}
	}
	return types.NewText(sb.String()), nil
}

// regexCache holds compiled patterns: a pattern is usually a constant, so
// compiling it once per distinct text saves the per-row cost.
var regexCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

// pgRegexReplacer translates the PostgreSQL ARE escapes that RE2 spells
// differently: \m and \M (start/end of word) and \y/\Y (word boundary).
var pgRegexReplacer = strings.NewReplacer(`\\`, `\\`, `\m`, `\b`, `\M`, `\b`, `\y`, `\b`, `\Y`, `\B`)

func compileRegex(p string, fold bool) (*regexp.Regexp, error) {
	key := p
	if fold {
		key = "(?i)" + p
	}
	regexCache.Lock()
	re, ok := regexCache.m[key]
	regexCache.Unlock()
	if ok {
		return re, nil
	}
	src := pgRegexReplacer.Replace(p)
	if fold {
		src = "(?i)" + src
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, pgerror.New(pgerror.InvalidRegularExpression, "invalid regular expression: %v", err)
	}
	regexCache.Lock()
	if regexCache.m == nil || len(regexCache.m) > 1000 {
		regexCache.m = map[string]*regexp.Regexp{}
	}
	regexCache.m[key] = re
	regexCache.Unlock()
	return re, nil
}

// regexpReplace supports flags g (all matches) and i (case-insensitive);
// \1..\9 and \& in the replacement refer to groups and the whole match.
func regexpReplace(s, p, repl, flags string) (types.Datum, error) {
	for _, f := range flags {
		if f != 'g' && f != 'i' {
			return types.Datum{}, pgerror.New(pgerror.InvalidParameterValue, "invalid regular expression option: \"%c\"", f)
		}
	}
	re, err := compileRegex(p, strings.Contains(flags, "i"))
	if err != nil {
		return types.Datum{}, err
	}
	var tmpl strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl) && repl[i+1] >= '1' && repl[i+1] <= '9':
			tmpl.WriteString("${" + string(repl[i+1]) + "}")
			i++
		case c == '\\' && i+1 < len(repl) && repl[i+1] == '&':
			tmpl.WriteString("${0}")
			i++
		case c == '\\' && i+1 < len(repl) && repl[i+1] == '\\':
			tmpl.WriteByte('\\')
			i++
		case c == '$':
			tmpl.WriteString("$$")
		default:
			tmpl.WriteByte(c)
		}
	}
	t := tmpl.String()
	if strings.Contains(flags, "g") {
		return types.NewText(re.ReplaceAllString(s, t)), nil
	}
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return types.NewText(s), nil
	}
	out := re.ExpandString(nil, t, s, loc)
	return types.NewText(s[:loc[0]] + string(out) + s[loc[1]:]), nil
}

func init() {
	// similar_to_escape turns a SIMILAR TO pattern into the POSIX regular
	// expression PostgreSQL matches with ~ (the binder sees
	// `a SIMILAR TO p` as `a ~ similar_to_escape(p)`).
	escape := func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		esc := `\`
		if len(a) > 1 {
			esc = a[1].Str()
		}
		return types.NewText(similarToRegex(a[0].Str(), esc)), nil
	}
	Register("similar_to_escape",
		&Overload{Args: []types.Type{types.Text}, Ret: types.Text, Fn: escape},
		&Overload{Args: []types.Type{types.Text, types.Text}, Ret: types.Text, Fn: escape})
}

// similarToRegex translates SQL's SIMILAR TO syntax: % is .*, _ is ., the
// escape character quotes the next one, regex metacharacters that SQL does
// not give a meaning (., ^, $) are quoted, and the whole must match.
func similarToRegex(pat, esc string) string {
	var b strings.Builder
	b.WriteString("^(?:")
	rs := []rune(pat)
	escRune := rune(-1)
	if esc != "" {
		escRune = []rune(esc)[0]
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == escRune && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		case c == '.' || c == '^' || c == '$':
			b.WriteString(`\` + string(c))
		default:
			b.WriteRune(c)
		}
	}
	b.WriteString(")$")
	return b.String()
}
