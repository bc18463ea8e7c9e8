package mapping

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// rewriteSingleQuotes turns single-quoted jq strings into double-quoted ones
// exactly as Ocean does before compiling a program. Ocean runs Python's
//
//	re.sub(r'(^|\s)\'(?!\s|")|(?<!\s|")\'(\s|$)', r'\1"\2', expr)
//
// which this emulates match by match, including two quirks users meet:
// a match consumes the white space beside the quote, so in `'a' 'b'` the
// space after the first string cannot also open the second (which stays
// `'b"`); and a quote inside a word (`it's`) or next to a double quote is
// left alone. The rewrite only ever swaps ' for ", so byte offsets into the
// result are offsets into expr.
func rewriteSingleQuotes(expr string) string {
	if !strings.Contains(expr, "'") {
		return expr
	}
	b := []byte(expr)
	for pos := 0; pos < len(expr); {
		r, size := utf8.DecodeRuneInString(expr[pos:])
		// Alternative 1, (^|\s)'(?!\s|"): ^ is tried before \s.
		if pos == 0 && r == '\'' && opensString(expr, pos+1) {
			b[pos] = '"'
			pos++
			continue
		}
		if isPySpace(r) && strings.HasPrefix(expr[pos+size:], "'") && opensString(expr, pos+size+1) {
			b[pos+size] = '"'
			pos += size + 1
			continue
		}
		// Alternative 2, (?<!\s|")'(\s|$): the look-behind sees the
		// string itself, even a character an earlier match consumed.
		if r == '\'' && !afterSpaceOrQuote(expr, pos) {
			rest := expr[pos+1:]
			if rest == "" {
				b[pos] = '"'
				pos++
				continue
			}
			if next, nsize := utf8.DecodeRuneInString(rest); isPySpace(next) {
				b[pos] = '"'
				pos += 1 + nsize
				continue
			}
			// $ also matches before a final newline, but \s is tried
			// first and takes that newline.
		}
		pos += size
	}
	return string(b)
}

// opensString is the look-ahead (?!\s|") at i.
func opensString(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isPySpace(r) && r != '"'
}

// afterSpaceOrQuote is the look-behind (?<=\s|") at i.
func afterSpaceOrQuote(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isPySpace(r) || r == '"'
}

// isPySpace is Python's \s on str patterns: Go's white space plus the
// information separators U+001C..U+001F, which str.isspace() counts.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
