package custom

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// itemSamples are items whose decoding has corners: escapes, surrogate
// pairs, invalid UTF-8 (replaced by U+FFFD), numbers kept as written,
// empty and nested containers, a repeated key (the last wins).
var itemSamples = []string{
	`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, `"x"`, `42`, `null`, `true`,
	`{"id": 1, "n": -0.5e+10, "big": 12345678901234567890, "f": false, "t": true, "z": null}`,
	`{"s": "plain", "e": "tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00 \u0000", "u": "héllo wörld 日本"}`,
	"{\"bad\": \"\xff\xfe invalid \xc3\"}",
	`{"k": 1, "k": 2}`,
	` { "deep" : [ { "a" : [ 1 , [ 2 , { } ] ] } , "x" ] } `,
	`{"": ""}`,
}

func decodeWithStdlib(t testing.TB, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return v
}

func decodeWithItemDecoder(t testing.TB, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var d itemDecoder
	v, err := d.next(dec)
	if err != nil {
		t.Fatalf("itemDecoder: %v", err)
	}
	return v
}

// TestItemDecoderMatchesEncodingJSON checks that items decode to exactly
// what encoding/json with UseNumber gives.
func TestItemDecoderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range itemSamples {
		want := decodeWithStdlib(t, []byte(s))
		got := decodeWithItemDecoder(t, []byte(s))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", s, got, want)
		}
	}
}

func FuzzItemDecoder(f *testing.F) {
	for _, s := range itemSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		want := decodeWithStdlib(t, data)
		got := decodeWithItemDecoder(t, data)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", data, got, want)
		}
	})
}
