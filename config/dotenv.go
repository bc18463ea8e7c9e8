package config

import (
	"regexp"
	"strings"
)

// dotenvRefRE matches ${NAME} and ${NAME:-default} in .env values.
var dotenvRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// parseDotEnv reads a .env file as python-dotenv does: KEY=VALUE lines,
// optional `export `, # comments, single quotes (literal) and double
// quotes (escapes; both may span lines), an inline comment after an
// unquoted value, and ${NAME} / ${NAME:-default} expanded from earlier
// lines, then from the process environment.
func parseDotEnv(data []byte, file string, env map[string]string) ([]envVar, []Problem) {
	var vars []envVar
	var problems []Problem
	seen := map[string]string{}
	lookup := func(name string) (string, bool) {
		if v, ok := seen[name]; ok {
			return v, true
		}
		v, ok := env[name]
		return v, ok
	}
	expand := func(s string) string {
		return dotenvRefRE.ReplaceAllStringFunc(s, func(ref string) string {
			m := dotenvRefRE.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			return m[2]
		})
	}
	text := strings.TrimPrefix(strings.ReplaceAll(string(data), "\r\n", "\n"), "\ufeff")
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		o := Origin{Kind: FromDotEnv, File: file, Line: lineNo}
		key, rest, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			problems = append(problems, Problem{Origin: o, Message: "not a KEY=VALUE line; ignored", Warning: true})
			continue
		}
		o.Var = key
		rest = strings.TrimLeft(rest, " \t")
		var val string
		switch {
		case strings.HasPrefix(rest, "'") || strings.HasPrefix(rest, `"`):
			q := rest[0]
			body := rest[1:]
			end := closingQuote(body, q)
			for end < 0 && i+1 < len(lines) {
				i++
				body += "\n" + lines[i]
				end = closingQuote(body, q)
			}
			if end < 0 {
				problems = append(problems, Problem{Origin: o, Message: "quoted value is never closed; ignored"})
				continue
			}
			val = body[:end]
			if q == '"' {
				val = expand(unescapeDotEnv(val))
			}
		default:
			if j := strings.Index(rest, " #"); j >= 0 {
				rest = rest[:j]
			}
			if j := strings.Index(rest, "\t#"); j >= 0 {
				rest = rest[:j]
			}
			val = expand(strings.TrimSpace(rest))
		}
		seen[key] = val
		vars = append(vars, envVar{name: key, value: val, origin: o})
	}
	return vars, problems
}

// closingQuote returns the index of the unescaped closing quote q in s.
func closingQuote(s string, q byte) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++
		case s[i] == q:
			return i
		}
	}
	return -1
}

var dotenvEscapes = strings.NewReplacer(`\\`, `\`, `\'`, `'`, `\"`, `"`, `\n`, "\n", `\r`, "\r", `\t`, "\t", `\a`, "\a", `\b`, "\b", `\f`, "\f", `\v`, "\v")

func unescapeDotEnv(s string) string { return dotenvEscapes.Replace(s) }
