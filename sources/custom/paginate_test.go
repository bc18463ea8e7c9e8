package custom

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestPaginationStopRules(t *testing.T) {
	t.Parallel()
	type routes func(a *fakeAPI)
	cases := []struct {
		name     string
		typ      string
		settings func(*Settings)
		sel      map[string]any
		routes   routes
		want     []string // ids, in order
		requests []string // request URIs, in order
		err      string   // a substring of the error, if one is expected
	}{
		{
			name: "none: one request with query_params",
			typ:  PaginationNone,
			sel:  map[string]any{"data_path": ".items", "query_params": map[string]any{"active": "true", "n": 5.0}},
			routes: func(a *fakeAPI) {
				a.json("/items", map[string]any{"items": idObjects(1, 2, 3), "has_more": true})
			},
			want:     []string{"1", "2", "3"},
			requests: []string{"GET /items?active=true&n=5"},
		},
		{
			name: "offset: wrapped, no has-more field: stops on the empty page",
			typ:  PaginationOffset,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "offset", map[string]any{
					"0": map[string]any{"items": idObjects(1, 2)},
					"2": map[string]any{"items": idObjects(3, 4)},
					"4": map[string]any{"items": []any{}},
				})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?limit=2&offset=0", "GET /items?limit=2&offset=2", "GET /items?limit=2&offset=4"},
		},
		{
			name: "offset: bare list stops when fewer than pageSize",
			typ:  PaginationOffset,
			routes: func(a *fakeAPI) {
				a.pages("/items", "offset", map[string]any{"0": idObjects(1, 2), "2": idObjects(3)})
			},
			want:     []string{"1", "2", "3"},
			requests: []string{"GET /items?limit=2&offset=0", "GET /items?limit=2&offset=2"},
		},
		{
			name: "offset: has_more false stops; Jira-like parameter names",
			typ:  PaginationOffset,
			settings: func(s *Settings) {
				s.PaginationParam, s.SizeParam, s.HasMorePath = "startAt", "maxResults", "meta.more"
			},
			sel: map[string]any{"data_path": ".issues"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "startAt", map[string]any{
					"0": map[string]any{"issues": idObjects(1, 2), "meta": map[string]any{"more": true}},
					"2": map[string]any{"issues": idObjects(3, 4), "meta": map[string]any{"more": false}},
				})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?maxResults=2&startAt=0", "GET /items?maxResults=2&startAt=2"},
		},
		{
			name: "page: lastPagePath",
			typ:  PaginationPage,
			settings: func(s *Settings) {
				s.LastPagePath = "last"
			},
			sel: map[string]any{"data_path": ".data"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "page", map[string]any{
					"1": map[string]any{"data": idObjects(1, 2), "last": false},
					"2": map[string]any{"data": idObjects(3, 4), "last": true},
				})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?page=1&size=2", "GET /items?page=2&size=2"},
		},
		{
			name: "page: next_page null stops (Ocean's default fields), startPage 0",
			typ:  PaginationPage,
			settings: func(s *Settings) {
				s.StartPage = 0
			},
			sel: map[string]any{"data_path": ".data"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "page", map[string]any{
					"0": map[string]any{"data": idObjects(1, 2), "next_page": 1},
					"1": map[string]any{"data": idObjects(3, 4), "next_page": nil},
				})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?page=0&size=2", "GET /items?page=1&size=2"},
		},
		{
			name: "page: bare list, full last page: the empty page ends it",
			typ:  PaginationPage,
			routes: func(a *fakeAPI) {
				a.pages("/items", "page", map[string]any{"1": idObjects(1, 2), "2": idObjects(3, 4), "3": []any{}})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?page=1&size=2", "GET /items?page=2&size=2", "GET /items?page=3&size=2"},
		},
		{
			name: "cursor: no has-more field, decided from the cursor",
			typ:  PaginationCursor,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":   map[string]any{"items": idObjects(1, 2), "next_cursor": "c2"},
					"c2": map[string]any{"items": idObjects(3, 4), "next_cursor": ""},
				})
			},
			want:     []string{"1", "2", "3", "4"},
			requests: []string{"GET /items?limit=2", "GET /items?cursor=c2&limit=2"},
		},
		{
			name: "cursor: has_more false stops although a cursor is there",
			typ:  PaginationCursor,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":   map[string]any{"items": idObjects(1, 2), "next_cursor": "c2", "has_more": true},
					"c2": map[string]any{"items": idObjects(3), "next_cursor": "c3", "has_more": false},
				})
			},
			want:     []string{"1", "2", "3"},
			requests: []string{"GET /items?limit=2", "GET /items?cursor=c2&limit=2"},
		},
		{
			name: "cursor: Slack shape (fixture), cursorPath response_metadata.next_cursor",
			typ:  PaginationCursor,
			settings: func(s *Settings) {
				s.CursorPath = "response_metadata.next_cursor"
			},
			sel: map[string]any{"data_path": ".members"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":             apiFixture(t, "slack-cursor/page1.json"),
					"dXNlcjpVMDM=": apiFixture(t, "slack-cursor/page2.json"),
				})
			},
			want:     []string{"U01", "U02", "U03"},
			requests: []string{"GET /items?limit=2", "GET /items?cursor=dXNlcjpVMDM%3D&limit=2"},
		},
		{
			name: "cursor: HubSpot shape, has_more_path absent on the last page",
			typ:  PaginationCursor,
			settings: func(s *Settings) {
				s.PaginationParam, s.CursorPath, s.HasMorePath = "after", "paging.next.after", "paging.next"
			},
			sel: map[string]any{"data_path": ".results"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "after", map[string]any{
					"":  map[string]any{"results": idObjects(1, 2), "paging": map[string]any{"next": map[string]any{"after": "2"}}},
					"2": map[string]any{"results": idObjects(3)},
				})
			},
			want:     []string{"1", "2", "3"},
			requests: []string{"GET /items?limit=2", "GET /items?after=2&limit=2"},
		},
		{
			name: "cursor: bare list stops after the first page",
			typ:  PaginationCursor,
			routes: func(a *fakeAPI) {
				a.json("/items", idObjects(1, 2))
			},
			want:     []string{"1", "2"},
			requests: []string{"GET /items?limit=2"},
		},
		{
			name: "cursor: a repeated cursor is an error",
			typ:  PaginationCursor,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":  map[string]any{"items": idObjects(1, 2), "next_cursor": "a"},
					"a": map[string]any{"items": idObjects(3, 4), "next_cursor": "b"},
					"b": map[string]any{"items": idObjects(5, 6), "next_cursor": "a"},
				})
			},
			err: "/items?cursor=b&limit=2: the API returned a cursor it already returned",
		},
		{
			name: "next_link: OData, relative link resolved against baseUrl, its query kept and query_params not re-added",
			typ:  PaginationNextLink,
			settings: func(s *Settings) {
				s.BaseURL = s.BaseURL.JoinPath("v1.0")
			},
			sel: map[string]any{"data_path": ".value", "query_params": map[string]any{"$top": "2"}},
			routes: func(a *fakeAPI) {
				a.route("/v1.0/users", func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("$skiptoken") == "X2" {
						answerJSON(w, apiFixture(t, "odata/page2.json"))
						return
					}
					answerJSON(w, apiFixture(t, "odata/page1.json"))
				})
			},
			want:     []string{"1", "2", "3"},
			requests: []string{"GET /v1.0/users?%24top=2", "GET /v1.0/users?$skiptoken=X2"},
		},
		{
			name: "next_link: dotted nextLinkPath, absolute URL, repeated URL is an error",
			typ:  PaginationNextLink,
			settings: func(s *Settings) {
				s.NextLinkPath = "links.next"
			},
			sel: map[string]any{"data_path": ".data"},
			routes: func(a *fakeAPI) {
				a.route("/items", func(w http.ResponseWriter, r *http.Request) {
					next := "http://" + r.Host + "/items?page=2"
					if r.URL.Query().Get("page") == "2" {
						answerJSON(w, map[string]any{"data": idObjects(3), "links": map[string]any{"next": "/items?page=2"}})
						return
					}
					answerJSON(w, map[string]any{"data": idObjects(1, 2), "links": map[string]any{"next": next}})
				})
			},
			err: "the API returned a next URL already requested",
		},
		{
			name: "header_link: several rels, quoted params, relative URL",
			typ:  PaginationHeaderLink,
			sel:  map[string]any{"query_params": map[string]any{"per_page": 2}},
			routes: func(a *fakeAPI) {
				a.route("/repos", func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Query().Get("page") {
					case "":
						w.Header().Add("Link", `</repos?page=2&per_page=2>; rel="next"; title="a, b; c", </repos?page=3&per_page=2>; rel="last"`)
						answerJSON(w, idObjects(1, 2))
					case "2":
						w.Header().Add("Link", `</repos?page=1&per_page=2>; rel="prev first"`)
						w.Header().Add("Link", `<?page=3&per_page=2>; rel="next"`)
						answerJSON(w, idObjects(3, 4))
					default:
						w.Header().Add("Link", `</repos?page=2&per_page=2>; rel="prev"`)
						answerJSON(w, idObjects(5))
					}
				})
			},
			want:     []string{"1", "2", "3", "4", "5"},
			requests: []string{"GET /repos?per_page=2", "GET /repos?page=2&per_page=2", "GET /repos?page=3&per_page=2"},
		},
		{
			name: "an identical page is an error naming the URL",
			typ:  PaginationPage,
			routes: func(a *fakeAPI) {
				a.json("/items", idObjects(1, 2)) // ignores page
			},
			err: "/items?page=2&size=2: page 2 is identical to page 1",
		},
		{
			name: "maxPages reached is an error",
			typ:  PaginationOffset,
			settings: func(s *Settings) {
				s.MaxPages = 3
			},
			sel: map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.route("/items", func(w http.ResponseWriter, r *http.Request) {
					answerJSON(w, map[string]any{"items": []any{map[string]any{"id": r.URL.Query().Get("offset")}}, "has_more": true})
				})
			},
			err: "stopped after maxPages=3 pages at URL ",
		},
		{
			name: "data_path null on the first page is an error",
			typ:  PaginationNone,
			sel:  map[string]any{"data_path": ".itmes"},
			routes: func(a *fakeAPI) {
				a.json("/items", map[string]any{"items": idObjects(1)})
			},
			err: "data_path .itmes gave null",
		},
		{
			name: "data_path null on a later page that ends the walk is the end",
			typ:  PaginationCursor,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":  map[string]any{"items": idObjects(1, 2), "cursor": "b"},
					"b": map[string]any{"items": nil},
				})
			},
			want:     []string{"1", "2"},
			requests: []string{"GET /items?limit=2", "GET /items?cursor=b&limit=2"},
		},
		{
			name: "data_path null while the API says more pages follow is an error",
			typ:  PaginationCursor,
			sel:  map[string]any{"data_path": ".items"},
			routes: func(a *fakeAPI) {
				a.pages("/items", "cursor", map[string]any{
					"":  map[string]any{"items": idObjects(1, 2), "cursor": "b"},
					"b": map[string]any{"items": nil, "cursor": "c"},
				})
			},
			err: "gave null on page 2, yet the API says more pages follow",
		},
		{
			name: "a scalar at data_path is an error",
			typ:  PaginationNone,
			sel:  map[string]any{"data_path": ".count"},
			routes: func(a *fakeAPI) {
				a.json("/items", map[string]any{"count": 3})
			},
			err: "data_path .count gave a number, not a list or an object",
		},
		{
			name: "an object at data_path is one item; a jq data_path",
			typ:  PaginationNone,
			sel:  map[string]any{"data_path": ".data | .owner"},
			routes: func(a *fakeAPI) {
				a.json("/items", map[string]any{"data": map[string]any{"owner": map[string]any{"id": "o1"}}})
			},
			want:     []string{"o1"},
			requests: []string{"GET /items"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeAPI(t)
			tc.routes(a)
			s := a.settings(tc.typ)
			if tc.settings != nil {
				tc.settings(&s)
			}
			kind := "/items"
			for path := range a.routes {
				kind = strings.TrimPrefix(path, strings.TrimSuffix(s.BaseURL.Path, "/"))
			}
			items, _, err := fetchKind(t, a.source(s), kind, tc.sel)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), "kind "+kind) {
					t.Errorf("err = %v, does not name the kind", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := itemIDs(items); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("items = %v, want %v", got, tc.want)
			}
			if got := a.requests(); !reflect.DeepEqual(got, tc.requests) {
				t.Errorf("requests:\n%q\nwant\n%q", got, tc.requests)
			}
		})
	}
}
