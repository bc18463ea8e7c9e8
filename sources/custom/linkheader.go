package custom

import (
	"strings"
)

// linkTarget returns the target of the first link in the Link header
// values (RFC 8288, formerly RFC 5988) whose rel includes rel, compared
// case-insensitively. Several header lines, several links per line, quoted
// parameters holding commas or semicolons and rel lists ("next last") are
// handled; a malformed link is skipped.
func linkTarget(values []string, rel string) (string, bool) {
	for _, v := range values {
		for _, l := range parseLinks(v) {
			for _, r := range strings.Fields(l.params["rel"]) {
				if strings.EqualFold(r, rel) {
					return l.target, true
				}
			}
		}
	}
	return "", false
}

type link struct {
	target string
	params map[string]string
}

// parseLinks splits one Link header value into links.
func parseLinks(s string) []link {
	var out []link
	for {
		s = strings.TrimLeft(s, " \t,")
		if !strings.HasPrefix(s, "<") {
			// Not at a link: skip to the next comma outside quotes.
			i := nextSeparator(s, ',')
			if i < 0 {
				return out
			}
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return out
		}
		l := link{target: strings.TrimSpace(s[1:end]), params: map[string]string{}}
		s = s[end+1:]
		// Parameters: ; name=value | ; name="quoted" | ; name
		for {
			s = strings.TrimLeft(s, " \t")
			if !strings.HasPrefix(s, ";") {
				break
			}
			s = strings.TrimLeft(s[1:], " \t")
			i := 0
			for i < len(s) && s[i] != '=' && s[i] != ';' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			name := strings.ToLower(s[:i])
			s = strings.TrimLeft(s[i:], " \t")
			val := ""
			if strings.HasPrefix(s, "=") {
				s = strings.TrimLeft(s[1:], " \t")
				if strings.HasPrefix(s, `"`) {
					var b strings.Builder
					j := 1
					for ; j < len(s) && s[j] != '"'; j++ {
						if s[j] == '\\' && j+1 < len(s) {
							j++
						}
						b.WriteByte(s[j])
					}
					val = b.String()
					if j < len(s) {
						j++
					}
					s = s[j:]
				} else {
					j := 0
					for j < len(s) && s[j] != ';' && s[j] != ',' {
						j++
					}
					val = strings.TrimSpace(s[:j])
					s = s[j:]
				}
			}
			if _, dup := l.params[name]; !dup && name != "" {
				l.params[name] = val // RFC 8288: the first rel wins
			}
		}
		out = append(out, l)
	}
}

// nextSeparator finds sep outside double quotes.
func nextSeparator(s string, sep byte) int {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && in:
			i++
		case s[i] == '"':
			in = !in
		case s[i] == sep && !in:
			return i
		}
	}
	return -1
}
