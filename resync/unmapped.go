package resync

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
		return k.taint("unmapped", fmt.Sprintf("an item of %s could not be mapped and may stand for one of its entities", k.rm.KindID()))
	}
	for _, e := range result.Entities {
		if id, ok := e.Identifier(); ok {
			k.j.seen.mark(store.EntityKey{Blueprint: e.Blueprint(), Identifier: id}, seenMark)
		}
	}
	return nil
}

// taint records that this resource could not say which entity an item
// stands for (an item it could not map or that gave no valid identifier, a
// blueprint none of whose upserts Port accepted): no blueprint the resource
// could have written is reconciled this chain. Those are the blueprints of
// its mapping (every blueprint, when one is computed from the item) and the
// blueprints the index says it wrote (a misspelled blueprint must not make
// the real one's entities look stale). cause says why, for the job record;
// the first cause of each category is recorded, once per kind.
func (k *kindRun) taint(category, cause string) error {
	k.taintMu.Lock()
	defer k.taintMu.Unlock()
	if k.tainted[category] {
		return nil
	}
	if k.owned == nil {
		indexed, err := k.j.st.ResourceBlueprints(k.rm.Index)
		if err != nil {
			return fmt.Errorf("read entity index: %w", err)
		}
		literal := literalBlueprints(k.rm.Resource)
		k.owned = append(indexed, literal...)
		k.ownedElsewhere = false
		for _, bp := range indexed {
			if !slices.Contains(literal, bp) {
				k.ownedElsewhere = true
			}
		}
	}
	entries := make([]store.SpoolEntry, 0, len(k.owned)+1)
	for _, bp := range k.owned {
		value := cause
		if bp == taintAll {
			value += ", and that resource's blueprint is computed from the item"
		}
		entries = append(entries, store.SpoolEntry{Key: []byte(bp), Value: []byte(value)})
	}
	if strings.HasPrefix(category, "refused ") && !k.ownedElsewhere {
		// The refused entities were meant for a blueprint the index does
		// not name (a lost state dir, a first resync after Ocean): it may
		// be any.
		entries = append(entries, store.SpoolEntry{Key: []byte(taintAll),
			Value: []byte(cause + ", and no index in this state dir says which blueprint the resource wrote before")})
	}
	if err := k.j.chainSpool.Put(setTaint, entries); err != nil {
		return fmt.Errorf("record why %s keeps its stale entities: %w", k.rm.KindID(), err)
	}
	if k.tainted == nil {
		k.tainted = map[string]bool{}
	}
	k.tainted[category] = true
	k.j.logger.Warn("stale entities of this resource's blueprints will not be deleted", "kind", k.rm.KindID(), "reason", cause)
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
