package custom

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// jsonSamples have corners: escapes (also split across reads), surrogate
// pairs, invalid UTF-8 (replaced by U+FFFD), numbers kept as written,
// empty and nested containers, a repeated key (the last wins), and bad
// input of each kind.
var jsonSamples = []string{
	`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, `"x"`, `42`, `-0.5e+10`, `null`, `true`, `false`,
	`{"id": 1, "n": -0.5e+10, "big": 12345678901234567890, "f": false, "t": true, "z": null}`,
	`{"s": "plain", "e": "tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00 \u0000 \\\\", "u": "héllo wörld 日本"}`,
	"{\"bad\": \"\xff\xfe invalid \xc3\"}",
	`{"k": 1, "k": 2}`,
	` { "items" : [ { "a" : [ 1 , [ 2 , { } ] ] } , "x" ] , "has_more": true } `,
	`{"": ""}`,
	`{"a":1}{"b":2}`, `[1,2] x`, "truex", "1 2", `"a"x`, "[1]x", "1.5x", `{"a":"b\\` + "\\\\" + `"}`,
	// Bad input.
	``, `{`, `{"a"`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`, `tru`, `nul`, `01`, `1.`, `-`, `1e`, `.5`, `+1`,
	`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\nb\"", `"abc`, `]`, `}`, `{"a":1]`, `[1}`,
}

// decodeAll decodes every top-level value, then the error at the end
// (io.EOF when there is none).
func decodeAll(next func(*any) error) ([]any, error) {
	var out []any
	for {
		var v any
		if err := next(&v); err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func stdDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

func sameOutcome(t *testing.T, in string, got, want []any, gotErr, wantErr error) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q:\n got %#v\nwant %#v", in, got, want)
	}
	if (gotErr == io.EOF) != (wantErr == io.EOF) {
		t.Errorf("%q: error %v, encoding/json's %v", in, gotErr, wantErr)
	}
	if gotErr != io.EOF && syntaxErr(gotErr) != nil && !errors.Is(syntaxErr(gotErr), errNotJSON) {
		t.Errorf("%q: error %v does not say the answer is not JSON", in, gotErr)
	}
}

// TestJSONStreamMatchesEncodingJSON checks values and errors against
// encoding/json with UseNumber, whole values and token by token, with
// the input read at once and a byte at a time.
func TestJSONStreamMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range jsonSamples {
		checkJSONStream(t, []byte(in))
	}
}

func checkJSONStream(t *testing.T, in []byte) {
	t.Helper()
	std := stdDecoder(bytes.NewReader(in))
	want, wantErr := decodeAll(func(v *any) error { return std.Decode(v) })
	wantToks, wantTokErr := tokens(stdDecoder(bytes.NewReader(in)))
	for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
		s := newJSONStream(r)
		got, gotErr := decodeAll(s.Decode)
		sameOutcome(t, string(in), got, want, gotErr, wantErr)
	}
	for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
		got, gotErr := tokens(newJSONStream(r))
		sameOutcome(t, string(in), got, wantToks, gotErr, wantTokErr)
	}
}

type tokenReader interface {
	Token() (json.Token, error)
	More() bool
}

// tokens walks in with Token and More as the data_path stream does.
func tokens(dec tokenReader) ([]any, error) {
	var out []any
	for {
		tok, err := dec.Token()
		if err != nil {
			return out, err
		}
		out = append(out, tok, dec.More())
	}
}

// TestJSONStreamReadErrorAsIs checks that a read error mid-page is
// returned as it is (the client retries it), not as bad JSON.
func TestJSONStreamReadErrorAsIs(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, prefix := range []string{`{"items":[{"a":"abc`, `{"items":[1`, `{"items":[tr`, `{"items":`} {
		s := newJSONStream(io.MultiReader(bytes.NewReader([]byte(prefix)), iotest.ErrReader(boom)))
		var v any
		if err := s.Decode(&v); !errors.Is(err, boom) {
			t.Errorf("%q then a read error: %v, want the read error", prefix, err)
		}
	}
}

func FuzzJSONStream(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkJSONStream(t, in)
	})
}

// BenchmarkDecodeItems compares the page decoders on 100 items of 1 KiB.
func BenchmarkDecodeItems(b *testing.B) {
	var page bytes.Buffer
	page.WriteString(`[`)
	for i := range 100 {
		if i > 0 {
			page.WriteString(",")
		}
		item, err := json.Marshal(map[string]any{"id": i, "name": "person", "age": 42, "department": map[string]any{"id": "hr", "name": "HR"}, "bio": string(bytes.Repeat([]byte("lorem ipsum "), 80))})
		if err != nil {
			b.Fatal(err)
		}
		page.Write(item)
	}
	page.WriteString(`]`)
	for name, decode := range map[string]func(io.Reader) error{
		"encoding-json": func(r io.Reader) error { var v any; return stdDecoder(r).Decode(&v) },
		"jsonStream":    func(r io.Reader) error { var v any; return newJSONStream(r).Decode(&v) },
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(page.Len()))
			for b.Loop() {
				if err := decode(bytes.NewReader(page.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
