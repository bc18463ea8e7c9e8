package custom

import (
	"context"
	"net/url"
)

// doer is what the fetch half needs of the HTTP client: *Client in
// production, a plain net/http client in tests.
type doer interface {
	Do(ctx context.Context, r Request, handle func(*Response) error) error
	Resolve(ref string) (*url.URL, error)
}

var _ doer = (*Client)(nil)
