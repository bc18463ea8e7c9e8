package port

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The listing's own decoder must give what encoding/json gives, for every
// input: the usual answers it reads itself, anything else it hands over.
func FuzzListingDecode(f *testing.F) {
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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want listingPage
		wantErr := json.Unmarshal(data, &want)
		var got listingPage
		gotErr := got.decodeResponse(data)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: error %v, encoding/json %v", data, gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		if len(got.Entities) != len(want.Entities) || (len(want.Entities) > 0 && !reflect.DeepEqual(got.Entities, want.Entities)) {
			t.Fatalf("%q: entities %v, encoding/json %v", data, got.Entities, want.Entities)
		}
		if (got.Next == nil) != (want.Next == nil) || (got.Next != nil && *got.Next != *want.Next) {
			t.Fatalf("%q: next %v, encoding/json %v", data, got.Next, want.Next)
		}
	})
}

// The fast path must take the emulator's (and Port's usual) answers: a
// fallback there would cost the time it exists to save.
func TestListingDecodeTakesUsualAnswers(t *testing.T) {
	data := []byte(`{"entities":[{"blueprint":"svc","identifier":"a-1"},{"blueprint":"team","identifier":"b_2"}],"next":"Y3Vyc29y","ok":true}` + "\n")
	var p listingPage
	if !(&listingScanner{b: data}).page(&p) {
		t.Fatal("fast path refused a usual answer")
	}
	want := []EntityRef{{Identifier: "a-1", Blueprint: "svc"}, {Identifier: "b_2", Blueprint: "team"}}
	if !reflect.DeepEqual(p.Entities, want) || p.Next == nil || *p.Next != "Y3Vyc29y" {
		t.Fatalf("got %+v next %v", p.Entities, p.Next)
	}
}
