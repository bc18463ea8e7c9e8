package resync

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"oceand/mapping"
	"oceand/store"
)

// protectUnmapped handles an item the mapping could not judge (its selector
// or itemsToParse failed). The entity it stands for must not be deleted as
// stale: the item is mapped again with its selector forced to true, and the
// entities that come out are recorded as produced. When even that fails,
// the resource's blueprints are tainted: reconciliation deletes nothing
// there.
func (k *kindRun) protectUnmapped(ctx context.Context, item map[string]any) error {
	k.protectOnce.Do(func() {
		cfg := *k.j.cfg
		res := k.rm.Resource
		raw := make(map[string]any, len(res.Selector.Raw)+1)
		for key, v := range res.Selector.Raw {
			raw[key] = v
		}
		raw["query"] = "true"
		res.Selector = mapping.Selector{Query: "true", Raw: raw}
		cfg.Resources = []mapping.Resource{res}
		m, err := mapping.Compile(&cfg, k.j.r.cfg.Mapping)
		if err != nil {
			k.protectErr = err
			return
		}
		k.protect = m.Resources()[0]
	})
	var result mapping.Result
	err := k.protectErr
	if err == nil {
		result, err = k.protect.Map(ctx, item)
	}
	if err != nil {
		return k.taint()
	}
	for _, e := range result.Entities {
		if id, ok := e.Identifier(); ok {
			k.j.seen.mark(store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}, seenMark)
		}
	}
	return nil
}

// taint records that this resource failed to map an item whose entity is
// unknown: its blueprints keep their stale entities this chain.
func (k *kindRun) taint() error {
	var entries []store.SpoolEntry
	for _, bp := range literalBlueprints(k.rm.Resource) {
		entries = append(entries, store.SpoolEntry{Key: []byte(bp), Value: []byte(k.rm.KindID())})
	}
	if err := k.j.chainSpool.Put(setTaint, entries); err != nil {
		return fmt.Errorf("record unmapped item: %w", err)
	}
	return nil
}

// literalBlueprints returns the blueprints a resource maps to when they are
// jq string literals (the usual '"service"'), or taintAll when any is
// computed from the item.
func literalBlueprints(r mapping.Resource) []string {
	var out []string
	for _, m := range r.Port.Entity.Mappings {
		var bp string
		if err := json.Unmarshal([]byte(strings.TrimSpace(m.Blueprint)), &bp); err != nil || bp == "" {
			return []string{taintAll}
		}
		out = append(out, bp)
	}
	return out
}
