package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestPlainPath(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		".":                 nil,
		".items":            {"items"},
		".a.b_2":            {"a", "b_2"},
		`.["@odata.value"]`: {"@odata.value"},
		`.a["x y"].b`:       {"a", "x y", "b"},
		`."k"`:              {"k"},
	}
	for expr, want := range cases {
		keys, ok := plainPath(expr)
		if !ok || !reflect.DeepEqual(keys, want) {
			t.Errorf("plainPath(%q) = %q, %v; want %q", expr, keys, ok, want)
		}
	}
	for _, expr := range []string{".items[]", ".a | .b", ".[0]", "map(.x)", `.["a\(1)"]`, ".a?", ".1a"} {
		if _, ok := plainPath(expr); ok {
			t.Errorf("plainPath(%q) is plain, want jq", expr)
		}
	}
}

// TestStreamDecodeBatches checks that a plain data_path is applied while
// the page is read: items come in batches of at most the batch size before
// the end of the body is read, and the fields around the array (before and
// after it) are kept for the paginator.
func TestStreamDecodeBatches(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"meta": {"has_more": true}, "items": [`)
	for i := range 10 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": %d, "big": 12345678901234567890}`, i)
	}
	b.WriteString(`], "next_cursor": "c2"}`)
	body := b.String()
	cut := strings.Index(body, `], "next_cursor"`)

	dp, err := compileDataPath(".items")
	if err != nil {
		t.Fatal(err)
	}
	r := &trackingReader{r: strings.NewReader(body)}
	var batches [][]map[string]any
	info, _, err := dp.read(context.Background(), r, 4, func(items []map[string]any) error {
		if len(batches) == 0 && r.read >= cut {
			t.Errorf("first batch handed on after %d bytes of %d: the page was not streamed", r.read, len(body))
		}
		batches = append(batches, items)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, bt := range batches {
		sizes = append(sizes, len(bt))
	}
	if !reflect.DeepEqual(sizes, []int{4, 4, 2}) {
		t.Errorf("batch sizes = %v, want [4 4 2]", sizes)
	}
	first := batches[0][0]
	if first["id"] != json.Number("0") || first["big"] != json.Number("12345678901234567890") {
		t.Errorf("item = %#v, want json.Number values (gojq accepts them, no Go ints)", first)
	}
	if info.items != 10 || info.null {
		t.Errorf("info = %+v", info)
	}
	if v, _ := lookup(info.doc, "next_cursor"); v != "c2" {
		t.Errorf("next_cursor after the array = %v, want c2", v)
	}
	if v, _ := lookup(info.doc, "meta.has_more"); v != true {
		t.Errorf("meta.has_more before the array = %v, want true", v)
	}
	if _, ok := lookup(info.doc, "items"); ok {
		t.Error("the items array is also kept in the page's fields: held twice")
	}
}

type trackingReader struct {
	r    io.Reader
	read int
}

func (t *trackingReader) Read(p []byte) (int, error) {
	if len(p) > 16 {
		p = p[:16] // small reads, so streaming is observable
	}
	n, err := t.r.Read(p)
	t.read += n
	return n, err
}

func TestDataPathResults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr, body string
		items      int
		null       bool
		err        string
	}{
		{".", `[{"a":1},{"a":2}]`, 2, false, ""},
		{".", `{"a":1}`, 1, false, ""},
		{".", `null`, 0, true, ""},
		{".", `3`, 0, false, "gave a number"},
		{".a.b", `{"a":{"b":[{"x":1}]}}`, 1, false, ""},
		{".a.b", `{"a":null}`, 0, true, ""},
		{".a.b", `{"z":1}`, 0, true, ""},
		{".a.b", `{"a":[1]}`, 0, false, `"a" is an array, which has no key "b"`},
		{".items", `{"items":[1]}`, 0, false, "item 0 is a number, not an object"},
		{".items", `{"items":[{"a":1}]`, 0, false, "not valid JSON"},
		{".items", `{"items":[]} trailing`, 0, false, "not valid JSON"},
		{".items[]", `{"items":[{"a":1},{"a":2}]}`, 2, false, ""},
		{".items[]", `{"items":[]}`, 0, false, ""},
		{".items | .[0]", `{"items":[]}`, 0, true, ""},
		{".items[] | select(.a > 1)", `{"items":[{"a":1},{"a":2}]}`, 1, false, ""},
		{".items | error(\"boom\")", `{"items":[]}`, 0, false, "boom"},
		{".x", `{"x":"s"}`, 0, false, "gave a string"},
	}
	for _, tc := range cases {
		dp, err := compileDataPath(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		info, _, err := dp.read(context.Background(), strings.NewReader(tc.body), 100, func([]map[string]any) error { return nil })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s on %s: err = %v, want %q", tc.expr, tc.body, err, tc.err)
			}
			if isReadError(err) {
				t.Errorf("%s on %s: %v would be retried as a read error", tc.expr, tc.body, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s on %s: %v", tc.expr, tc.body, err)
			continue
		}
		if info.items != tc.items || info.null != tc.null {
			t.Errorf("%s on %s: items %d null %v, want %d %v", tc.expr, tc.body, info.items, info.null, tc.items, tc.null)
		}
	}
}

func TestReadErrorIsReturnedForRetry(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	dp, err := compileDataPath(".items")
	if err != nil {
		t.Fatal(err)
	}
	r := io.MultiReader(strings.NewReader(`{"items":[{"a":1},`), &brokenReader{err: boom})
	_, b, err := dp.read(context.Background(), r, 100, nil)
	if !errors.Is(err, boom) || !isReadError(err) {
		t.Fatalf("err = %v, want the read error", err)
	}
	req := Request{Method: "GET", URL: "http://api/items"}
	if got := pageError(req, b, err); !errors.Is(got, boom) {
		t.Errorf("nothing handed on yet: pageError = %v, want the read error (retried)", got)
	}
	b.handedOn = 1
	if got := pageError(req, b, err); errors.Is(got, boom) || !strings.Contains(got.Error(), "after 1 items were handed on") {
		t.Errorf("items handed on: pageError = %v, want an error the client does not retry", got)
	}
}

type brokenReader struct{ err error }

func (f *brokenReader) Read([]byte) (int, error) { return 0, f.err }

// BenchmarkReadPage decodes a page of 100 items of about 1 KB with a plain
// data_path (streamed) and with a jq one (decoded whole).
func BenchmarkReadPage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"items": [`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"id": %d, "name": "item %d", "bio": %q}`, i, i, strings.Repeat("lorem ipsum ", 80))
	}
	sb.WriteString(`], "has_more": true}`)
	body := sb.String()
	for _, expr := range []string{".items", ".items | map(.)"} {
		dp, err := compileDataPath(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := dp.read(context.Background(), strings.NewReader(body), 100, func([]map[string]any) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
