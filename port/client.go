package port

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Config configures a Client. BaseURL, ClientID, ClientSecret and the three
// integration fields are required.
type Config struct {
	// BaseURL is Port's API root without /v1, e.g. https://api.getport.io.
	BaseURL      string
	ClientID     string
	ClientSecret string

	// IntegrationType, IntegrationVersion and IntegrationIdentifier make the
	// User-Agent port-ocean/<type>/<version>/<identifier>, which Port
	// records as the datasource of every entity the client writes.
	IntegrationType       string
	IntegrationVersion    string
	IntegrationIdentifier string

	// MaxConcurrentRequests bounds writes (entity upserts and deletes) in
	// flight. Default 5.
	MaxConcurrentRequests int
	// RetryMax is how many times a request is retried (401s, answered
	// with a new token, are bounded apart). Default 10.
	RetryMax int
	// RetryWaitMin is the first backoff. Default 300ms.
	RetryWaitMin time.Duration
	// RetryWaitMax caps every wait: backoff, Retry-After,
	// x-ratelimit-reset and pacing. Default 5m.
	RetryWaitMax time.Duration
	// Timeout bounds one HTTP attempt, reading the answer included.
	// Default 60s. Ignored when HTTPClient is given.
	Timeout time.Duration
	// TokenRefreshSkew refreshes the token this long before it expires
	// (at most half its lifetime). Default 60s.
	TokenRefreshSkew time.Duration
	// Pacer spaces requests by Port's x-ratelimit-* headers. Clients that
	// share an organization should share one; default: one per Client.
	Pacer *Pacer

	// OnToken, when set, is called with every access token the client
	// obtains, so the caller can redact it from logs (tokens rotate).
	OnToken func(token string)
	// Observer, when set, is told about every attempt and retry wait
	// (metrics).
	Observer Observer

	Logger     *slog.Logger
	HTTPClient *http.Client
	Now        func() time.Time
}

// Client calls Port's API. It is safe for concurrent use.
type Client struct {
	cfg       Config
	apiURL    string
	userAgent string
	http      *retryablehttp.Client
	logger    *slog.Logger
	now       func() time.Time
	writes    chan struct{}
	pacer     *Pacer
	bodies    bodyPool

	// tokenFetch lets one caller at a time fetch a token (and the others
	// wait for it, or for their context); tokenMu guards the fields.
	tokenFetch chan struct{}
	tokenMu    sync.Mutex
	token      *accessToken // nil: none yet, or Port refused it
	refreshAt  time.Time
}

// accessToken is one token Port issued, shared by every request that
// carries it.
type accessToken struct {
	value string
	// uses counts the attempts that carried it, refused those Port
	// answered 401; worked is set once Port answered one with anything
	// else. A token that never worked is not worth replacing again.
	uses, refused atomic.Int64
	worked        atomic.Bool
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("port client: base URL is required")
	}
	if _, err := url.Parse(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("port client: base URL: %w", err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("port client: client id and secret are required")
	}
	if cfg.IntegrationType == "" || cfg.IntegrationIdentifier == "" {
		return nil, errors.New("port client: integration type and identifier are required")
	}
	if cfg.MaxConcurrentRequests <= 0 {
		cfg.MaxConcurrentRequests = 5
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 10
	}
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin = 300 * time.Millisecond
	}
	if cfg.RetryWaitMax == 0 {
		cfg.RetryWaitMax = 5 * time.Minute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.TokenRefreshSkew == 0 {
		cfg.TokenRefreshSkew = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Pacer == nil {
		cfg.Pacer = NewPacer(cfg.Now)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(cfg.Timeout)
	}
	c := &Client{
		cfg:        cfg,
		apiURL:     strings.TrimRight(cfg.BaseURL, "/") + "/v1",
		userAgent:  fmt.Sprintf("port-ocean/%s/%s/%s", cfg.IntegrationType, cfg.IntegrationVersion, cfg.IntegrationIdentifier),
		logger:     cfg.Logger,
		now:        cfg.Now,
		writes:     make(chan struct{}, cfg.MaxConcurrentRequests),
		pacer:      cfg.Pacer,
		tokenFetch: make(chan struct{}, 1),
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.Logger = nil
	// checkRetry bounds each kind of retry itself.
	rc.RetryMax = max(cfg.RetryMax, 0) + maxTokenRefreshes
	rc.RetryWaitMin = cfg.RetryWaitMin
	rc.RetryWaitMax = cfg.RetryWaitMax
	rc.CheckRetry = c.checkRetry
	rc.Backoff = c.backoff
	rc.PrepareRetry = c.prepareRetry
	rc.RequestLogHook = c.beforeAttempt
	rc.ResponseLogHook = c.afterAttempt
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.http = rc
	return c, nil
}

// NewHTTPClient is the HTTP client New uses when Config.HTTPClient is nil;
// timeout bounds one attempt. Callers that wrap its transport (to watch
// every attempt) start from it.
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	// A bulk upsert (20 entities) is tens of KiB. With the default
	// 4 KiB write buffer net/http hands the rest of each body to the
	// connection's ReadFrom, which allocates a copy buffer of the
	// body's size per request; a buffer that holds the whole body
	// writes it in one go.
	tr.WriteBufferSize = 64 << 10
	return &http.Client{Transport: tr, Timeout: timeout}
}

// UserAgent is the User-Agent of non-entity requests.
func (c *Client) UserAgent() string { return c.userAgent }

// ExporterUserAgent is the User-Agent of entity writes: Port stores it as the
// entity's datasource.
func (c *Client) ExporterUserAgent() string { return c.userAgent + "/exporter" }

// DatasourcePrefix and DatasourceSuffix select this integration's entities in
// the datasource listing.
func (c *Client) DatasourcePrefix() string { return "port-ocean/" + c.cfg.IntegrationType + "/" }

// DatasourceSuffix is the suffix half of the datasource match.
func (c *Client) DatasourceSuffix() string {
	return "/" + c.cfg.IntegrationIdentifier + "/exporter"
}

// request describes one API call.
type request struct {
	method  string
	path    string // below /v1, already escaped
	query   url.Values
	body    any         // JSON-encoded unless rawBody is set
	rawBody []byte      // pre-encoded JSON body
	shared  *sharedBody // pre-encoded JSON body in a pooled buffer
	headers map[string]string
	entity  bool // entity route: exporter User-Agent
	// unsafe marks a request Port must not see twice (creations, most
	// PATCHes): it is retried only when Port surely did not process it.
	unsafe   bool
	noAuth   bool
	write    bool // holds a write slot (bounded by MaxConcurrentRequests)
	okStatus []int
	// url, when set, is an absolute URL (Port's log and metric ingest)
	// used instead of the API root and path; route then names it.
	url   string
	route string
	// unpaced requests do not wait for the pacer nor feed it: they go to
	// Port's ingest, not to the rate-limited API.
	unpaced bool
	// noRetry requests are sent once (log shipping: the next batch is
	// worth more than this one).
	noRetry bool
}

// do sends r and decodes a JSON answer into out (when not nil). It returns
// the final HTTP status (0 when none came back).
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	if r.write {
		select {
		case c.writes <- struct{}{}:
			defer func() { <-c.writes }()
		case <-ctx.Done():
			return 0, c.fail(r, &call{}, 0, context.Cause(ctx))
		}
	}
	var body []byte
	switch {
	case r.rawBody != nil:
		body = r.rawBody
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, c.fail(r, &call{}, 0, fmt.Errorf("encode body: %w", err))
		}
		body = b
	}
	u := c.apiURL + r.path
	if r.url != "" {
		u = r.url
	}
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	st := &call{req: &r, route: routeTemplate(&r)}
	ctx = context.WithValue(ctx, callKey{}, st)
	var reqBody any
	switch {
	case r.shared != nil:
		reqBody = retryablehttp.ReaderFunc(r.shared.reader)
	case body != nil:
		reqBody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u, reqBody)
	if err != nil {
		return 0, c.fail(r, st, 0, err)
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.entity {
		req.Header.Set("User-Agent", c.ExporterUserAgent())
	} else {
		req.Header.Set("User-Agent", c.userAgent)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	// The answer is read inside the retry loop: a connection reset while
	// reading it is retried like one before it.
	// So is an answer that is not what Port sends (an empty body, a
	// proxy's HTML page with 200): taken as a transport failure, never as
	// work done.
	req.SetResponseHandler(func(resp *http.Response) error {
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		st.body, st.bodyRead = data, true
		if out != nil && statusOK(r, resp.StatusCode) {
			return decodeAnswer(resp, data, out)
		}
		return nil
	})
	if err := c.prepareAttempt(ctx, req.Request, st); err != nil {
		return 0, c.fail(r, st, 0, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		status := 0
		var bad *BadAnswerError
		if resp != nil && !errors.As(err, &bad) {
			status = resp.StatusCode
		}
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return status, c.fail(r, st, status, err)
	}
	if !st.bodyRead {
		// Retries ran out on a retryable status: this answer was not read.
		data, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr == nil {
			st.body = data
		}
	}
	status := resp.StatusCode
	if !statusOK(r, status) {
		return status, decodeError(r, st, status, st.body)
	}
	return status, nil
}

// BadAnswerError is a 2xx answer that is not the JSON Port sends: empty,
// not JSON (a proxy's or gateway's page), or JSON of another shape. The
// request may or may not have been carried out, so it counts as a
// transport failure: retried when that is safe, and failing its work
// (never counted as done) when retries run out. Its Error has no HTTP
// status: StatusOf gives 0, as for a connection reset.
type BadAnswerError struct {
	Status      int
	ContentType string
	Size        int
	// Excerpt is the start of a body that is not JSON (empty otherwise,
	// so no value of a JSON answer is repeated in messages).
	Excerpt string
	Err     error
}

func (e *BadAnswerError) Error() string {
	msg := fmt.Sprintf("Port answered %d with", e.Status)
	switch {
	case e.Size == 0:
		msg += " an empty body"
	case e.ContentType != "":
		msg += fmt.Sprintf(" %d bytes of %s", e.Size, e.ContentType)
	default:
		msg += fmt.Sprintf(" %d bytes", e.Size)
	}
	msg += " that are not the JSON it sends"
	if e.Excerpt != "" {
		msg += fmt.Sprintf(" (%q)", e.Excerpt)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; a proxy or gateway may be answering for it"
}

func (e *BadAnswerError) Unwrap() error { return e.Err }

// decodeAnswer decodes a 2xx answer into out, or says why it cannot.
func decodeAnswer(resp *http.Response, data []byte, out any) error {
	bad := &BadAnswerError{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Size: len(data)}
	if len(data) == 0 {
		return bad
	}
	decode := json.Unmarshal
	if d, ok := out.(responseDecoder); ok {
		decode = func(data []byte, _ any) error { return d.decodeResponse(data) }
	}
	err := decode(data, out)
	if c, ok := out.(interface{ check() error }); ok && err == nil {
		if err = c.check(); err != nil {
			bad.Err = err
			return bad
		}
	}
	switch {
	case err == nil:
		return nil
	case json.Valid(data):
		bad.Err = fmt.Errorf("decode: %w", err)
	default:
		const max = 60
		ex := strings.ToValidUTF8(string(data[:min(len(data), max)]), "")
		bad.Excerpt = strings.Join(strings.Fields(ex), " ")
	}
	return bad
}

func (c *Client) fail(r request, st *call, status int, err error) error {
	var tokenErr *Error
	if errors.As(err, &tokenErr) {
		return tokenErr // no token: the token route's own error says why
	}
	return &Error{Method: r.method, Route: r.errRoute(), Status: status, Attempts: st.attempts, Err: err}
}

// errRoute is the route errors name: the path, or for an ingest request
// its template (the URL holds Port's ingest ids).
func (r *request) errRoute() string {
	if r.url != "" {
		return r.route
	}
	return r.path
}

func statusOK(r request, status int) bool {
	if len(r.okStatus) > 0 {
		for _, s := range r.okStatus {
			if s == status {
				return true
			}
		}
		return false
	}
	return status >= 200 && status < 300
}

func decodeError(r request, st *call, status int, body []byte) error {
	e := &Error{Method: r.method, Route: r.errRoute(), Status: status, Attempts: st.attempts}
	var env struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &env) == nil {
		switch v := env.Error.(type) {
		case string:
			e.Code = v
		case map[string]any:
			if s, ok := v["code"].(string); ok {
				e.Code = s
			}
			if s, ok := v["message"].(string); ok && env.Message == "" {
				env.Message = s
			}
		}
		e.Message = env.Message
	}
	if e.Code == "" && e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// accessToken returns a valid token, fetching one when none is cached or
// the cached one is about to expire. Concurrent callers share one fetch: a
// token refused by many requests at once is replaced once.
func (c *Client) accessToken(ctx context.Context) (*accessToken, error) {
	if tok := c.cachedToken(); tok != nil {
		return tok, nil
	}
	select {
	case c.tokenFetch <- struct{}{}:
		defer func() { <-c.tokenFetch }()
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if tok := c.cachedToken(); tok != nil {
		return tok, nil // fetched while we waited
	}
	var out struct {
		AccessToken string  `json:"accessToken"`
		ExpiresIn   float64 `json:"expiresIn"`
		TokenType   string  `json:"tokenType"`
	}
	r := request{
		method: http.MethodPost,
		path:   "/auth/access_token",
		body:   map[string]string{"clientId": c.cfg.ClientID, "clientSecret": c.cfg.ClientSecret},
		noAuth: true,
	}
	fetched := c.now()
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, &Error{Method: r.method, Route: r.path, Status: http.StatusOK, Err: errors.New("no access token in the answer")}
	}
	life := time.Duration(out.ExpiresIn * float64(time.Second))
	skew := min(c.cfg.TokenRefreshSkew, life/2)
	tok := &accessToken{value: out.AccessToken}
	// Redaction learns the token before any request carries it.
	if c.cfg.OnToken != nil {
		c.cfg.OnToken(out.AccessToken)
	}
	c.tokenMu.Lock()
	c.token, c.refreshAt = tok, fetched.Add(life-skew)
	c.tokenMu.Unlock()
	return tok, nil
}

func (c *Client) cachedToken() *accessToken {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token != nil && c.now().Before(c.refreshAt) {
		return c.token
	}
	return nil
}

// invalidateToken forgets tok after Port refused it, unless another
// request already replaced it: concurrent refusals of one token lead to
// one fetch.
func (c *Client) invalidateToken(tok *accessToken) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token == tok {
		c.token = nil
	}
}

// Secrets returns the values the client holds that must never be printed:
// the client secret and the current token. Callers feed them to redaction.
func (c *Client) Secrets() []string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	out := []string{c.cfg.ClientSecret}
	if c.token != nil {
		out = append(out, c.token.value)
	}
	return out
}
