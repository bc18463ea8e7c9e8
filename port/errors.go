package port

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a Port API call that did not succeed. It keeps the route, the
// status, Port's error code and message, and the underlying cause.
type Error struct {
	Method string
	Route  string
	// Status is the last HTTP status, 0 when no answer came back.
	Status  int
	Code    string
	Message string
	// Attempts is how many times the request was sent.
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("port %s %s", e.Method, e.Route)
	if e.Status != 0 {
		msg += fmt.Sprintf(": %d", e.Status)
	}
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound matches (with errors.Is) any 404 from Port.
var ErrNotFound = errors.New("not found")

// Is makes errors.Is(err, ErrNotFound) true for 404 answers.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// StatusOf returns the HTTP status of a Port error, or 0.
func StatusOf(err error) int {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Status
	}
	return 0
}

// Permanent reports whether err is an answer Port would give again to the
// same request (a 4xx other than 401, 408 and 429, e.g. 404 not_found or
// 422 blueprint_schema_mismatch): retrying it later is pointless.
func Permanent(err error) bool {
	s := StatusOf(err)
	return s >= 400 && s < 500 && s != http.StatusUnauthorized && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
}
