package custom

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"oceand/sources"
)

// UserAgent is sent unless a header overrides it, as Ocean's custom
// integration does.
const UserAgent = "Port-Ocean-HTTP-Integration/1.0"

// maxAuthAnswer bounds the auth answer read into memory.
const maxAuthAnswer = 1 << 20

// Client makes the source's HTTP calls: auth, retries, rate limits and
// maxConcurrentRequests requests in flight.
type Client struct {
	settings Settings
	base     *url.URL
	retry    *retryablehttp.Client
	auth     authenticator
	// slots bounds the requests in flight; Do holds one while the
	// handler runs.
	slots      chan struct{}
	redact     *redactor
	addSecrets func(...string)
	logger     *slog.Logger
	now        func() time.Time
}

// NewClient builds the client for s. The secrets of s, and every token it
// obtains later, go to env.AddSecrets; verifySsl false is warned about
// here, once.
func NewClient(s Settings, env sources.Env) (*Client, error) {
	if s.BaseURL == nil {
		return nil, errors.New("baseUrl: required")
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.MaxConcurrentRequests <= 0 {
		s.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var queryParams []string
	if s.APIKeyQueryParam != "" {
		queryParams = append(queryParams, s.APIKeyQueryParam)
	}
	c := &Client{
		settings: s,
		base:     s.BaseURL,
		slots:    make(chan struct{}, s.MaxConcurrentRequests),
		redact:   newRedactor(queryParams...),
		logger:   logger,
		now:      time.Now,
	}
	c.addSecrets = func(values ...string) {
		if added := c.redact.add(values...); len(added) > 0 && env.AddSecrets != nil {
			env.AddSecrets(added...)
		}
	}
	c.addSecrets(s.Secrets()...)

	tlsConf, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	if s.SkipTLSVerify {
		logger.Warn("verifySsl is false: the API's TLS certificate is not checked", "baseUrl", c.redact.url(s.BaseURL))
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.Proxy = http.ProxyFromEnvironment
	base.TLSClientConfig = tlsConf
	base.MaxIdleConnsPerHost = s.MaxConcurrentRequests
	if s.dial != nil {
		base.DialContext = s.dial
	}
	paced := &pacedTransport{
		next:    base,
		limits:  newHostLimits(s.RateLimit, s.RateLimitBurst, c.now),
		timeout: s.Timeout,
		redact:  c.redact,
		logger:  logger,
		now:     c.now,
	}
	rc := retryablehttp.NewClient()
	// No Client.Timeout: it would count the time a handler spends
	// between reads; the transport bounds each wait for the server.
	rc.HTTPClient = &http.Client{Transport: paced}
	rc.Logger = nil // the transport logs each attempt, redacted
	rc.RetryMax = MaxAttempts - 1
	rc.RetryWaitMin, rc.RetryWaitMax = RetryWaitMin, RetryWaitMax
	rc.CheckRetry = checkRetry
	rc.Backoff = backoff(c.now)
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.retry = rc

	if c.auth, err = c.newAuth(s); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) newAuth(s Settings) (authenticator, error) {
	switch s.AuthType {
	case "", "none":
		return noAuth{}, nil
	case "bearer_token":
		return headerAuth{name: "Authorization", value: "Bearer " + s.APIToken}, nil
	case "basic":
		return newBasicAuth(s.Username, s.Password), nil
	case "api_key":
		if s.APIKeyQueryParam != "" {
			return queryKeyAuth{param: s.APIKeyQueryParam, key: s.APIKey}, nil
		}
		header := s.APIKeyHeader
		if header == "" {
			header = DefaultAPIKeyHeader
		}
		return headerAuth{name: header, value: s.APIKey}, nil
	case "custom":
		if s.CustomAuthRequest == nil || s.CustomAuthRequestTemplate == nil {
			return nil, errors.New("customAuthRequest and customAuthRequestTemplate: required with authType custom")
		}
		return newCustomAuth(s.CustomAuthRequest, s.CustomAuthRequestTemplate, c.Resolve, c.authRequest, c.now, c.addSecrets)
	case "oauth2":
		tokenClient := &http.Client{Transport: &attemptsTransport{next: &retryablehttp.RoundTripper{Client: c.retry}}}
		return newOAuth2Auth(s.OAuth2, tokenClient, c.addSecrets, c.redact), nil
	}
	return nil, fmt.Errorf("authType: unknown value %q; valid values: %s", s.AuthType, strings.Join(authTypes, ", "))
}

// attemptsTransport marks token requests as safe to retry.
type attemptsTransport struct{ next http.RoundTripper }

func (t *attemptsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, _ := withAttempts(req.Context(), true)
	return t.next.RoundTrip(req.WithContext(ctx))
}

func tlsConfig(s Settings) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.SkipTLSVerify} // verifySsl: false, warned about
	if s.CACertFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(s.CACertFile)
	if err != nil {
		return nil, fmt.Errorf("caCertFile: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caCertFile %s: no PEM certificate in it", s.CACertFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

// Do sends r and calls handle with the answer while holding its request
// slot. A non-2xx answer left after retries, or a transport error, is an
// *HTTPError naming the method, the redacted URL, the status and the first
// bytes of the body (redacted); handle is then not called.
//
// GET, HEAD, PUT, DELETE and OPTIONS (POST with r.RetryPOST) are retried on
// 408, 429, 5xx and transport errors, and when handle returns a
// *BodyReadError; a 401 renews custom and oauth2 credentials once and
// sends the request again. Any other error of handle is returned as is.
// handle must not call Do: it holds a slot, and nested calls could wait
// for each other's.
func (c *Client) Do(ctx context.Context, r Request, handle func(*Response) error) error {
	method := strings.ToUpper(strings.TrimSpace(r.Method))
	if method == "" {
		method = http.MethodGet
	}
	u, err := c.requestURL(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.redact.string(r.URL), err)
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", method, c.redact.url(u), context.Cause(ctx))
	}
	defer func() { <-c.slots }()
	retryable := retryableMethods[method] || (method == http.MethodPost && r.RetryPOST)
	renewed := false
	for {
		unauthorized, generation, err := c.send(ctx, method, u, r, retryable, handle)
		if !unauthorized {
			return err
		}
		if renewed {
			return err
		}
		ok, rerr := c.auth.renew(ctx, generation)
		if rerr != nil {
			return rerr
		}
		if !ok {
			return err
		}
		renewed = true
	}
}

// send makes one request with its retries. unauthorized reports a 401
// (err is then its *HTTPError) and the credentials' generation it carried.
func (c *Client) send(ctx context.Context, method string, u *url.URL, r Request, retryable bool, handle func(*Response) error) (unauthorized bool, generation int, err error) {
	out := &outgoing{header: c.headers(r), query: url.Values{}, body: r.Body}
	generation, err = c.auth.apply(ctx, out)
	if err != nil {
		return false, 0, err
	}
	target := *u
	target.RawQuery = setQuery(u.RawQuery, out.query)
	ctx, info := withAttempts(ctx, retryable)
	var body any
	if out.body != nil {
		body = out.body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return false, 0, fmt.Errorf("%s %s: %w", method, c.redact.url(&target), err)
	}
	req.Header = out.header
	shown := c.redact.url(&target)
	// handled is the answer handle last got: when a retry after a body
	// read error ends on an error status, that status is the outcome.
	var handled *http.Response
	req.SetResponseHandler(func(resp *http.Response) error {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil // the caller makes it an *HTTPError
		}
		handled = resp
		defer resp.Body.Close()
		return handle(&Response{
			Status: resp.StatusCode,
			Header: resp.Header,
			URL:    withoutQuery(resp.Request.URL, out.query),
			Body:   &responseBody{body: &bomSkipper{r: resp.Body}, url: shown},
		})
	})
	resp, err := c.retry.Do(req)
	switch {
	case resp != nil && resp == handled && err == nil:
		return false, generation, nil
	case resp != nil && resp == handled:
		var bre *BodyReadError
		if errors.As(err, &bre) && info.attempts > 1 {
			return false, generation, fmt.Errorf("%w (after %d attempts)", err, info.attempts)
		}
		return false, generation, err
	case err != nil:
		return false, generation, c.transportError("", method, &target, info.attempts, ctx, err)
	}
	herr := c.statusError("", method, &target, info.attempts, resp)
	return resp.StatusCode == http.StatusUnauthorized, generation, herr
}

// authRequest sends an auth request: retried like a GET, no auth of its
// own, no request slot. Its answer must be JSON.
func (c *Client) authRequest(ctx context.Context, method string, u *url.URL, header http.Header, body []byte) (any, error) {
	ctx, info := withAttempts(ctx, true)
	var b any
	if body != nil {
		b = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), b)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.redact.url(u), err)
	}
	req.Header = header
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	resp, err := c.retry.Do(req)
	if err != nil {
		return nil, c.transportError("", method, u, info.attempts, ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.statusError("", method, u, info.attempts, resp)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %s", method, c.redact.url(u), c.redact.string(err.Error()))
	}
	if len(data) > maxAuthAnswer {
		return nil, fmt.Errorf("%s %s: the answer is over %d bytes", method, c.redact.url(u), maxAuthAnswer)
	}
	var answer any
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &answer); err != nil {
		return nil, fmt.Errorf("%s %s: the answer is not JSON (%d bytes, Content-Type %q)", method, c.redact.url(u), len(data), resp.Header.Get("Content-Type"))
	}
	return answer, nil
}

func (c *Client) transportError(what, method string, u *url.URL, attempts int, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", method, c.redact.url(u), context.Cause(ctx))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL, unredacted
	}
	return &HTTPError{what: what, Method: method, URL: c.redact.url(u), Attempts: attempts,
		Err: &redactedError{msg: c.redact.string(err.Error()), err: err}}
}

// statusError reads the start of an error answer's body and closes it.
func (c *Client) statusError(what, method string, u *url.URL, attempts int, resp *http.Response) error {
	defer resp.Body.Close()
	// Read past the snippet's length so a secret across its end is
	// masked whole before the cut.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := snippet([]byte(c.redact.string(string(data))))
	if err != nil && len(data) == 0 {
		text = "(body unreadable: " + c.redact.string(err.Error()) + ")"
	}
	return &HTTPError{what: what, Method: method, URL: c.redact.url(u), Status: resp.StatusCode, Snippet: text, Attempts: attempts}
}

// headers are a request's headers: the User-Agent, then customHeaders,
// then the request's own, each overriding the one before.
func (c *Client) headers(r Request) http.Header {
	h := http.Header{}
	h.Set("User-Agent", UserAgent)
	for k, v := range c.settings.CustomHeaders {
		h.Set(k, v)
	}
	for k, vs := range r.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if r.Body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	return h
}

func (c *Client) requestURL(r Request) (*url.URL, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, errors.New("not an absolute URL (use Resolve)")
	}
	if len(r.Query) > 0 {
		u.RawQuery = joinQuery(u.RawQuery, r.Query.Encode())
	}
	return u, nil
}

// setQuery sets the parameters of set in the raw query string raw: those
// of raw with the same names are dropped, the others kept as written.
func setQuery(raw string, set url.Values) string {
	if len(set) == 0 {
		return raw
	}
	return joinQuery(withoutParams(raw, set), set.Encode())
}

// withoutQuery is u without the parameters named in drop (those the auth
// added), so that a caller reusing it (a next link) never carries them.
func withoutQuery(u *url.URL, drop url.Values) *url.URL {
	if len(drop) == 0 || u == nil {
		return u
	}
	c := *u
	c.RawQuery = withoutParams(u.RawQuery, drop)
	return &c
}

func withoutParams(raw string, drop url.Values) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if _, found := drop[name]; !found {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// Resolve turns a path or URL from settings or from an API answer (a next
// link) into an absolute URL: absolute ones are kept; a path is appended
// to baseUrl, as Ocean does (baseUrl https://x/api + /users is
// https://x/api/users), unless it already starts with baseUrl's path (a
// link such as /api/users?page=2). The query strings of baseUrl and ref are
// both kept.
func (c *Client) Resolve(ref string) (*url.URL, error) {
	ref = strings.TrimSpace(ref)
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL or a path", c.redact.string(ref))
	}
	if r.IsAbs() {
		if (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
			return nil, fmt.Errorf("%s is not an http(s) URL", c.redact.url(r))
		}
		return r, nil
	}
	if strings.HasPrefix(ref, "//") {
		r.Scheme = c.base.Scheme
		return r, nil
	}
	basePath := strings.TrimRight(c.base.EscapedPath(), "/")
	p := r.EscapedPath()
	if basePath == "" || !strings.HasPrefix(p, "/") || (p != basePath && !strings.HasPrefix(p, basePath+"/")) {
		p = basePath + "/" + strings.TrimLeft(p, "/")
	}
	out := *c.base
	out.Path, out.RawPath = "", ""
	if err := setEscapedPath(&out, p); err != nil {
		return nil, fmt.Errorf("%q is not a URL or a path", c.redact.string(ref))
	}
	out.RawQuery = joinQuery(c.base.RawQuery, r.RawQuery)
	out.Fragment, out.RawFragment = "", ""
	return &out, nil
}

func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path = p
	u.RawPath = escaped
	if u.EscapedPath() != escaped {
		u.RawPath = ""
	}
	return nil
}

// Redact masks every secret the client knows in s (settings' sensitive
// values and tokens obtained so far), for messages that quote an API.
func (c *Client) Redact(s string) string { return c.redact.string(s) }

// RedactURL is u for messages: its userinfo password, credential-like
// query parameters and every known secret masked.
func (c *Client) RedactURL(u *url.URL) string { return c.redact.url(u) }

// CloseIdleConnections closes the connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.retry.HTTPClient.CloseIdleConnections() }

// responseBody is Response.Body: every read error becomes a
// *BodyReadError, which makes Do retry when the handler returns it.
type responseBody struct {
	body io.Reader
	url  string
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF {
		return n, &BodyReadError{URL: b.url, Err: err}
	}
	return n, err
}

// utf8BOM starts the JSON of some APIs (ASP.NET, IIS); Python's json, which
// Ocean uses, skips it, encoding/json does not.
var utf8BOM = []byte("\xef\xbb\xbf")

// bomSkipper drops a UTF-8 byte order mark at the start of r.
type bomSkipper struct {
	r       io.Reader
	checked bool
}

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		br := bufio.NewReaderSize(b.r, 16)
		b.r = br
		if head, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(head, utf8BOM) {
			if _, err := br.Discard(len(utf8BOM)); err != nil {
				return 0, err
			}
		}
	}
	return b.r.Read(p)
}
