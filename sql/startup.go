package sql

import "strings"

// startupOptions reads the "options" startup parameter (libpq's options
// connection setting, PGOPTIONS) as PostgreSQL's backend does: words
// separated by spaces, a backslash escaping the next character, and run-time
// settings given as "-c name=value", "-cname=value" or "--name=value".
// Other switches are ignored.
func startupOptions(v string) [][2]string {
	var words []string
	var w strings.Builder
	inWord, escaped := false, false
	for _, r := range v {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped, inWord = false, true
		case r == '\\':
			escaped = true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	var out [][2]string
	for i := 0; i < len(words); i++ {
		var kv string
		switch word := words[i]; {
		case word == "-c" && i+1 < len(words):
			i++
			kv = words[i]
		case strings.HasPrefix(word, "-c"):
			kv = word[2:]
		case strings.HasPrefix(word, "--"):
			kv = word[2:]
		default:
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		// PostgreSQL accepts dashes for underscores in option names.
		out = append(out, [2]string{strings.ToLower(strings.ReplaceAll(name, "-", "_")), value})
	}
	return out
}
