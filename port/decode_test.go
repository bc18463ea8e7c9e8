package port

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The answers' own decoders must give what encoding/json gives, for every
// input: the usual answers they read themselves, anything else they hand
// over.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"entities":[{"blueprint":"svc","identifier":"a"},{"blueprint":"svc","identifier":"b"}],"next":"YQ","ok":true}`,
		`{"ok":true,"entities":[],"next":null}`,
		`{"ok": true, "entities": [ {"identifier": "x", "blueprint": "b", "title": "T", "properties": {"n": [1, 2.5e3, -0.1, null, true, {"k": "v"}]}} ], "next": null}`,
		`{"entities":null}`,
		`{}`,
		`{"entities":[{"identifier":"é","blueprint":"b"}]}`,
		`{"entities":[{"identifier":"a\"b","blueprint":"b"}]}`,
		`{"entities":[{"Identifier":"a","blueprint":"b"}]}`,
		`{"entities":[{"identifier":"a","identifier":"c","blueprint":"b"}]}`,
		`{"entities":[{"identifier":"a"}],"entities":[{"identifier":"c"}]}`,
		`{"entities":[{"identifier":1,"blueprint":"b"}]}`,
		`{"entities":[null]}`,
		`{"entities":[{"identifier":"a","blueprint":"b"}],"next":"c",}`,
		`{"entities":[{"identifier":"a","blueprint":"b"}] "next":"c"}`,
		`{"ok":tru}`,
		`{"ok":01}`,
		`{"x":[1 2]}`,
		`[]`,
		``,
		`{"entities":[{"identifier":"a","blueprint":"b"}]} x`,
		`{"entities":[{"created":true,"identifier":"p-1","index":0},{"created":false,"identifier":"p-2","index":1}],"errors":[],"ok":true}`,
		`{"entities":[],"errors":[{"error":"not_found","identifier":"x","index":3,"message":"no such blueprint","statusCode":404}],"ok":false}`,
		`{"entities":[{"identifier":"a","index":1.0}]}`,
		`{"entities":[{"identifier":"a","index":-0}]}`,
		`{"entities":[{"identifier":"a","index":12345678901}]}`,
		`{"entities":[{"identifier":"a","index":1e2}]}`,
		`{"entities":[{"identifier":"a","created":null}]}`,
		`{"errors":[{"statusCode":"404"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, pair := range []struct{ want, got any }{
			{&listingPage{}, &listingPage{}},
			{&bulkResponse{}, &bulkResponse{}},
		} {
			wantErr := json.Unmarshal(data, pair.want)
			gotErr := pair.got.(responseDecoder).decodeResponse(data)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%T %q: error %v, encoding/json %v", pair.got, data, gotErr, wantErr)
			}
			if wantErr == nil && !sameAnswer(pair.got, pair.want) {
				t.Fatalf("%T %q: got %+v, encoding/json %+v", pair.got, data, pair.got, pair.want)
			}
		}
	})
}

// sameAnswer compares decoded answers, an empty list equal to an empty one.
func sameAnswer(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// The fast paths must take the emulator's (and Port's usual) answers: a
// fallback there would cost the time they exist to save.
func TestDecodersTakeUsualAnswers(t *testing.T) {
	listing := []byte(`{"entities":[{"blueprint":"svc","identifier":"a-1"},{"blueprint":"team","identifier":"b_2"}],"next":"Y3Vyc29y","ok":true}` + "\n")
	var p listingPage
	if !(&scanner{b: listing}).listing(&p) {
		t.Fatal("fast path refused a usual listing")
	}
	want := []EntityRef{{Identifier: "a-1", Blueprint: "svc"}, {Identifier: "b_2", Blueprint: "team"}}
	if !reflect.DeepEqual(p.Entities, want) || p.Next == nil || *p.Next != "Y3Vyc29y" {
		t.Fatalf("listing %+v next %v", p.Entities, p.Next)
	}
	bulk := []byte(`{"entities":[{"created":true,"identifier":"p-1","index":0}],"errors":[{"error":"invalid_request","identifier":"p-2","index":1,"message":"bad property","statusCode":422}],"ok":false}` + "\n")
	var r bulkResponse
	if !(&scanner{b: bulk}).bulk(&r) {
		t.Fatal("fast path refused a usual bulk answer")
	}
	if len(r.Entities) != 1 || r.Entities[0] != (bulkEntity{Identifier: "p-1", Index: 0, Created: true}) ||
		len(r.Errors) != 1 || r.Errors[0] != (bulkError{Identifier: "p-2", Index: 1, StatusCode: 422, Error: "invalid_request", Message: "bad property"}) {
		t.Fatalf("bulk %+v", r)
	}
}
