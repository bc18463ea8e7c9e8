package mapping

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// program is one compiled jq expression of a mapping, remembered with the
// field it fills so misconfigurations and errors can name it.
//
// Most mapping fields are a path (.name, .department.id) or a literal
// ('"service"'). Those are evaluated in Go, without starting the jq
// machine: a path is followed through objects and nulls, exactly as jq
// does, and anything else (a string or a list on the way) falls back to
// gojq so errors read as jq's own. Everything else runs in gojq.
type program struct {
	field string
	expr  string
	code  *gojq.Code

	path     []string // native path (.a.b), when isPath
	isPath   bool
	constant any // the value of a literal, when isConst
	isConst  bool
}

// compileProgram compiles expr the way Ocean does: single-quoted string
// delimiters are rewritten to double quotes first (see quote.go); env and
// $ENV see only env. The error, if any, is gojq's with the byte offset of
// the problem in expr (-1 when unknown).
func compileProgram(field, expr string, env []string) (*program, int, error) {
	src := rewriteSingleQuotes(expr)
	if strings.TrimFunc(src, isPySpace) == "" {
		src = "." // jq runs an empty program as the identity
	}
	q, err := gojq.Parse(src)
	if err != nil {
		offset := -1
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			offset = max(0, min(len(expr), pe.Offset-len(pe.Token)))
		}
		return nil, offset, err
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return env }),
		// jq's CLI builtins that gojq leaves to its caller: a mapping
		// using them must compile. A daemon has no terminal to debug on.
		gojq.WithFunction("debug", 0, 0, identity),
		gojq.WithFunction("stderr", 0, 0, identity),
		gojq.WithFunction("input_filename", 0, 0, func(any, []any) any { return nil }))
	if err != nil {
		return nil, compileErrorOffset(expr, err), err
	}
	p := &program{field: field, expr: expr, code: code}
	p.path, p.isPath = nativePath(q)
	if isLiteral(q) {
		if v, ok := code.Run(nil).Next(); ok {
			if _, isErr := v.(error); !isErr {
				p.constant, p.isConst = v, true
			}
		}
	}
	return p, -1, nil
}

func identity(v any, _ []any) any { return v }

// nativePath returns the keys of a plain path expression: ., .a, .a.b,
// .["a b"], ."a", optionally with ?.
func nativePath(q *gojq.Query) ([]string, bool) {
	if !isSingleTerm(q) {
		return nil, false
	}
	t := q.Term
	var keys []string
	switch t.Type {
	case gojq.TermTypeIdentity:
	case gojq.TermTypeIndex:
		k, ok := indexKey(t.Index)
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
	default:
		return nil, false
	}
	for _, s := range t.SuffixList {
		switch {
		case s.Optional && s.Index == nil && !s.Iter:
			// Only errors differ with ?, and errors are left to gojq.
		case s.Index != nil && !s.Iter:
			k, ok := indexKey(s.Index)
			if !ok {
				return nil, false
			}
			keys = append(keys, k)
		default:
			return nil, false
		}
	}
	return keys, true
}

func indexKey(ix *gojq.Index) (string, bool) {
	if ix == nil || ix.Start != nil || ix.End != nil || ix.IsSlice {
		return "", false
	}
	if ix.Str != nil {
		return ix.Str.Str, len(ix.Str.Queries) == 0
	}
	return ix.Name, ix.Name != ""
}

// isLiteral reports a null, boolean, number or plain string literal.
func isLiteral(q *gojq.Query) bool {
	if !isSingleTerm(q) || len(q.Term.SuffixList) > 0 {
		return false
	}
	switch q.Term.Type {
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
		return true
	case gojq.TermTypeString:
		return q.Term.Str != nil && len(q.Term.Str.Queries) == 0
	}
	return false
}

func isSingleTerm(q *gojq.Query) bool {
	return q.Term != nil && q.Meta == nil && len(q.Imports) == 0 && len(q.FuncDefs) == 0 &&
		q.Left == nil && q.Right == nil && len(q.Patterns) == 0
}

var undefinedName = regexp.MustCompile(`^(?:function|variable) not defined: (\$?[A-Za-z_][A-Za-z0-9_:]*)`)

// compileErrorOffset finds the name an undefined-function or
// undefined-variable error is about in expr, or -1.
func compileErrorOffset(expr string, err error) int {
	m := undefinedName.FindStringSubmatch(errorText(err))
	if m == nil {
		return -1
	}
	name := m[1]
	for from := 0; ; {
		i := strings.Index(expr[from:], name)
		if i < 0 {
			return -1
		}
		i += from
		before, _ := utf8.DecodeLastRuneInString(expr[:i])
		after, _ := utf8.DecodeRuneInString(expr[i+len(name):])
		if !isNameRune(before) && before != '.' && before != '$' && before != '@' && !isNameRune(after) {
			return i
		}
		from = i + len(name)
	}
}

func isNameRune(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// evalState is the evaluation of one unit of work (a raw item's
// itemsToParse, or one item's selector and fields) under a time limit. The
// deadline context is made only when a program needs gojq, so mappings made
// of paths and literals pay nothing for it.
type evalState struct {
	parent context.Context
	limit  time.Duration
	guard  *memGuard
	r      *ResourceMapper // for errors

	ctx    context.Context
	cancel context.CancelFunc
	field  string // the program running, for panics
}

// reset starts a new unit: a fresh time limit for what follows.
func (ev *evalState) reset() {
	if ev.cancel != nil {
		ev.cancel()
		ev.ctx, ev.cancel = nil, nil
	}
}

func (ev *evalState) context() context.Context {
	if ev.ctx == nil {
		ctx, cancelCause := context.WithCancelCause(ev.parent)
		release := ev.guard.enter(cancelCause)
		cancel := func() { release(); cancelCause(nil) }
		if ev.limit > 0 {
			var cancelTimeout context.CancelFunc
			ctx, cancelTimeout = context.WithTimeout(ctx, ev.limit)
			cancel = func() { release(); cancelTimeout(); cancelCause(nil) }
		}
		ev.ctx, ev.cancel = ctx, cancel
	}
	return ev.ctx
}

// outcome is what one program made of an input.
type outcome int

const (
	valueOut outcome = iota // the first output
	nullOut                 // an error or no output: Ocean's null
	stopOut                 // the time limit or the caller stopped it
)

// run evaluates p on input and returns its first output. For nullOut,
// reason says why; for stopOut, err says which stop it was.
func (p *program) run(ev *evalState, input any) (v any, out outcome, reason string, err error) {
	if p.isConst {
		return p.constant, valueOut, "", nil
	}
	if p.isPath {
		if v, ok := followPath(input, p.path); ok {
			return v, valueOut, "", nil
		}
	}
	ev.field = p.field
	ctx := ev.context()
	v, ok := p.code.RunWithContext(ctx, input).Next()
	if !ok {
		return nil, nullOut, "no output", nil
	}
	if e, isErr := v.(error); isErr {
		if ctx.Err() != nil {
			if ev.parent.Err() != nil {
				return nil, stopOut, "", context.Cause(ev.parent)
			}
			if errors.Is(context.Cause(ctx), errOverBudget) {
				return nil, stopOut, "", &ItemError{Field: p.field, Memory: true,
					Reason: fmt.Sprintf("in resources[%d] (kind %s), jq exceeded the memory budget (%s of heap) and was stopped", ev.r.Index, ev.r.Resource.Kind, bytesText(ev.guard.budget))}
			}
			return nil, stopOut, "", &ItemError{Field: p.field, Timeout: true,
				Reason: fmt.Sprintf("jq ran longer than the %s time limit for an item and was stopped", ev.limit)}
		}
		return nil, nullOut, jqErrorText(e), nil
	}
	return jsonSafe(v), valueOut, "", nil
}

// bytesText is a size in MiB.
func bytesText(n uint64) string {
	return fmt.Sprintf("%d MiB", n>>20)
}

// followPath is jq's .a.b on objects and nulls; ok is false where jq would
// raise an error (indexing a string, a number, a list...).
func followPath(v any, keys []string) (any, bool) {
	for _, k := range keys {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case nil:
		default:
			return nil, false
		}
	}
	return v, true
}

// jqErrorText renders a jq error the way jq prints it.
func jqErrorText(err error) string {
	var he *gojq.HaltError
	if errors.As(err, &he) {
		if he.Value() == nil {
			return "halt"
		}
	}
	return errorText(err)
}

// jsonSafe replaces what JSON cannot carry in a jq output as jq itself
// prints it: NaN as null, infinities as the largest finite numbers. The
// output is copied only if it holds such a value.
func jsonSafe(v any) any {
	if !hasNonFinite(v) {
		return v
	}
	return replaceNonFinite(v)
}

func hasNonFinite(v any) bool {
	switch t := v.(type) {
	case float64:
		return math.IsNaN(t) || math.IsInf(t, 0)
	case []any:
		for _, e := range t {
			if hasNonFinite(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasNonFinite(e) {
				return true
			}
		}
	}
	return false
}

func replaceNonFinite(v any) any {
	switch t := v.(type) {
	case float64:
		switch {
		case math.IsNaN(t):
			return nil
		case math.IsInf(t, 1):
			return math.MaxFloat64
		case math.IsInf(t, -1):
			return -math.MaxFloat64
		}
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = replaceNonFinite(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = replaceNonFinite(e)
		}
		return out
	}
	return v
}
