package mapping

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// deletionPath finds the path that itemsToParseTopLevelTransform deletes
// from an item before the parsed elements are merged into it. It follows
// Ocean's heuristic (extract_jq_deletion_path_revised) step by step, so the
// same expression removes the same key:
//
//   - the expression is trimmed; if it starts with "(", only the text up to
//     the first ")" is looked at (and nothing at all when there is none);
//   - that text is split at every "|", even one inside a string;
//   - segments `. as $x…`, `.` and `$…` are skipped;
//   - the first segment that starts with a path (.a, .["a"], .a[0].b…)
//     gives the path: the longest such prefix, whatever follows it.
//
// With no such segment the path is "." and every item becomes null, which
// Ocean (and oceand) skip with a warning.
func deletionPath(expr string) string {
	expr = strings.TrimFunc(expr, isPySpace)
	chain := expr
	if strings.HasPrefix(expr, "(") {
		end := strings.IndexByte(expr, ')')
		if end < 0 {
			return "."
		}
		chain = strings.TrimFunc(expr[1:end], isPySpace)
	}
	for _, seg := range strings.Split(chain, "|") {
		seg = strings.TrimFunc(seg, isPySpace)
		if seg == "." || strings.HasPrefix(seg, "$") || isAsBinding(seg) {
			continue
		}
		if n := pathPrefix(seg); n > 0 {
			return seg[:n]
		}
	}
	return "."
}

// isAsBinding is re.match(r'^\.\s+as\s+\$\w+', seg).
func isAsBinding(seg string) bool {
	rest, ok := strings.CutPrefix(seg, ".")
	if !ok {
		return false
	}
	if rest = trimLeadingSpace(rest); len(rest) == len(seg)-1 {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "as")
	if !ok {
		return false
	}
	after := trimLeadingSpace(rest)
	if len(after) == len(rest) {
		return false
	}
	rest, ok = strings.CutPrefix(after, "$")
	return ok && wordLen(rest) > 0
}

// pathPrefix is the length of the match of
// (\.[\w]+|\.\[[^\]]+\])(\.[\w]+|\[[^\]]+\]|\.\[[^\]]+\])* at the start of
// seg, or 0.
func pathPrefix(seg string) int {
	n := pathStep(seg, true)
	if n == 0 {
		return 0
	}
	for {
		m := pathStep(seg[n:], false)
		if m == 0 {
			return n
		}
		n += m
	}
}

// pathStep matches one path component at the start of s: .word or .[…],
// and, when not first, a bare […] too.
func pathStep(s string, first bool) int {
	if rest, ok := strings.CutPrefix(s, "."); ok {
		if w := wordLen(rest); w > 0 {
			return 1 + w
		}
		if b := bracketLen(rest); b > 0 {
			return 1 + b
		}
		return 0
	}
	if first {
		return 0
	}
	return bracketLen(s)
}

// bracketLen matches \[[^\]]+\] at the start of s.
func bracketLen(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	end := strings.IndexByte(s, ']')
	if end < 2 {
		return 0
	}
	return end + 1
}

// wordLen is the length of the run of Python \w characters (letters,
// numbers and "_", in Unicode) at the start of s.
func wordLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			break
		}
		n += size
	}
	return n
}

func trimLeadingSpace(s string) string { return strings.TrimLeftFunc(s, isPySpace) }

// itemsToParseWarnings points out resources whose top-level transform will
// skip every item: their itemsToParse has no simple path to delete, so the
// whole item is deleted, as in Ocean.
func itemsToParseWarnings(cfg *Config) []Problem {
	var out []Problem
	for i, r := range cfg.Resources {
		p := r.Port
		if p.ItemsToParse == "" || (p.ItemsToParseTopLevelTransform != nil && !*p.ItemsToParseTopLevelTransform) {
			continue
		}
		if deletionPath(p.ItemsToParse) != "." {
			continue
		}
		field := fmt.Sprintf("resources[%d].port.itemsToParse", i)
		pos := r.pos("port.itemsToParse")
		file := ""
		if r.src != nil {
			file = r.src.file
		}
		out = append(out, Problem{File: file, Line: pos.Line, Column: pos.Column, Path: field,
			Message: "no simple path (.a.b) starts a segment of this expression, so the top-level transform deletes the whole item and every item is skipped, as in Ocean; set itemsToParseTopLevelTransform: false"})
	}
	return out
}
