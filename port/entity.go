package port

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Bulk limits Port enforces on POST .../entities/bulk.
const (
	MaxBulkEntities = 20
	MaxBodyBytes    = 1 << 20
	// bulkEnvelopeBytes is the size of {"entities":[]} around the items.
	bulkEnvelopeBytes = len(`{"entities":[]}`)
)

// WriteOptions are the query flags of an entity write, taken from the mapping.
type WriteOptions struct {
	Merge                        bool
	CreateMissingRelatedEntities bool
	// EventType and ResyncID tag the write as Ocean does
	// (ocean_info_event_type, ocean_info_resync_id).
	EventType string
	ResyncID  string
}

func (o WriteOptions) query() url.Values {
	q := url.Values{
		"upsert":                          {"true"},
		"merge":                           {strconv.FormatBool(o.Merge)},
		"create_missing_related_entities": {strconv.FormatBool(o.CreateMissingRelatedEntities)},
		"validation_only":                 {"false"},
	}
	if o.EventType != "" {
		q.Set("ocean_info_event_type", o.EventType)
	}
	if o.ResyncID != "" {
		q.Set("ocean_info_resync_id", o.ResyncID)
	}
	return q
}

// ItemResult is Port's answer for one entity of a bulk upsert.
type ItemResult struct {
	// Index is the entity's position in the slice given to UpsertEntities.
	Index int
	OK    bool
	// Identifier is the identifier Port resolved; "unknown" when a search
	// identifier matched nothing.
	Identifier string
	Created    bool
	// Status, Code and Message describe a failed item.
	Status  int
	Code    string
	Message string
}

// UpsertEntities writes pre-encoded entities of one blueprint with bulk
// requests (POST .../entities/bulk) and returns one result per entity, in
// index order. Batches are cut at MaxBulkEntities entities and
// MaxBodyBytes of encoded body; an entity too large to be sent alone gets
// a 413 result without a request, and when Port still answers 413 the
// batch is split in halves. Item failures (207) come back in the results,
// not as an error. An error (404 unknown blueprint, 422, retries spent, a
// cancelled context) stops at the batch it happened to: entities without
// a result were not written, or their outcome is unknown.
//
// The request is retried (upsert=true makes a replay give the same
// entities; a replayed item may then report created=false).
func (c *Client) UpsertEntities(ctx context.Context, blueprint string, entities []json.RawMessage, opts WriteOptions) ([]ItemResult, error) {
	results := make([]ItemResult, 0, len(entities))
	b := NewBatcher()
	start := 0
	send := func(batch []json.RawMessage) error {
		err := c.upsertBatch(ctx, blueprint, batch, start, opts, &results)
		start += len(batch)
		return err
	}
	var err error
	for i, e := range entities {
		if bulkEnvelopeBytes+len(e) > MaxBodyBytes {
			if b.Len() > 0 {
				if err = send(b.Flush()); err != nil {
					break
				}
			}
			results = append(results, tooLarge(i))
			start = i + 1
			continue
		}
		if full := b.Add(e); full != nil {
			if err = send(full); err != nil {
				break
			}
		}
	}
	if err == nil && b.Len() > 0 {
		err = send(b.Flush())
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Index < results[j].Index })
	return results, err
}

func tooLarge(index int) ItemResult {
	return ItemResult{Index: index, Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Message: "the entity alone is larger than Port's 1 MiB request limit"}
}

func (c *Client) upsertBatch(ctx context.Context, blueprint string, entities []json.RawMessage, offset int, opts WriteOptions, results *[]ItemResult) error {
	body := c.bodies.get(bulkEnvelopeBytes + len(entities) + sizeOf(entities))
	defer body.done()
	body.buf = append(body.buf, `{"entities":[`...)
	for i, e := range entities {
		if i > 0 {
			body.buf = append(body.buf, ',')
		}
		body.buf = append(body.buf, e...)
	}
	body.buf = append(body.buf, `]}`...)
	var out bulkResponse
	r := request{
		method:   http.MethodPost,
		path:     blueprintPath(blueprint) + "/entities/bulk",
		query:    opts.query(),
		shared:   body,
		entity:   true,
		write:    true,
		okStatus: []int{http.StatusOK, http.StatusCreated, http.StatusMultiStatus},
	}
	status, err := c.do(ctx, r, &out)
	if status == http.StatusRequestEntityTooLarge && err != nil {
		if len(entities) == 1 {
			*results = append(*results, tooLarge(offset))
			return nil
		}
		half := len(entities) / 2
		if err := c.upsertBatch(ctx, blueprint, entities[:half], offset, opts, results); err != nil {
			return err
		}
		return c.upsertBatch(ctx, blueprint, entities[half:], offset+half, opts, results)
	}
	if err != nil {
		return err
	}
	seen := make([]bool, len(entities))
	for _, e := range out.Entities {
		if e.Index < 0 || e.Index >= len(entities) || seen[e.Index] {
			continue
		}
		seen[e.Index] = true
		*results = append(*results, ItemResult{Index: offset + e.Index, OK: true, Identifier: e.Identifier, Created: e.Created})
	}
	for _, e := range out.Errors {
		if e.Index < 0 || e.Index >= len(entities) || seen[e.Index] {
			continue
		}
		seen[e.Index] = true
		*results = append(*results, ItemResult{Index: offset + e.Index, Identifier: e.Identifier, Status: e.StatusCode, Code: e.Error, Message: e.Message})
	}
	for i, ok := range seen {
		if !ok {
			*results = append(*results, ItemResult{Index: offset + i, Status: status, Code: "missing_result", Message: "Port returned no result for this entity"})
		}
	}
	return nil
}

// UpsertEntity writes one entity (POST /v1/blueprints/{bp}/entities) and
// returns it as Port stored it (with the resolved identifier) and whether
// it was created. Retried like UpsertEntities.
func (c *Client) UpsertEntity(ctx context.Context, blueprint string, entity json.RawMessage, opts WriteOptions) (map[string]any, bool, error) {
	var out struct {
		Entity map[string]any `json:"entity"`
	}
	r := request{method: http.MethodPost, path: blueprintPath(blueprint) + "/entities", query: opts.query(), rawBody: entity, entity: true, write: true}
	status, err := c.do(ctx, r, &out)
	if err != nil {
		return nil, false, err
	}
	return out.Entity, status == http.StatusCreated, nil
}

func sizeOf(entities []json.RawMessage) int {
	n := 0
	for _, e := range entities {
		n += len(e)
	}
	return n
}

// Batcher groups encoded entities into bulk requests that fit Port's limits.
type Batcher struct {
	MaxCount int
	MaxBytes int
	items    []json.RawMessage
	bytes    int
}

// NewBatcher returns a Batcher with Port's limits.
func NewBatcher() *Batcher { return &Batcher{MaxCount: MaxBulkEntities, MaxBytes: MaxBodyBytes} }

// Add appends e and returns a full batch to send when e does not fit beside
// the entities already held (the held ones are returned, e starts the next).
func (b *Batcher) Add(e json.RawMessage) (full []json.RawMessage) {
	size := len(e) + 1
	if len(b.items) > 0 && (len(b.items) >= b.MaxCount || bulkEnvelopeBytes+b.bytes+size > b.MaxBytes) {
		full = b.Flush()
	}
	if b.items == nil {
		b.items = make([]json.RawMessage, 0, min(max(b.MaxCount, 1), MaxBulkEntities))
	}
	b.items = append(b.items, e)
	b.bytes += size
	return full
}

// Flush returns the held entities and empties the batcher.
func (b *Batcher) Flush() []json.RawMessage {
	out := b.items
	b.items = nil
	b.bytes = 0
	return out
}

// Len is the number of entities held.
func (b *Batcher) Len() int { return len(b.items) }

// MaxBulkDelete is Port's limit of identifiers per bulk delete.
const MaxBulkDelete = 100

func (o WriteOptions) deleteQuery(deleteDependents bool) url.Values {
	q := url.Values{"delete_dependents": {strconv.FormatBool(deleteDependents)}}
	if o.EventType != "" {
		q.Set("ocean_info_event_type", o.EventType)
	}
	if o.ResyncID != "" {
		q.Set("ocean_info_resync_id", o.ResyncID)
	}
	return q
}

// DeleteEntities deletes entities of one blueprint with bulk deletes of at
// most MaxBulkDelete identifiers, and returns the identifiers Port
// actually deleted (ids Port did not have are not listed). Without
// deleteDependents, Port refuses a whole request (403 has_dependents) when
// one entity has dependents.
//
// It is retried: deleting twice leaves the same state. A replay after a
// lost answer does not list what the first attempt deleted, so the list
// may then be short.
func (c *Client) DeleteEntities(ctx context.Context, blueprint string, ids []string, deleteDependents bool, opts WriteOptions) ([]string, error) {
	deleted := []string{}
	for len(ids) > 0 {
		n := min(len(ids), MaxBulkDelete)
		var out struct {
			DeletedEntities []string `json:"deletedEntities"`
		}
		r := request{method: http.MethodPost, path: blueprintPath(blueprint) + "/bulk/entities/delete", query: opts.deleteQuery(deleteDependents),
			body: map[string]any{"entities": ids[:n]}, entity: true, write: true}
		if _, err := c.do(ctx, r, &out); err != nil {
			return deleted, err
		}
		deleted = append(deleted, out.DeletedEntities...)
		ids = ids[n:]
	}
	return deleted, nil
}

// DeleteEntity deletes one entity (DELETE /v1/blueprints/{bp}/entities/{id}).
// A missing entity is an error matching ErrNotFound.
func (c *Client) DeleteEntity(ctx context.Context, blueprint, id string, deleteDependents bool, opts WriteOptions) error {
	r := request{method: http.MethodDelete, path: blueprintPath(blueprint) + "/entities/" + url.PathEscape(id), query: opts.deleteQuery(deleteDependents), entity: true, write: true}
	_, err := c.do(ctx, r, nil)
	return err
}

// EntityRef names one entity.
type EntityRef struct {
	Identifier string `json:"identifier"`
	Blueprint  string `json:"blueprint"`
}

// ListOwnedEntities pages through the entities this integration wrote (by
// datasource) that were last updated before `before`, calling fn per page.
// A zero before lists all of them.
func (c *Client) ListOwnedEntities(ctx context.Context, before time.Time, pageSize int, fn func([]EntityRef) error) error {
	if pageSize <= 0 {
		pageSize = 5000
	}
	from := ""
	for {
		body := map[string]any{
			"datasource_prefix": c.DatasourcePrefix(),
			"datasource_suffix": c.DatasourceSuffix(),
			"limit":             pageSize,
		}
		if !before.IsZero() {
			body["before"] = before.UTC().Format(time.RFC3339Nano)
		}
		if from != "" {
			body["from"] = from
		}
		var out listingPage
		r := request{method: http.MethodPost, path: "/blueprints/entities/datasource-entities", body: body}
		if _, err := c.do(ctx, r, &out); err != nil {
			return err
		}
		if len(out.Entities) > 0 {
			if err := fn(out.Entities); err != nil {
				return err
			}
		}
		if out.Next == nil || *out.Next == "" || *out.Next == from {
			return nil
		}
		from = *out.Next
	}
}

// SearchEntities runs a search query across blueprints.
func (c *Client) SearchEntities(ctx context.Context, query map[string]any, include []string) ([]map[string]any, error) {
	q := url.Values{"exclude_calculated_properties": {"true"}}
	for _, f := range include {
		q.Add("include", f)
	}
	var out struct {
		Entities []map[string]any `json:"entities"`
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/entities/search", query: q, body: query}, &out); err != nil {
		return nil, err
	}
	return out.Entities, nil
}
