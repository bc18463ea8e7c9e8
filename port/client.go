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

	// MaxConcurrentRequests bounds entity writes in flight. Default 5.
	MaxConcurrentRequests int
	// RetryMax is how many times a request is retried. Default 10.
	RetryMax int
	// RetryWaitMin is the first backoff. Default 300ms.
	RetryWaitMin time.Duration
	// RetryWaitMax caps every wait, including Retry-After. Default 5m.
	RetryWaitMax time.Duration
	// Timeout bounds one HTTP attempt. Default 60s.
	Timeout time.Duration
	// TokenRefreshSkew refreshes the token this long before it expires.
	// Default 60s.
	TokenRefreshSkew time.Duration

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

	tokenMu sync.Mutex
	token   string
	expires time.Time
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("port client: base URL is required")
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
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		hc = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	c := &Client{
		cfg:       cfg,
		apiURL:    strings.TrimRight(cfg.BaseURL, "/") + "/v1",
		userAgent: fmt.Sprintf("port-ocean/%s/%s/%s", cfg.IntegrationType, cfg.IntegrationVersion, cfg.IntegrationIdentifier),
		logger:    cfg.Logger,
		now:       cfg.Now,
		writes:    make(chan struct{}, cfg.MaxConcurrentRequests),
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.Logger = nil
	rc.RetryMax = cfg.RetryMax
	rc.RetryWaitMin = cfg.RetryWaitMin
	rc.RetryWaitMax = cfg.RetryWaitMax
	rc.CheckRetry = c.checkRetry
	rc.Backoff = c.backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.http = rc
	return c, nil
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
	method   string
	path     string // below /v1, already escaped
	query    url.Values
	body     any    // JSON-encoded unless rawBody is set
	rawBody  []byte // pre-encoded JSON body
	headers  map[string]string
	entity   bool // entity route: exporter User-Agent
	noRetry  bool
	noAuth   bool
	write    bool // holds a write slot (bounded by MaxConcurrentRequests)
	okStatus []int
}

type ctxKey int

const noRetryKey ctxKey = 1

// do sends r and decodes a JSON answer into out (when not nil). A 401 on an
// authenticated route refreshes the token and is retried once.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	if r.write {
		select {
		case c.writes <- struct{}{}:
			defer func() { <-c.writes }()
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}
	status, body, err := c.send(ctx, r, false)
	if err == nil && status == http.StatusUnauthorized && !r.noAuth {
		c.invalidateToken()
		status, body, err = c.send(ctx, r, true)
	}
	if err != nil {
		return status, &Error{Method: r.method, Route: r.path, Status: status, Err: err}
	}
	if !c.statusOK(r, status) {
		return status, decodeError(r, status, body)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return status, &Error{Method: r.method, Route: r.path, Status: status, Err: fmt.Errorf("decode response: %w", err)}
		}
	}
	return status, nil
}

func (c *Client) statusOK(r request, status int) bool {
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

func (c *Client) send(ctx context.Context, r request, fresh bool) (int, []byte, error) {
	var body []byte
	switch {
	case r.rawBody != nil:
		body = r.rawBody
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode body: %w", err)
		}
		body = b
	}
	u := c.apiURL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	if r.noRetry {
		ctx = context.WithValue(ctx, noRetryKey, true)
	}
	var reqBody any
	if body != nil {
		reqBody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u, reqBody)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
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
	if !r.noAuth {
		tok, err := c.accessToken(ctx, fresh)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return 0, nil, cause
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, data, nil
}

func decodeError(r request, status int, body []byte) error {
	e := &Error{Method: r.method, Route: r.path, Status: status}
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

// accessToken returns a valid token, fetching a new one when none is cached,
// when it is about to expire, or when fresh is set (after a 401).
func (c *Client) accessToken(ctx context.Context, fresh bool) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if !fresh && c.token != "" && c.now().Before(c.expires.Add(-c.cfg.TokenRefreshSkew)) {
		return c.token, nil
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
	status, body, err := c.send(ctx, r, false)
	if err != nil {
		return "", &Error{Method: r.method, Route: r.path, Status: status, Err: err}
	}
	if status != http.StatusOK {
		return "", decodeError(r, status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return "", &Error{Method: r.method, Route: r.path, Status: status, Err: errors.New("no access token in response")}
	}
	c.token = out.AccessToken
	c.expires = c.now().Add(time.Duration(out.ExpiresIn * float64(time.Second)))
	return c.token, nil
}

func (c *Client) invalidateToken() {
	c.tokenMu.Lock()
	c.token = ""
	c.tokenMu.Unlock()
}

// Secrets returns the values the client holds that must never be printed:
// the client secret and the current token. Callers feed them to redaction.
func (c *Client) Secrets() []string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	out := []string{c.cfg.ClientSecret}
	if c.token != "" {
		out = append(out, c.token)
	}
	return out
}
