package custom

import "testing"

func TestLinkTarget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values []string
		rel    string
		want   string
		ok     bool
	}{
		{"GitHub", []string{`<https://api.github.com/repositories?page=2>; rel="next", <https://api.github.com/repositories?page=9>; rel="last"`}, "next", "https://api.github.com/repositories?page=2", true},
		{"last", []string{`<https://x/?page=2>; rel="next", <https://x/?page=9>; rel="last"`}, "last", "https://x/?page=9", true},
		{"rel list and case", []string{`</a?p=3>; rel="prev NEXT"`}, "next", "/a?p=3", true},
		{"unquoted rel", []string{`</a?p=3>;rel=next`}, "next", "/a?p=3", true},
		{"quoted comma and semicolon before", []string{`</x>; title="one, two; three"; rel="prev", </y>; rel="next"`}, "next", "/y", true},
		{"several header lines", []string{`</x>; rel="prev"`, `</y>; rel="next"`}, "next", "/y", true},
		{"first rel param wins", []string{`</x>; rel="next"; rel="prev"`}, "prev", "", false},
		{"junk skipped", []string{`garbage, </y>; rel="next"`}, "next", "/y", true},
		{"none", []string{`</x>; rel="prev"`}, "next", "", false},
		{"empty", nil, "next", "", false},
	}
	for _, tc := range cases {
		got, ok := linkTarget(tc.values, tc.rel)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: linkTarget = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
