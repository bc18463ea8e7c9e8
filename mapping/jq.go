package mapping

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/itchyny/gojq"
)

// program is one compiled jq expression of a mapping, remembered with the
// field it fills so errors can name it.
type program struct {
	field string
	expr  string
	code  *gojq.Code
}

// compileProgram parses and compiles expr the way Ocean does: single-quoted
// string delimiters are rewritten to double quotes first.
func compileProgram(field, expr string, env []string) (*program, error) {
	src := rewriteSingleQuotes(expr)
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, &CompileError{Field: field, Expr: expr, Err: err}
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return env }))
	if err != nil {
		return nil, &CompileError{Field: field, Expr: expr, Err: err}
	}
	return &program{field: field, expr: expr, code: code}, nil
}

// first runs the program and returns its first output. ok is false when the
// program errored or produced nothing; reason says which.
func (p *program) first(ctx context.Context, input any) (value any, ok bool, reason string) {
	iter := p.code.RunWithContext(ctx, input)
	v, more := iter.Next()
	if !more {
		return nil, false, "no output"
	}
	if err, isErr := v.(error); isErr {
		return nil, false, errorText(err)
	}
	return v, true, ""
}

// errorText renders a jq error. gojq error values can panic in Error() when
// they carry Go values it does not support, so guard it.
func errorText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = "jq error"
		}
	}()
	return err.Error()
}

// CompileError is a jq expression of a mapping that does not parse or compile.
type CompileError struct {
	Field string
	Expr  string
	Err   error
}

func (e *CompileError) Error() string {
	var pe *gojq.ParseError
	if ok := asParseError(e.Err, &pe); ok {
		return fmt.Sprintf("%s: jq syntax error at offset %d near %q in %q", e.Field, pe.Offset, pe.Token, e.Expr)
	}
	return fmt.Sprintf("%s: %v in %q", e.Field, e.Err, e.Expr)
}

func (e *CompileError) Unwrap() error { return e.Err }

func asParseError(err error, target **gojq.ParseError) bool {
	pe, ok := err.(*gojq.ParseError)
	if ok {
		*target = pe
	}
	return ok
}

// rewriteSingleQuotes turns single-quoted jq strings into double-quoted ones
// as Ocean does before compiling: a quote opens a string when it starts the
// expression or follows white space and is not followed by white space or a
// double quote; it closes one when it ends the expression or precedes white
// space and does not follow white space or a double quote.
func rewriteSingleQuotes(expr string) string {
	if !strings.Contains(expr, "'") {
		return expr
	}
	r := []rune(expr)
	out := make([]rune, len(r))
	copy(out, r)
	for i, c := range r {
		if c != '\'' {
			continue
		}
		prevOK := i == 0 || unicode.IsSpace(r[i-1])
		nextOK := i+1 < len(r) && !unicode.IsSpace(r[i+1]) && r[i+1] != '"'
		if prevOK && nextOK {
			out[i] = '"'
			continue
		}
		prevClose := i > 0 && !unicode.IsSpace(r[i-1]) && r[i-1] != '"'
		nextClose := i+1 == len(r) || unicode.IsSpace(r[i+1])
		if prevClose && nextClose {
			out[i] = '"'
		}
	}
	return string(out)
}
