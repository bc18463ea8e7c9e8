package main

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// screenWidth is the width that tables and progress lines for people fit
// in; --wide lifts it where a command has the flag.
const screenWidth = 120

// shrink lets a column of a table give up width, down to min runes: its
// longer cells are cut with "…", or with wrap continued on the next lines.
type shrink struct {
	col, min int
	wrap     bool
}

// writeTable writes rows (the first is the header) as columns two spaces
// apart. When a line would be wider than width (0: no limit), the columns
// of order give up width in turn, down to their minimum. It reports
// whether a cell was cut, so that the caller can say how to see them
// whole. Cells are written as given: redact them before, so that no cut
// leaves part of a secret.
func writeTable(w io.Writer, rows [][]string, width int, order ...shrink) (cut bool, err error) {
	if len(rows) == 0 {
		return false, nil
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	total := 2 * (len(widths) - 1)
	for _, n := range widths {
		total += n
	}
	wraps := make([]bool, len(widths))
	for _, s := range order {
		if width <= 0 || total <= width {
			break
		}
		if give := min(total-width, widths[s.col]-s.min); give > 0 {
			widths[s.col] -= give
			total -= give
			wraps[s.col] = s.wrap
		}
	}
	var b strings.Builder
	for _, r := range rows {
		cells := make([][]string, len(r))
		height := 1
		for i, c := range r {
			if wraps[i] {
				cells[i] = wrapRunes(c, widths[i])
			} else {
				c, short := cutRunes(c, widths[i])
				cut = cut || short
				cells[i] = []string{c}
			}
			height = max(height, len(cells[i]))
		}
		b.Reset()
		for line := range height {
			var l strings.Builder
			for i, c := range cells {
				if i > 0 {
					l.WriteString("  ")
				}
				part := ""
				if line < len(c) {
					part = c[line]
				}
				l.WriteString(part)
				l.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(part)))
			}
			b.WriteString(strings.TrimRight(l.String(), " "))
			b.WriteString("\n")
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return cut, err
		}
	}
	return cut, nil
}

// cutRunes shortens s to n runes, the last one "…", and reports whether
// it did.
func cutRunes(s string, n int) (string, bool) {
	if utf8.RuneCountInString(s) <= n {
		return s, false
	}
	if n <= 0 {
		return "", true
	}
	r := []rune(s)
	return string(r[:n-1]) + "…", true
}

// wrapRunes splits s into lines of at most n runes, after the last space,
// comma, dot, slash or underscore of a line when it has one, else before
// a capital letter (camelCase keys).
func wrapRunes(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > n && n > 0 {
		at := n
		for i := n; i > 1; i-- {
			if strings.ContainsRune(" ,./_", r[i-1]) {
				at = i
				break
			}
		}
		if at == n && !strings.ContainsRune(" ,./_", r[n-1]) {
			// No separator: break a camelCase word before a capital.
			for i := n; i > n/2; i-- {
				if unicode.IsUpper(r[i]) {
					at = i
					break
				}
			}
		}
		out = append(out, strings.TrimRight(string(r[:at]), " "))
		r = r[at:]
		for len(r) > 0 && r[0] == ' ' {
			r = r[1:]
		}
	}
	return append(out, string(r))
}
