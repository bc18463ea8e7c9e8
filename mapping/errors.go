package mapping

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Problem is one thing wrong with a mapping, with where it is written.
type Problem struct {
	// File is the mapping file, "" for a mapping read from Port.
	File string `json:"file,omitempty"`
	// Line and Column locate the value in File; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Path names the key: "resources[1].port.entity.mappings.title".
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// String is "file:line:column: path: message", without the parts that
// are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if loc := location(p.File, p.Line, p.Column); loc != "" {
		b.WriteString(loc + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func location(file string, line, col int) string {
	var parts []string
	if file != "" {
		parts = append(parts, file)
	}
	if line > 0 {
		parts = append(parts, fmt.Sprint(line))
		if col > 0 {
			parts = append(parts, fmt.Sprint(col))
		}
	}
	return strings.Join(parts, ":")
}

// ParseError lists every problem that kept a mapping from being read.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// CompileError is a jq expression of a mapping that does not compile. It
// names the resource, the field and the place in the expression, so the
// user can fix the mapping before anything is written to Port.
type CompileError struct {
	// Resource is the index in resources[], Kind its kind.
	Resource int
	Kind     string
	// Field is the key inside the resource: "port.entity.mappings.title".
	Field string
	// Expr is the expression as written.
	Expr string
	// Offset is the byte offset in Expr where the problem is, -1 when jq
	// does not say.
	Offset int
	// File, Line and Column place the problem in a mapping file: the
	// character in Expr when it can be computed, else where Expr starts.
	File         string
	Line, Column int
	Err          error
}

func (e *CompileError) Error() string {
	var b strings.Builder
	if loc := location(e.File, e.Line, e.Column); loc != "" {
		b.WriteString(loc + ": ")
	}
	fmt.Fprintf(&b, "resources[%d] (kind %s) %s: ", e.Resource, e.Kind, e.Field)
	var pe *gojq.ParseError
	if errors.As(e.Err, &pe) {
		b.WriteString("jq syntax error: ")
	}
	b.WriteString(errorText(e.Err))
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at column %d of %q", utf8.RuneCountInString(e.Expr[:e.Offset])+1, e.Expr)
	} else {
		fmt.Fprintf(&b, " in %q", e.Expr)
	}
	return b.String()
}

func (e *CompileError) Unwrap() error { return e.Err }

// Caret shows the expression with a ^ under the problem, for a terminal;
// "" when the place is unknown or the expression spans lines.
func (e *CompileError) Caret() string {
	if e.Offset < 0 || strings.ContainsAny(e.Expr, "\n\r") {
		return ""
	}
	return e.Expr + "\n" + strings.Repeat(" ", utf8.RuneCountInString(e.Expr[:e.Offset])) + "^"
}

// ItemError is a raw item the mapping could not judge: its selector did not
// yield a boolean, a program ran past the time limit or the memory budget,
// or its itemsToParse
// did not give a list. The entities the item stands for are unknown; the
// caller counts the item as failed.
type ItemError struct {
	Field  string
	Reason string
	// Skipped is set where Ocean skips the item with a warning and goes
	// on (itemsToParse did not give a list, or the top-level transform
	// left nothing): the item gave no entity, but which entities it stood
	// for is unknown, so a caller should not treat them as deleted.
	Skipped bool
	// Timeout is set when the item hit the time limit.
	Timeout bool
	// Memory is set when jq was stopped because the heap passed the
	// memory budget (Options.MemoryBudget).
	Memory bool
}

func (e *ItemError) Error() string { return e.Field + ": " + e.Reason }

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
