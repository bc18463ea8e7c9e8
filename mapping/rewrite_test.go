package mapping

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"
)

// TestRewriteSingleQuotesMatchesPython checks the rewrite against what
// Python's re.sub (Ocean's code) made of the same expressions; the table
// comes from testdata/single_quotes.py.
func TestRewriteSingleQuotesMatchesPython(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/single_quotes.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Out string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 400 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		if got := rewriteSingleQuotes(c.In); got != c.Out {
			t.Errorf("rewriteSingleQuotes(%q) = %q, Python gives %q", c.In, got, c.Out)
		}
	}
}

// FuzzRewriteSingleQuotes checks what the rewrite promises its callers:
// only ' becomes ", so offsets into the result are offsets into the input.
func FuzzRewriteSingleQuotes(f *testing.F) {
	for _, s := range []string{"'a' 'b'", ".a == 'x'", "it's", "' '", "\x1c'a'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got := rewriteSingleQuotes(s)
		if len(got) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, got)
		}
		for i := range len(s) {
			if got[i] != s[i] && (s[i] != '\'' || got[i] != '"') {
				t.Fatalf("byte %d changed from %q to %q: %q -> %q", i, s[i], got[i], s, got)
			}
		}
	})
}

// TestDeletionPathMatchesOcean: the path itemsToParseTopLevelTransform
// deletes, as Ocean's extract_jq_deletion_path_revised finds it (expected
// values computed by running Ocean's function; "." where it finds none).
func TestDeletionPathMatchesOcean(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ expr, want string }{
		{".files", ".files"},
		{".files[]", ".files"},
		{".a.b.c", ".a.b.c"},
		{".a[0].b", ".a[0].b"},
		{".[\"my key\"]", ".[\"my key\"]"},
		{".a | map(.x)", ".a"},
		{"map(.x) | .y", ".y"},
		{". as $r | .items | map(. + {r: $r})", ".items"},
		{"$x | .a", ".a"},
		{". | .items", ".items"},
		{"(.a.b)", ".a.b"},
		{"(.a | .b) | .c", ".a"},
		{"(.a", "."},
		{"[.a[], .b[]]", "."},
		{".a // []", ".a"},
		{".a.b // []", ".a.b"},
		{"  .spaces  ", ".spaces"},
		{".a | .b | .c", ".a"},
		{".items[] | select(.x)", ".items"},
		{".\u00e9.\u00fc", ".\u00e9.\u00fc"},
		{".a1._b", ".a1._b"},
		{".1", ".1"},
		{".a[.b]", ".a[.b]"},
		{".a.[0]", ".a.[0]"},
		{".a[]?", ".a"},
		{".a?", ".a"},
		{".a.b?.c", ".a.b"},
		{"if .x then .y else .z end", "."},
		{".a|.b", ".a"},
		{".\"quoted\"", "."},
		{". as [$a] | .b", ".b"},
		{".  as $x | .c", ".c"},
		{".as $x | .c", ".as"},
		{"", "."},
		{".", "."},
		{".[0]", ".[0]"},
		{".[]", "."},
		{".a[1:2]", ".a[1:2]"},
		{"{a: .b}", "."},
		{".a\n| .b", ".a"},
		{"(.x) | .y", ".x"},
		{"( .x ) ", ".x"},
		{". | del(.a)", "."},
		{"reduce .a[] as $x (0; .)", "."},
	} {
		if got := deletionPath(c.expr); got != c.want {
			t.Errorf("deletionPath(%q) = %q, Ocean finds %q", c.expr, got, c.want)
		}
	}
}
