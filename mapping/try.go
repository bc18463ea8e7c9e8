package mapping

import (
	"context"
	"errors"
)

// Trial is what a mapping makes of sample items, resource by resource: what
// `oceand mapping test` prints and the golden tests record.
type Trial struct {
	Resources []ResourceTrial `json:"resources"`
}

// ResourceTrial is one resource's share of a Trial.
type ResourceTrial struct {
	Index  int         `json:"index"`
	Kind   string      `json:"kind"`
	KindID string      `json:"kindId"`
	Items  []ItemTrial `json:"items"`
	Totals TrialTotals `json:"totals"`
}

// ItemTrial is what one sample item became. Error is set for an item the
// mapping could not judge (an *ItemError); Skipped marks an item Ocean
// would skip with a warning.
type ItemTrial struct {
	Item              int                `json:"item"`
	Entities          []Entity           `json:"entities,omitempty"`
	Filtered          int                `json:"filtered,omitempty"`
	Dropped           int                `json:"dropped,omitempty"`
	Skipped           int                `json:"skipped,omitempty"`
	Misconfigurations []Misconfiguration `json:"misconfigurations,omitempty"`
	Error             string             `json:"error,omitempty"`
}

// TrialTotals sums a resource's items.
type TrialTotals struct {
	Items             int `json:"items"`
	Entities          int `json:"entities"`
	Filtered          int `json:"filtered"`
	Dropped           int `json:"dropped"`
	Skipped           int `json:"skipped"`
	Failed            int `json:"failed"`
	Misconfigurations int `json:"misconfigurations"`
}

// Try maps items with every resource whose kind is kind (every resource
// when kind is ""), as a resync would. It stops only when ctx ends.
func (m *Mapping) Try(ctx context.Context, kind string, items []any) (Trial, error) {
	t := Trial{Resources: []ResourceTrial{}}
	for _, rm := range m.resources {
		if kind != "" && rm.Resource.Kind != kind {
			continue
		}
		rt, err := rm.Try(ctx, items)
		if err != nil {
			return t, err
		}
		t.Resources = append(t.Resources, rt)
	}
	return t, nil
}

// Try maps items with this resource alone, as a resync would.
func (rm *ResourceMapper) Try(ctx context.Context, items []any) (ResourceTrial, error) {
	rt := ResourceTrial{Index: rm.Index, Kind: rm.Resource.Kind, KindID: rm.KindID(), Items: []ItemTrial{}}
	for i, item := range items {
		res, err := rm.Map(ctx, item)
		if err := ctx.Err(); err != nil {
			return rt, context.Cause(ctx)
		}
		it := ItemTrial{Item: i, Entities: res.Entities, Filtered: res.Filtered, Dropped: res.Dropped,
			Skipped: res.Skipped, Misconfigurations: res.Misconfigurations}
		var ie *ItemError
		if errors.As(err, &ie) && ie.Skipped {
			it.Skipped++
		}
		if err != nil {
			it.Error = err.Error()
			rt.Totals.Failed++
		}
		rt.Totals.Items++
		rt.Totals.Entities += len(it.Entities)
		rt.Totals.Filtered += it.Filtered
		rt.Totals.Dropped += it.Dropped
		rt.Totals.Skipped += it.Skipped
		rt.Totals.Misconfigurations += len(it.Misconfigurations)
		rt.Items = append(rt.Items, it)
	}
	return rt, nil
}
