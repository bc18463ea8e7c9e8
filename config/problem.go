package config

import (
	"errors"
	"strings"
)

// Problem is one thing wrong with the settings, or worth a warning.
type Problem struct {
	// Key is the setting in config.yaml's camelCase (port.clientId);
	// empty for problems of a whole file.
	Key string
	// Origin is where the offending value was written; its zero value
	// (a default) means nowhere in particular.
	Origin Origin
	// Message says what is wrong and, where it can, what to do.
	Message string
	// Warning marks problems that do not stop oceand.
	Warning bool
}

// String is the problem as a line: where, which setting, what.
// "config.yaml:7:12: port.baseUrl: must be an http(s) URL, got "x"".
func (p Problem) String() string {
	var b strings.Builder
	if p.Origin.Kind != FromDefault {
		b.WriteString(p.Origin.String())
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in the settings.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid settings: " + e.Problems[0].String()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid settings:\n  " + strings.Join(lines, "\n  ")
}

// errorOf returns a *ValidationError for the errors among problems, or nil.
func errorOf(problems []Problem) error {
	var errs []Problem
	for _, p := range problems {
		if !p.Warning {
			errs = append(errs, p)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Problems: errs}
}

// ProblemsOf returns the problems an error from this package carries: a
// *ValidationError's list, or the error itself as one problem.
func ProblemsOf(err error) []Problem {
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return []Problem{{Message: err.Error()}}
}
