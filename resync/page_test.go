package resync

import (
	"reflect"
	"testing"

	"oceand/store"
)

func TestItemPagesRoundTrip(t *testing.T) {
	t.Parallel()
	salt := []byte("salt-1")
	items := []*pageItem{
		{hash: store.EntityHash{1}, entities: []pageEntity{{key: store.EntityKey{Blueprint: "person", Identifier: "p-1"},
			targets: []relationTarget{{set: targetsPrefix + "person\x00dept", id: "hr"}}}}},
		nil, // not cacheable: skipped
		{hash: store.EntityHash{2}, filtered: 1},
		{hash: store.EntityHash{3}, entities: []pageEntity{
			{key: store.EntityKey{Blueprint: "person", Identifier: "p-3"}},
			{key: store.EntityKey{Blueprint: "team", Identifier: "t/3 é"}},
		}},
	}
	data := encodePage(salt, items)
	got := decodePage(salt, data)
	if len(got) != 3 {
		t.Fatalf("decoded %d items, want 3", len(got))
	}
	for _, want := range []*pageItem{items[0], items[2], items[3]} {
		if !reflect.DeepEqual(got[want.hash], want) {
			t.Errorf("item %x = %+v, want %+v", want.hash[0], got[want.hash], want)
		}
	}
	if decodePage([]byte("salt-2"), data) != nil {
		t.Error("a page written for another mapping was used")
	}
	for cut := 1; cut < len(data); cut += 7 {
		if p := decodePage(salt, data[:cut]); p != nil && len(p) == 3 {
			t.Errorf("a page cut at %d bytes decoded whole", cut)
		}
	}
	if decodePage(salt, []byte{0xff, 0xff, 0xff}) != nil {
		t.Error("garbage decoded")
	}
}
