package config

import (
	"encoding/json"
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
				if prev != '_' {
					b.WriteByte('_')
				}
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// decamelizeTree rewrites every map key of v to snake_case.
func decamelizeTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[Decamelize(k)] = decamelizeTree(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = decamelizeTree(e)
		}
		return out
	default:
		return v
	}
}

// merge deep-merges src into dst (src wins) and returns dst.
func merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(cloneTree(dm), sm)
				continue
			}
			dst[k] = merge(map[string]any{}, sm)
			continue
		}
		dst[k] = sv
	}
	return dst
}

func cloneTree(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// setPath sets a value at a dotted path of nested maps.
func setPath(root map[string]any, path []string, v any) {
	cur := root
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	last := path[len(path)-1]
	if vm, ok := v.(map[string]any); ok {
		if existing, ok := cur[last].(map[string]any); ok {
			cur[last] = merge(existing, vm)
			return
		}
	}
	cur[last] = v
}

// envValue parses an environment value: a JSON object or array is decoded
// (Ocean accepts whole objects as JSON), anything else stays a string and
// is coerced when decoded into a typed field.
func envValue(s string) any {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var v any
		if err := json.Unmarshal([]byte(t), &v); err == nil {
			if m, ok := v.(map[string]any); ok {
				return decamelizeTree(m)
			}
			return v
		}
	}
	return s
}
