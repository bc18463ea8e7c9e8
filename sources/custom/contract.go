// Package custom is Ocean's generic HTTP integration ("custom"): every
// resource's kind is an endpoint path of one REST API, fetched with the
// configured auth and pagination, and every error after retries fails the
// kind, so a partial fetch is never taken for a complete one.
package custom

// This file is the contract between the HTTP half of the package (settings,
// auth, client) and the fetch half (pagination, endpoint resolution, cache,
// Fetch). Each half replaces its stubs; the signatures stay.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"oceand/sources"
)

// Settings are the custom source's integration.config, under Ocean's names
// (snake_case keys as the settings loader produces them).
type Settings struct {
	BaseURL  *url.URL // trimmed, no trailing slash
	AuthType string   // none|bearer_token|basic|api_key|custom|oauth2

	PaginationType  string // none|offset|page|cursor|next_link|header_link
	PageSize        int
	PaginationParam string // default per type
	SizeParam       string // default per type
	StartPage       int
	CursorPath      string
	HasMorePath     string
	LastPagePath    string
	NextLinkPath    string
	HeaderLinkRel   string
	MaxPages        int // an error when reached

	Timeout               time.Duration
	MaxConcurrentRequests int
	CustomHeaders         map[string]string

	// Auth, TLS, proxy and rate-limit settings belong to the HTTP half,
	// which adds its own fields here.
}

// ParseSettings reads integration.config. Every problem names its key.
func ParseSettings(config map[string]any) (Settings, error) {
	return Settings{}, errors.New("custom: settings not implemented")
}

// Request is one HTTP call of the source.
type Request struct {
	Method string
	// URL is absolute; its query string is kept and Query is added to it.
	URL    string
	Query  url.Values
	Header http.Header
	// Body is sent as JSON when non-nil.
	Body []byte
	// RetryPOST says a POST is safe to retry (a search API).
	RetryPOST bool
}

// Response is a successful (2xx) answer, handed to the caller's handler.
type Response struct {
	Status int
	Header http.Header
	// URL is the URL finally requested (after redirects).
	URL *url.URL
	// Body streams the answer. A read error on it is a transport error:
	// if the handler returns it (wrapped or not), Do retries the request.
	Body io.Reader
}

// Client makes the source's HTTP calls: auth, retries, rate limits and
// maxConcurrentRequests requests in flight.
type Client struct{}

// NewClient builds the client for s. Tokens it obtains go to env.AddSecrets.
func NewClient(s Settings, env sources.Env) (*Client, error) {
	return nil, errors.New("custom: client not implemented")
}

// Do sends r and calls handle with the answer while holding its request
// slot. A non-2xx answer left after retries, or a transport error, is an
// error naming the method, the redacted URL, the status and the first
// bytes of the body (redacted); handle is then not called.
func (c *Client) Do(ctx context.Context, r Request, handle func(*Response) error) error {
	return errors.New("custom: client not implemented")
}

// Resolve turns a path or URL from settings or from an API answer (a next
// link) into an absolute URL: relative ones against baseUrl.
func (c *Client) Resolve(ref string) (*url.URL, error) {
	return nil, errors.New("custom: client not implemented")
}
