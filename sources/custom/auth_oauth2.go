package custom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// oauth2Auth is authType oauth2: the client-credentials grant. The token is
// cached until it expires (oauth2's 10 s early margin), and dropped after a
// 401 to a request that carried it.
type oauth2Auth struct {
	cfg     clientcredentials.Config
	http    *http.Client // token requests: no auth, same transport and limits
	secrets func(...string)
	redact  *redactor

	mu  sync.Mutex
	tok *oauth2.Token
	gen int
}

func newOAuth2Auth(o OAuth2, client *http.Client, secrets func(...string), redact *redactor) *oauth2Auth {
	return &oauth2Auth{
		cfg:     clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes},
		http:    client,
		secrets: secrets,
		redact:  redact,
	}
}

func (a *oauth2Auth) apply(ctx context.Context, req *outgoing) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil || !a.tok.Valid() {
		tok, err := a.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, a.http))
		if err != nil {
			return 0, a.tokenError(err)
		}
		a.secrets(tok.AccessToken, tok.RefreshToken)
		a.tok = tok
		a.gen++
	}
	a.tok.SetAuthHeader(reqAsHTTP(req))
	return a.gen, nil
}

func (a *oauth2Auth) renew(_ context.Context, generation int) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == generation {
		a.tok = nil // the next apply fetches a new one
	}
	return true, nil
}

// tokenError keeps the status of a failed token request and at most the
// start of its body, redacted: oauth2's own message has the whole body.
func (a *oauth2Auth) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return &HTTPError{
			Method:  http.MethodPost,
			URL:     a.redact.string(a.cfg.TokenURL),
			Status:  re.Response.StatusCode,
			Snippet: a.redact.string(snippet(re.Body)),
			what:    "oauth2 token",
		}
	}
	return fmt.Errorf("oauth2 token from %s: %s", a.redact.string(a.cfg.TokenURL), a.redact.string(err.Error()))
}

// reqAsHTTP lets oauth2 set its header on an outgoing request.
func reqAsHTTP(req *outgoing) *http.Request {
	return &http.Request{Header: req.header}
}
