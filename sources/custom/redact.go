package custom

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// redactMask is what a secret becomes; the same marker as the daemon's.
const redactMask = "[REDACTED]"

// minSecretLen is the shortest value masked: shorter ones would mangle
// ordinary text.
const minSecretLen = 4

// redactor masks the secret values the client knows (settings and tokens
// obtained at run time) in the URLs and texts it puts in errors and logs.
// The daemon's redactor gets the same values through Env.AddSecrets; this
// one keeps the package's own errors clean whoever prints them.
type redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool
	repl    *strings.Replacer
	// queryParams are query parameters whose values are always masked.
	queryParams []string
}

func newRedactor(queryParams ...string) *redactor {
	return &redactor{secrets: map[string]bool{}, queryParams: queryParams}
}

// add registers secrets, as given, JSON-escaped and URL-encoded; it reports
// the values that were new.
func (r *redactor) add(values ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var added []string
	for _, v := range values {
		if len(v) < minSecretLen || r.secrets[v] {
			continue
		}
		added = append(added, v)
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for _, f := range forms {
			if len(f) >= minSecretLen {
				r.secrets[f] = true
			}
		}
	}
	if len(added) == 0 {
		return nil
	}
	all := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		all = append(all, s)
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(all, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, redactMask)
	}
	r.repl = strings.NewReplacer(pairs...)
	return added
}

// string masks every known secret in s.
func (r *redactor) string(s string) string {
	r.mu.RLock()
	repl := r.repl
	r.mu.RUnlock()
	if repl == nil {
		return s
	}
	return repl.Replace(s)
}

// url returns u for display: the password of its userinfo, the values of
// credential-like query parameters (api_key, token, ...) and every known
// secret masked.
func (r *redactor) url(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword(c.User.Username(), redactMask)
		}
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k := range q {
			if slices.Contains(r.queryParams, k) || credentialKey(k) {
				for i := range q[k] {
					q[k][i] = redactMask
				}
				changed = true
			}
		}
		if changed {
			c.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(redactMask), redactMask)
		}
	}
	return r.string(c.String())
}

// credentialKey reports whether a query parameter is named like a
// credential (apiKey, api_key, access_token, secret, ...).
func credentialKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, key)
	if slices.Contains([]string{"key", "sig", "auth", "code"}, k) {
		return true
	}
	// Pagination tokens ($skiptoken, pageToken, continuationToken) are
	// no credentials, and the errors about a cursor returned twice must
	// show them.
	for _, w := range []string{"pagetoken", "skiptoken", "continuationtoken"} {
		if strings.HasSuffix(k, w) {
			return false
		}
	}
	for _, w := range []string{"token", "secret", "password", "passwd", "apikey", "accesskey", "signature", "credential", "authorization", "session"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
