package port

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a Port API call that did not succeed. It keeps the route, the
// status, Port's error code and message, and the underlying cause.
type Error struct {
	Method  string
	Route   string
	Status  int
	Code    string
	Message string
	Err     error
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
