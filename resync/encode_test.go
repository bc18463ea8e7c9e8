package resync

import (
	"encoding/json"
	"math"
	"testing"
)

// appendJSON must give exactly encoding/json's bytes: entity hashes are
// computed from them.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, "", "plain", `quote " backslash \ slash /`, "html <a href='x'>&amp;</a>",
		"control \x00\x01\x1f\t\n\r", "unicode é 日本 🙂", "bad utf8 \xff\xfe end", "line\u2028para\u2029",
		0.0, math.Copysign(0, -1), 1.0, -42.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.123456789, math.MaxFloat64, math.SmallestNonzeroFloat64,
		json.Number("12.50"), []any{}, []any{1.0, "two", nil, []any{false}},
		map[string]any{}, map[string]any{"b": 1.0, "a": map[string]any{"z": "<", "y": []any{"x"}}, "é": "accent", "A": nil},
		map[string]any{"identifier": "p-1", "blueprint": "person", "properties": map[string]any{"age": 33.0, "bio": "lorem ipsum"},
			"relations": map[string]any{"dept": "d-0", "teams": []any{"t1", "t2"}, "search": map[string]any{"combinator": "and", "rules": []any{}}}},
		int64(7), 3, []string{"typed", "slice"},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendJSON(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
	if _, err := appendJSON(nil, map[string]any{"x": math.Inf(1)}); err == nil {
		t.Error("infinity encoded without error")
	}
}

// Strings are scanned eight bytes at a time: every position and kind of
// special byte must still be escaped as encoding/json does.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	specials := []byte{0, 0x1f, '"', '\\', '<', '>', '&', '\n', 0x7f, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xff, ' ', 'a'}
	r := uint64(1)
	next := func(n int) int {
		r = r*6364136223846793005 + 1442695040888963407
		return int(r>>33) % n
	}
	for range 5000 {
		n := next(40)
		b := make([]byte, n)
		for i := range b {
			if next(4) == 0 {
				b[i] = specials[next(len(specials))]
			} else {
				b[i] = byte('a' + next(26))
			}
		}
		want, _ := json.Marshal(string(b))
		if got := appendString(nil, string(b)); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", b, got, want)
		}
	}
}
