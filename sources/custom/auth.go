package custom

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
)

// outgoing is a request about to be sent, as the auth sees it.
type outgoing struct {
	header http.Header
	query  url.Values
	// body is the JSON body, nil for none.
	body []byte
}

// authenticator adds credentials to requests. One per authType.
type authenticator interface {
	// apply adds the current credentials to req, obtaining them first if
	// needed. It returns the generation of the credentials used.
	apply(ctx context.Context, req *outgoing) (generation int, err error)
	// renew is called after a 401 to a request sent with generation. It
	// reports whether the request is worth sending again: credentials
	// that can be renewed were (or already had been, by another request).
	renew(ctx context.Context, generation int) (bool, error)
}

// noAuth is authType none.
type noAuth struct{}

func (noAuth) apply(context.Context, *outgoing) (int, error) { return 0, nil }
func (noAuth) renew(context.Context, int) (bool, error)      { return false, nil }

// headerAuth is a fixed header: bearer_token (Authorization: Bearer) and
// api_key in a header. Headers the user set (customHeaders, a resource's
// headers) win, as in Ocean.
type headerAuth struct {
	name, value string
}

func (a headerAuth) apply(_ context.Context, req *outgoing) (int, error) {
	if req.header.Get(a.name) == "" {
		req.header.Set(a.name, a.value)
	}
	return 0, nil
}

func (headerAuth) renew(context.Context, int) (bool, error) { return false, nil }

// basicAuth is authType basic.
type basicAuth struct {
	value string // "Basic base64(user:password)"
}

func newBasicAuth(user, password string) basicAuth {
	return basicAuth{value: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func (a basicAuth) apply(_ context.Context, req *outgoing) (int, error) {
	req.header.Set("Authorization", a.value)
	return 0, nil
}

func (basicAuth) renew(context.Context, int) (bool, error) { return false, nil }

// queryKeyAuth is api_key in a query parameter (apiKeyQueryParam).
type queryKeyAuth struct {
	param, key string
}

func (a queryKeyAuth) apply(_ context.Context, req *outgoing) (int, error) {
	req.query.Set(a.param, a.key)
	return 0, nil
}

func (queryKeyAuth) renew(context.Context, int) (bool, error) { return false, nil }
