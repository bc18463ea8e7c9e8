package custom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// authRequester sends an auth request (no auth of its own, no request
// slot) and decodes its JSON answer.
type authRequester func(ctx context.Context, method string, u *url.URL, header http.Header, body []byte) (any, error)

// customAuth is authType custom: customAuthRequest obtains an answer, from
// which customAuthRequestTemplate makes each request's headers, query
// parameters and body fields. One authentication runs at a time; others
// wait for it and use its result.
type customAuth struct {
	req     *CustomAuthRequest
	tmpl    *compiledTemplate
	url     *url.URL
	send    authRequester
	now     func() time.Time
	secrets func(...string)

	mu    sync.Mutex
	creds *customCreds
	gen   int
}

// customCreds are the rendered templates of one auth answer.
type customCreds struct {
	gen     int
	header  map[string]string
	query   map[string]string
	body    map[string]any
	renewAt time.Time // zero: only after a 401
}

func newCustomAuth(req *CustomAuthRequest, tmpl *CustomAuthRequestTemplate, resolve func(string) (*url.URL, error), send authRequester, now func() time.Time, secrets func(...string)) (*customAuth, error) {
	u, err := resolve(req.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("customAuthRequest.endpoint: %w", err)
	}
	if len(req.QueryParams) > 0 {
		q := u.Query()
		for k, v := range req.QueryParams {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	if tmpl.compiled == nil {
		return nil, fmt.Errorf("customAuthRequestTemplate: not checked (use ParseSettings)")
	}
	return &customAuth{req: req, tmpl: tmpl.compiled, url: u, send: send, now: now, secrets: secrets}, nil
}

func (a *customAuth) apply(ctx context.Context, req *outgoing) (int, error) {
	c, err := a.current(ctx)
	if err != nil {
		return 0, err
	}
	for k, v := range c.header {
		req.header.Set(k, v)
	}
	for k, v := range c.query {
		req.query.Set(k, v)
	}
	if len(c.body) > 0 && len(req.body) > 0 {
		var m map[string]any
		if json.Unmarshal(req.body, &m) == nil && m != nil {
			for k, v := range c.body {
				m[k] = v
			}
			b, err := json.Marshal(m)
			if err != nil {
				return 0, fmt.Errorf("custom auth: merging the body template: %w", err)
			}
			req.body = b
		}
	}
	return c.gen, nil
}

// current returns valid credentials, authenticating first when there are
// none yet or they are due for renewal.
func (a *customAuth) current(ctx context.Context) (*customCreds, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds != nil && (a.creds.renewAt.IsZero() || a.now().Before(a.creds.renewAt)) {
		return a.creds, nil
	}
	return a.authenticate(ctx)
}

func (a *customAuth) renew(ctx context.Context, generation int) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds != nil && a.creds.gen != generation {
		return true, nil // another request renewed them meanwhile
	}
	_, err := a.authenticate(ctx)
	return err == nil, err
}

// authenticate sends customAuthRequest and renders the templates; a.mu is
// held.
func (a *customAuth) authenticate(ctx context.Context) (*customCreds, error) {
	header := http.Header{}
	for k, v := range a.req.Headers {
		header.Set(k, v)
	}
	var body []byte
	switch {
	case a.req.BodyForm != "":
		body = []byte(a.req.BodyForm)
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case a.req.Body != nil:
		b, err := json.Marshal(a.req.Body)
		if err != nil {
			return nil, fmt.Errorf("customAuthRequest.body: %w", err)
		}
		body = b
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/json")
		}
	}
	u := *a.url
	answer, err := a.send(ctx, a.req.Method, &u, header, body)
	if err != nil {
		return nil, fmt.Errorf("custom auth: %w", err)
	}
	a.secrets(answerSecrets(answer)...)
	var found []string
	note := func(s string) { found = append(found, s) }
	c := &customCreds{header: map[string]string{}, query: map[string]string{}}
	for _, k := range sortedNames(a.tmpl.headers) {
		if c.header[k], err = a.tmpl.headers[k].renderString(answer, note); err != nil {
			return nil, err
		}
	}
	for _, k := range sortedNames(a.tmpl.query) {
		if c.query[k], err = a.tmpl.query[k].renderString(answer, note); err != nil {
			return nil, err
		}
	}
	if a.tmpl.body != nil {
		b, err := a.tmpl.renderBody(a.tmpl.body, answer, note)
		if err != nil {
			return nil, err
		}
		c.body, _ = b.(map[string]any)
	}
	a.secrets(found...)
	if iv := a.req.ReauthenticateInterval; iv > 0 {
		margin := min(time.Minute, iv/2)
		c.renewAt = a.now().Add(iv - margin)
	}
	a.gen++
	c.gen = a.gen
	a.creds = c
	return c, nil
}

// answerSecrets are the strings of an auth answer under keys named like a
// credential (access_token, refresh_token, id_token, secret, ...).
func answerSecrets(answer any) []string {
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				walk(k, e)
			}
		case []any:
			for _, e := range t {
				walk(key, e)
			}
		case string:
			if credentialKey(key) || strings.EqualFold(key, "jwt") {
				out = append(out, t)
			}
		}
	}
	walk("", answer)
	return out
}
