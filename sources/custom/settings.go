package custom

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The valid authType and paginationType values, as Ocean names them (oauth2
// is oceand's); read only.
var (
	authTypes       = []string{"none", "bearer_token", "basic", "api_key", "custom", "oauth2"}
	paginationTypes = []string{"none", "offset", "page", "cursor", "next_link", "header_link"}
)

// Defaults of the settings that have one.
const (
	DefaultPageSize              = 100
	DefaultStartPage             = 1
	DefaultMaxPages              = 10000
	DefaultTimeout               = 60 * time.Second
	DefaultMaxConcurrentRequests = 10
	DefaultAPIKeyHeader          = "X-API-Key"
	DefaultNextLinkPath          = "@odata.nextLink"
	DefaultHeaderLinkRel         = "next"
)

// OAuth2 holds the client-credentials settings of authType oauth2.
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// CustomAuthRequest is customAuthRequest: the request that obtains
// credentials for authType custom (Ocean's fields, extra keys refused).
type CustomAuthRequest struct {
	// Endpoint is a path joined to baseUrl, or an absolute URL.
	Endpoint string
	Method   string // default POST
	Headers  map[string]string
	// Body is sent as JSON; BodyForm form-encoded. At most one is set.
	Body        map[string]any
	BodyForm    string
	QueryParams map[string]string
	// ReauthenticateInterval, when set, renews the credentials before it
	// runs out (60 s before, or halfway for intervals up to 2 minutes);
	// otherwise they are renewed only after a 401.
	ReauthenticateInterval time.Duration
}

// CustomAuthRequestTemplate is customAuthRequestTemplate: what each request
// of authType custom carries, made from the auth answer. Every string may
// hold {{jq}} templates, such as "Bearer {{.access_token}}".
type CustomAuthRequestTemplate struct {
	Headers     map[string]string
	QueryParams map[string]string
	// Body is merged into every JSON object request body.
	Body map[string]any

	compiled *compiledTemplate
}

// The custom source's settings not declared in contract.go live here: the
// HTTP half's (auth, TLS, rate limits). See Settings.

// ParseSettings reads integration.config (snake_case keys, as the settings
// loader gives them; camelCase ones are accepted too). Numbers may be
// strings, as Ocean's spec types them. Every problem names its setting as
// written in config.yaml (camelCase); all of them are reported at once.
func ParseSettings(config map[string]any) (Settings, error) {
	p := &settingsParser{values: map[string]any{}}
	for k, v := range config {
		p.values[decamelize(k)] = v
	}
	s := Settings{
		AuthType:              p.enum("authType", "none", authTypes),
		PaginationType:        p.enum("paginationType", "none", paginationTypes),
		PageSize:              p.integer("pageSize", DefaultPageSize, 1),
		StartPage:             p.integer("startPage", DefaultStartPage, math.MinInt),
		CursorPath:            p.str("cursorPath", ""),
		HasMorePath:           p.str("hasMorePath", ""),
		LastPagePath:          p.str("lastPagePath", ""),
		NextLinkPath:          p.str("nextLinkPath", DefaultNextLinkPath),
		HeaderLinkRel:         p.str("headerLinkRel", DefaultHeaderLinkRel),
		MaxPages:              p.integer("maxPages", DefaultMaxPages, 1),
		Timeout:               time.Duration(p.integer("timeout", int(DefaultTimeout/time.Second), 1)) * time.Second,
		MaxConcurrentRequests: p.integer("maxConcurrentRequests", DefaultMaxConcurrentRequests, 1),

		APIToken:         p.str("apiToken", ""),
		Username:         p.str("username", ""),
		Password:         p.str("password", ""),
		APIKey:           p.str("apiKey", ""),
		APIKeyHeader:     p.str("apiKeyHeader", DefaultAPIKeyHeader),
		APIKeyQueryParam: p.str("apiKeyQueryParam", ""),
		OAuth2: OAuth2{
			TokenURL:     p.str("tokenUrl", ""),
			ClientID:     p.str("clientId", ""),
			ClientSecret: p.str("clientSecret", ""),
			Scopes:       p.list("scopes"),
		},
		SkipTLSVerify:  !p.boolean("verifySsl", true),
		CACertFile:     p.str("caCertFile", ""),
		RateLimit:      p.number("rateLimit", 0),
		RateLimitBurst: p.integer("rateLimitBurst", 0, 0),
	}
	s.BaseURL = p.baseURL("baseUrl")
	s.PaginationParam, s.SizeParam = p.paginationParams(s.PaginationType)
	s.CustomHeaders = p.headers("customHeaders")
	p.auth(&s)
	if len(p.problems) > 0 {
		return Settings{}, &SettingsError{Problems: p.problems}
	}
	return s, nil
}

// SettingsError lists every problem of integration.config, each naming its
// setting ("baseUrl: required").
type SettingsError struct {
	Problems []string
}

func (e *SettingsError) Error() string {
	return "integration.config: " + strings.Join(e.Problems, "; ")
}

// Secrets returns the values of s that must never be shown: the sensitive
// settings, every string inside customAuthRequest and
// customAuthRequestTemplate (but an HTTP method name), every customHeaders
// value as given and as expanded, and the basic auth header; but the
// values of content-negotiation headers (Accept, Content-Type, ...).
func (s Settings) Secrets() []string {
	out := []string{s.APIToken, s.Password, s.APIKey, s.OAuth2.ClientSecret}
	if s.Username != "" || s.Password != "" {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(s.Username+":"+s.Password)))
	}
	if s.BaseURL != nil {
		if pw, ok := s.BaseURL.User.Password(); ok {
			out = append(out, pw)
		}
	}
	out = appendStrings(out, secretHeaders(s.CustomHeaders))
	out = append(out, s.rawHeaderValues...)
	if r := s.CustomAuthRequest; r != nil {
		out = append(out, r.Endpoint, r.BodyForm)
		out = appendStrings(out, secretHeaders(r.Headers), r.QueryParams, r.Body)
	}
	if t := s.CustomAuthRequestTemplate; t != nil {
		out = appendStrings(out, secretHeaders(t.Headers), t.QueryParams, t.Body)
	}
	out = slices.DeleteFunc(out, func(v string) bool { return strings.TrimSpace(v) == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// secretHeaders returns h without the content-negotiation headers
// (Content-Type, Accept, User-Agent...): their values are no secret, and
// masking "application/json" would mangle every log line and raw data
// example that holds it.
func secretHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if !isPlainHeader(k) {
			out[k] = v
		}
	}
	return out
}

func isPlainHeader(name string) bool {
	return slices.Contains(plainHeaders, http.CanonicalHeaderKey(strings.TrimSpace(name)))
}

// plainHeaders are the headers whose values are never a credential.
var plainHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Content-Type", "User-Agent"}

// appendStrings adds every string (and number) inside the values.
func appendStrings(out []string, values ...any) []string {
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case float64:
			out = append(out, strconv.FormatFloat(t, 'f', -1, 64))
		case json.Number:
			out = append(out, t.String())
		case map[string]string:
			for _, e := range t {
				out = append(out, e)
			}
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	for _, v := range values {
		walk(v)
	}
	return out
}

type settingsParser struct {
	values   map[string]any // by snake_case key
	problems []string
}

func (p *settingsParser) problem(key, format string, args ...any) {
	p.problems = append(p.problems, key+": "+fmt.Sprintf(format, args...))
}

// get returns the value of the camelCase key; an empty string or null is
// "not set".
func (p *settingsParser) get(key string) (any, bool) {
	v, ok := p.values[decamelize(key)]
	if !ok || v == nil {
		return nil, false
	}
	if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
		return nil, false
	}
	return v, true
}

func (p *settingsParser) str(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case float64, int, int64, json.Number, bool:
		return fmt.Sprint(t)
	}
	p.problem(key, "must be a string, got %s", valueKind(v))
	return def
}

func (p *settingsParser) enum(key, def string, valid []string) string {
	s := p.str(key, def)
	if !slices.Contains(valid, s) {
		p.problem(key, "unknown value %q; valid values: %s", s, strings.Join(valid, ", "))
		return def
	}
	return s
}

func (p *settingsParser) number(key string, def float64) float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	var f float64
	var err error
	switch t := v.(type) {
	case float64:
		f = t
	case int:
		f = float64(t)
	case int64:
		f = float64(t)
	case json.Number:
		f, err = t.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(t), 64)
	default:
		err = errors.New("not a number")
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		p.problem(key, "must be a number of 0 or more, got %s", valueKind(v))
		return def
	}
	return f
}

func (p *settingsParser) integer(key string, def, minimum int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	f, ok := toNumber(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		p.problem(key, "must be an integer, got %s", valueKind(v))
		return def
	}
	if int(f) < minimum {
		p.problem(key, "must be %d or more, got %d", minimum, int(f))
		return def
	}
	return int(f)
}

func (p *settingsParser) boolean(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "1", "true", "yes", "on", "y", "t":
			return true
		case "0", "false", "no", "off", "n", "f":
			return false
		}
	}
	p.problem(key, "must be a boolean (true or false), got %s", valueKind(v))
	return def
}

// list reads a list of strings, or a string of items separated by spaces
// or commas, or a JSON list string.
func (p *settingsParser) list(key string) []string {
	v, ok := p.get(key)
	if !ok {
		return nil
	}
	if s, isStr := v.(string); isStr {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "[") {
			var l []any
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				p.problem(key, "must be a list, got a string that is not a JSON list")
				return nil
			}
			v = l
		} else {
			return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		}
	}
	var out []string
	switch t := v.(type) {
	case []string:
		out = append(out, t...)
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				p.problem(key, "must be a list of strings, has %s", valueKind(e))
				return nil
			}
			out = append(out, s)
		}
	default:
		p.problem(key, "must be a list of strings, got %s", valueKind(v))
	}
	return out
}

// object reads an object, or a JSON object string.
func (p *settingsParser) object(key string) (map[string]any, bool) {
	v, ok := p.get(key)
	if !ok {
		return nil, false
	}
	if s, isStr := v.(string); isStr {
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &m); err != nil || m == nil {
			p.problem(key, "must be an object (or a JSON object string); the string given is not a JSON object")
			return nil, false
		}
		return m, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.problem(key, "must be an object, got %s", valueKind(v))
		return nil, false
	}
	return m, true
}

func (p *settingsParser) baseURL(key string) *url.URL {
	s := strings.TrimRight(p.str(key, ""), "/")
	if s == "" {
		p.problem(key, "required")
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		p.problem(key, "must be an http(s) URL such as https://api.example.com/v1")
		return nil
	}
	return u
}

func (p *settingsParser) paginationParams(typ string) (param, size string) {
	switch typ {
	case "page":
		param, size = "page", "size"
	case "offset":
		param, size = "offset", "limit"
	case "cursor":
		param, size = "cursor", "limit"
	}
	return p.str("paginationParam", param), p.str("sizeParam", size)
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// headers reads customHeaders: an object (or JSON object string) of
// strings, with ${VAR} in values expanded from the process environment.
func (p *settingsParser) headers(key string) map[string]string {
	m, ok := p.object(key)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for _, name := range sortedNames(m) {
		v, ok := scalarString(m[name])
		if !ok {
			p.problem(key+"."+name, "must be a string, got %s", valueKind(m[name]))
			continue
		}
		var missing []string
		expanded := envRef.ReplaceAllStringFunc(v, func(ref string) string {
			name := strings.TrimSpace(ref[2 : len(ref)-1])
			val, set := os.LookupEnv(name)
			if !set {
				missing = append(missing, name)
			}
			return val
		})
		if len(missing) > 0 {
			p.problem(key+"."+name, "reads environment variable %s, which is not set", strings.Join(missing, ", "))
			continue
		}
		out[name] = expanded
	}
	return out
}

// auth checks the fields each authType needs.
func (p *settingsParser) auth(s *Settings) {
	need := func(keys ...string) {
		for _, k := range keys {
			if _, ok := p.get(k); !ok {
				p.problem(k, "required with authType %s", s.AuthType)
			}
		}
	}
	switch s.AuthType {
	case "bearer_token":
		need("apiToken")
	case "basic":
		need("username", "password")
	case "api_key":
		need("apiKey")
	case "custom":
		need("customAuthRequest")
		if _, ok := p.get("customAuthRequestTemplate"); !ok {
			msg := "required with authType custom"
			if _, docsName := p.get("customAuthResponse"); docsName {
				msg += " (customAuthResponse is set: Ocean's docs use that name, but Ocean and oceand read customAuthRequestTemplate)"
			}
			p.problem("customAuthRequestTemplate", "%s", msg)
		}
		s.CustomAuthRequest = p.customAuthRequest("customAuthRequest")
		s.CustomAuthRequestTemplate = p.customAuthTemplate("customAuthRequestTemplate")
	case "oauth2":
		need("tokenUrl", "clientId", "clientSecret")
		if u := s.OAuth2.TokenURL; u != "" {
			if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
				p.problem("tokenUrl", "must be an http(s) URL")
			}
		}
	}
	if s.CustomHeaders != nil {
		// Keep the values as written too: ${VAR} references are no
		// secret, but a literal token is.
		m, _ := p.object("customHeaders")
		for k, v := range m {
			if isPlainHeader(k) {
				continue
			}
			if str, ok := scalarString(v); ok {
				s.rawHeaderValues = append(s.rawHeaderValues, str)
			}
		}
	}
}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func (p *settingsParser) customAuthRequest(key string) *CustomAuthRequest {
	m, ok := p.object(key)
	if !ok {
		return nil
	}
	r := &CustomAuthRequest{Method: "POST"}
	for _, k := range sortedNames(m) {
		v := m[k]
		at := key + "." + k
		switch k {
		case "endpoint":
			r.Endpoint, _ = scalarString(v)
		case "method":
			s, _ := scalarString(v)
			r.Method = strings.ToUpper(strings.TrimSpace(s))
			if !slices.Contains(httpMethods, r.Method) {
				p.problem(at, "unknown method %q; valid values: %s", s, strings.Join(httpMethods, ", "))
			}
		case "headers":
			r.Headers = p.stringMap(at, v)
		case "queryParams", "query_params":
			r.QueryParams = p.stringMap(at, v)
		case "body":
			b, ok := v.(map[string]any)
			if !ok {
				p.problem(at, "must be an object, got %s", valueKind(v))
			}
			r.Body = b
		case "bodyForm", "body_form":
			switch t := v.(type) {
			case string:
				r.BodyForm = t
			case map[string]any:
				form := url.Values{}
				for fk, fv := range t {
					s, _ := scalarString(fv)
					form.Set(fk, s)
				}
				r.BodyForm = form.Encode()
			default:
				p.problem(at, "must be a form-encoded string, got %s", valueKind(v))
			}
		case "reauthenticateIntervalSeconds", "reauthenticate_interval_seconds":
			f, ok := toNumber(v)
			if !ok || f < 1 {
				p.problem(at, "must be a number of seconds of 1 or more, got %s", valueKind(v))
				continue
			}
			r.ReauthenticateInterval = time.Duration(f * float64(time.Second))
		default:
			p.problem(at, "unknown field; valid fields: endpoint, method, headers, body, bodyForm, queryParams, reauthenticateIntervalSeconds")
		}
	}
	if strings.TrimSpace(r.Endpoint) == "" {
		p.problem(key+".endpoint", "required")
	}
	if r.Body != nil && r.BodyForm != "" {
		p.problem(key, "body and bodyForm are exclusive; set one")
	}
	return r
}

func (p *settingsParser) customAuthTemplate(key string) *CustomAuthRequestTemplate {
	m, ok := p.object(key)
	if !ok {
		return nil
	}
	t := &CustomAuthRequestTemplate{}
	for _, k := range sortedNames(m) {
		v := m[k]
		at := key + "." + k
		switch k {
		case "headers":
			t.Headers = p.stringMap(at, v)
		case "queryParams", "query_params":
			t.QueryParams = p.stringMap(at, v)
		case "body":
			b, ok := v.(map[string]any)
			if !ok {
				p.problem(at, "must be an object, got %s", valueKind(v))
			}
			t.Body = b
		default:
			p.problem(at, "unknown field; valid fields: headers, queryParams, body")
		}
	}
	if t.Headers == nil && t.QueryParams == nil && t.Body == nil {
		p.problem(key, "needs at least one of headers, queryParams, body")
		return t
	}
	c, err := compileTemplate(key, t)
	if err != nil {
		p.problems = append(p.problems, err.Error()) // it names the template's key
		return t
	}
	t.compiled = c
	return t
}

func (p *settingsParser) stringMap(key string, v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		p.problem(key, "must be an object, got %s", valueKind(v))
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		s, ok := scalarString(e)
		if !ok {
			p.problem(key+"."+k, "must be a string, got %s", valueKind(e))
			continue
		}
		out[k] = s
	}
	return out
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int, int64, json.Number, bool:
		return fmt.Sprint(t), true
	}
	return "", false
}

func toNumber(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

// valueKind names a value's type, never its content (it may be a secret).
func valueKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64, json.Number:
		return "a number"
	case map[string]any:
		return "an object"
	case []any, []string:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decamelize turns camelCase into snake_case as Ocean's settings loader
// does (baseUrl -> base_url); snake_case is left as is.
func decamelize(s string) string {
	r := []rune(s)
	var b strings.Builder
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
