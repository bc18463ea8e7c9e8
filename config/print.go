package config

import (
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"oceand/logging"
)

// Entry is one effective setting, as `oceand config print` shows it.
type Entry struct {
	// Key is the setting in config.yaml's camelCase.
	Key string `json:"key"`
	// Value is the effective value; logging.Mask for a sensitive one.
	Value any `json:"value"`
	// Source is where the value came from.
	Source Origin `json:"source"`
	// Ignored says why oceand does not act on this setting; empty when
	// it does.
	Ignored string `json:"ignored,omitempty"`
	// Sensitive marks a redacted setting.
	Sensitive bool `json:"sensitive,omitempty"`
}

// Entries lists every setting with its effective value and source, in
// declaration order, integration.config key by key. Sensitive values are
// masked: the list is safe to print.
func (s *Settings) Entries() []Entry {
	m := s.ensureMeta()
	root := reflect.ValueOf(s).Elem()
	var out []Entry
	for _, f := range m.schema.leafs {
		if f.kind() == kindMap {
			out = append(out, s.configEntries(f)...)
			continue
		}
		e := Entry{Key: m.display(f.path), Value: plainField(root.FieldByIndex(f.index)), Source: m.origins[f.path], Ignored: f.ignored}
		if m.sensitive(f.path) {
			e.Sensitive = true
			e.Value = mask(e.Value)
		}
		e.Value = m.redact(f.path, e.Value)
		out = append(out, e)
	}
	return out
}

func (s *Settings) configEntries(f *field) []Entry {
	m := s.meta
	cfg := s.Integration.Config
	if len(cfg) == 0 {
		return []Entry{{Key: m.display(f.path), Value: map[string]any{}, Source: m.origins[f.path]}}
	}
	var out []Entry
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		path := join(f.path, k)
		e := Entry{Key: m.display(path), Value: m.redact(path, cfg[k]), Source: m.origins[path]}
		e.Sensitive = m.sensitive(path)
		out = append(out, e)
	}
	return out
}

// Ignored lists the settings given a value other than their default that
// oceand accepts for compatibility with Ocean but does not act on. A value
// equal to the default changes nothing, whatever oceand would do with it:
// an Ocean config.yaml that spells its defaults out is not warned about.
func (s *Settings) Ignored() []Entry {
	m := s.ensureMeta()
	root := reflect.ValueOf(s).Elem()
	given := map[string]bool{}
	for _, f := range m.schema.leafs {
		if f.ignored == "" || f.kind() == kindMap || m.origins[f.path].Kind == FromDefault {
			continue
		}
		if !isDefault(f, root.FieldByIndex(f.index)) {
			given[m.display(f.path)] = true
		}
	}
	var out []Entry
	for _, e := range s.Entries() {
		if given[e.Key] {
			out = append(out, e)
		}
	}
	return out
}

// isDefault reports whether v, the value of setting f, is its default.
func isDefault(f *field, v reflect.Value) bool {
	def := reflect.Zero(f.typ)
	if d := defaultNode(f); d != nil {
		cv, ok := coerce(f.typ, d)
		if !ok {
			return false
		}
		def = cv
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 && def.Len() == 0 {
		return true // nil and empty lists alike
	}
	return reflect.DeepEqual(v.Interface(), def.Interface())
}

// redact masks every value under a sensitive key of a plain value.
func (m *meta) redact(path string, v any) any {
	if m.sensitive(path) {
		return mask(v)
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = m.redact(join(path, k), e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = m.redact(path+"["+strconv.Itoa(i)+"]", e)
		}
		return out
	case []string:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = maskURLPassword(e)
		}
		return out
	case string:
		return maskURLPassword(t)
	}
	return v
}

func mask(v any) any {
	if v == nil || reflect.ValueOf(v).IsZero() {
		return v
	}
	return logging.Mask
}

// plainField returns a setting's value for printing: pointers followed,
// nil lists empty.
func plainField(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice && v.IsNil() {
		return []string{}
	}
	return v.Interface()
}

// Secrets returns the setting values that must never be printed: Port's
// credentials, the listener's appHost, fields the source's spec marks
// sensitive (after ApplySpec), every value under a key named like a
// credential (token, secret, password, apiKey, ...), however deep (but
// booleans, HTTP method names and intervals in seconds, which are no
// secret, keys naming where a credential goes: apiKeyHeader, tokenUrl,
// and content-negotiation headers: Accept, Content-Type), and the password of
// any URL with credentials.
func (s *Settings) Secrets() []string {
	m := s.ensureMeta()
	root := reflect.ValueOf(s).Elem()
	var out []string
	var collect func(path string, v any, sensitive bool)
	collect = func(path string, v any, sensitive bool) {
		sensitive = sensitive || m.sensitive(path)
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				collect(join(path, k), e, sensitive)
			}
		case []any:
			for i, e := range t {
				collect(path+"["+strconv.Itoa(i)+"]", e, sensitive)
			}
		case []string:
			for _, e := range t {
				collect(path, e, sensitive)
			}
		case string:
			if sensitive && t != "" && !isBoolWord(t) && !isMethodWord(t) && !isPlainHeader(path) {
				out = append(out, t)
			}
			if raw, decoded, ok := urlPassword(t); ok {
				out = append(out, raw, decoded)
			}
		case float64, int:
			// An interval (customAuthRequest's
			// reauthenticateIntervalSeconds) is no secret; masking
			// "3600" would mangle every log line holding it.
			if sensitive && !strings.HasSuffix(strings.ToLower(path), "seconds") {
				out = append(out, strings.TrimSpace(strconv.FormatFloat(toFloat(t), 'f', -1, 64)))
			}
		}
	}
	for _, f := range m.schema.leafs {
		collect(f.path, plainField(root.FieldByIndex(f.index)), false)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// urlPassword returns the password of a URL with credentials
// (redis://user:pass@host) as written and decoded, whatever setting
// holds it; ok is false when there is none.
func urlPassword(s string) (raw, decoded string, ok bool) {
	start, end := urlPasswordSpan(s)
	if start < 0 {
		return "", "", false
	}
	raw = s[start:end]
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		decoded = raw
	}
	return raw, decoded, raw != ""
}

// urlPasswordSpan locates the password in scheme://user:password@host;
// -1 when s has none.
func urlPasswordSpan(s string) (start, end int) {
	i := strings.Index(s, "://")
	if i < 0 {
		return -1, -1
	}
	i += 3
	authority := s[i:]
	if j := strings.IndexAny(authority, "/?#"); j >= 0 {
		authority = authority[:j]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return -1, -1
	}
	colon := strings.Index(authority[:at], ":")
	if colon < 0 {
		return -1, -1
	}
	return i + colon + 1, i + at
}

// maskURLPassword masks the password of a URL with credentials.
func maskURLPassword(s string) string {
	if start, end := urlPasswordSpan(s); start >= 0 && end > start {
		return s[:start] + logging.Mask + s[end:]
	}
	return s
}

func toFloat(v any) float64 {
	switch t := v.(type) {
	case int:
		return float64(t)
	case float64:
		return t
	}
	return 0
}

func isBoolWord(s string) bool {
	_, ok := parseBool(s)
	return ok
}

// isMethodWord reports an HTTP method name: inside a sensitive object (an
// auth request) it is no secret, and masking it would hide the method of
// every request in the logs.
func isMethodWord(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// isPlainHeader reports a content-negotiation header (customHeaders.Accept,
// customAuthRequest.headers.Content-Type): its value is no secret, and
// masking "application/json" would mangle every log line holding it.
func isPlainHeader(path string) bool {
	name := path[strings.LastIndex(path, ".")+1:]
	return slices.Contains(plainHeaders, http.CanonicalHeaderKey(strings.TrimSpace(name)))
}

var plainHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Content-Type", "User-Agent"}

// sensitive reports whether the setting at path holds a credential.
func (m *meta) sensitive(path string) bool {
	parts := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	if slices.ContainsFunc(parts, SensitiveKey) {
		return true
	}
	if m == nil {
		return false
	}
	if f := m.schema.lookup(parts); f != nil && f.secret {
		return true
	}
	if m.spec != nil && len(parts) > 2 && parts[0] == "integration" && parts[1] == "config" {
		if f := m.spec.byKey[parts[2]]; f != nil && f.Sensitive {
			return true
		}
	}
	return false
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// SensitiveKey reports whether a setting named key holds a credential.
func SensitiveKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, key)
	// An authorization or cookie header setting holds the header's value.
	if !strings.Contains(k, "authorization") && !strings.Contains(k, "cookie") &&
		slices.ContainsFunc(credentialRefs, func(w string) bool { return strings.HasSuffix(k, w) }) {
		return false
	}
	return slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(k, w) })
}

// credentialRefs end the names of settings that say where a credential
// goes or comes from, not what it is (apiKeyHeader, apiKeyQueryParam,
// tokenUrl): their values are no secret. A setting the spec marks
// sensitive stays sensitive whatever its name.
var credentialRefs = []string{"header", "param", "url", "uri", "path"}

// credentialWords mark a key as holding a credential, wherever they appear
// in it (snake_case, camelCase and kebab-case alike).
var credentialWords = []string{"token", "secret", "password", "passwd", "passphrase", "apikey", "privatekey", "accesskey", "credential", "authorization", "cookie"}
