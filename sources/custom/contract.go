// Package custom is Ocean's generic HTTP integration ("custom"): every
// resource's kind is an endpoint path of one REST API, fetched with the
// configured auth and pagination, and every error after retries fails the
// kind, so a partial fetch is never taken for a complete one.
package custom

// This file is the contract between the HTTP half of the package (settings,
// auth, client) and the fetch half (pagination, endpoint resolution, cache,
// Fetch). The HTTP half's side of it: ParseSettings (settings.go), Client,
// NewClient, Client.Do and Client.Resolve (client.go).

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
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

	// Auth (settings.go, auth*.go).
	APIToken                  string
	Username, Password        string
	APIKey                    string
	APIKeyHeader              string // default X-API-Key
	APIKeyQueryParam          string // when set, apiKey goes in this query parameter instead
	CustomAuthRequest         *CustomAuthRequest
	CustomAuthRequestTemplate *CustomAuthRequestTemplate
	OAuth2                    OAuth2

	// TLS and limits (client.go, limit.go).
	SkipTLSVerify  bool // verifySsl: false; the zero value verifies
	CACertFile     string
	RateLimit      float64 // requests per second per host; 0 means no limit
	RateLimitBurst int     // 0 means ceil(RateLimit), at least 1

	// rawHeaderValues are customHeaders values before ${VAR} expansion.
	rawHeaderValues []string
	// dial replaces the network in tests.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
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
