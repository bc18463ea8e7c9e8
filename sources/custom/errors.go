package custom

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// snippetLen is how much of an error answer's body an error shows.
const snippetLen = 256

// HTTPError is a request that failed for good: a non-2xx answer left after
// retries (Status set), or a transport error (Status 0, Err set). Its
// fields are safe to show: URL and Snippet are redacted.
type HTTPError struct {
	Method string
	// URL has secrets masked (userinfo, credential query parameters and
	// every known secret value).
	URL    string
	Status int
	// Snippet is the start of the answer's body (at most 256 bytes),
	// redacted and with control characters replaced.
	Snippet string
	// Attempts is how many times the request was sent.
	Attempts int
	// Err is the transport error, redacted; nil for a status error.
	Err error

	what string // "oauth2 token", "custom auth", ...: the request's purpose
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	if e.what != "" {
		b.WriteString(e.what + ": ")
	}
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.Status != 0 {
		b.WriteString(statusText(e.Status))
		if e.Snippet != "" {
			fmt.Fprintf(&b, ": %s", e.Snippet)
		}
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *HTTPError) Unwrap() error { return e.Err }

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("status %d", code)
}

// BodyReadError is a failure to read an answer's body (a connection reset
// or a timeout part way): the request is worth sending again. Response.Body
// wraps every read error in one; a handler that returns it (wrapped or
// not) makes Do retry the request.
type BodyReadError struct {
	URL string // redacted
	Err error
}

func (e *BodyReadError) Error() string {
	return fmt.Sprintf("reading the answer of %s: %v", e.URL, e.Err)
}

func (e *BodyReadError) Unwrap() error { return e.Err }

// redactedError is an error whose message was redacted; it keeps the
// original for errors.Is (context.Canceled, net errors) but never shows it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// snippet is the start of a body for an error message: at most snippetLen
// bytes, cut on a rune boundary, control characters as spaces.
func snippet(body []byte) string {
	if len(body) > snippetLen {
		body = body[:snippetLen]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(body))
	return strings.TrimSpace(s)
}
