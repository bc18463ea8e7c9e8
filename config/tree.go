package config

import (
	"strings"
	"unicode"
)

// Decamelize converts a camelCase key to snake_case as Ocean's settings
// loader does: clientId -> client_id, thirdPartyLatencyMS ->
// third_party_latency_ms, baseURL -> base_url.
func Decamelize(s string) string {
	r := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// camelize is the reverse for display: client_id -> clientId.
func camelize(s string) string {
	var b strings.Builder
	up := false
	for _, c := range s {
		if c == '_' {
			up = b.Len() > 0
			continue
		}
		if up {
			c = unicode.ToUpper(c)
			up = false
		}
		b.WriteRune(c)
	}
	return b.String()
}

// walk calls fn for every setting and group of settings.
func (s *schema) walk(fn func(*field)) {
	var visit func(*field)
	visit = func(f *field) {
		for _, c := range f.children {
			fn(c)
			visit(c)
		}
	}
	visit(s.root)
}
