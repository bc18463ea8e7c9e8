package resync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"oceand/port"
	"oceand/store"
)

// Job spool sets.
const (
	// stalePrefix + blueprint: identifiers Port listed that this chain did
	// not produce.
	stalePrefix = "stale\x00"
	// setListed: every listed entity (key entityKey) of the blueprints
	// where entities the index expects in Port are missing.
	setListed = "listed"
)

// deleteBatch is how many identifiers one bulk delete carries (Ocean's
// min(delete_entities_max_batch_size, 100)).
const deleteBatch = 100

// blueprintCounts are one blueprint's figures during reconciliation.
type blueprintCounts struct {
	listed         int64 // listed by Port (owned, updated before the chain began)
	listedSeen     int64 // ... and produced by this chain
	listedExpected int64 // ... and skipped as unchanged: the index says Port has them
	seen           int64 // produced by this chain (written, unchanged or failed)
	expected       int64 // skipped as unchanged by this chain
	indexed        int64 // produced by this chain and in the index
}

// reconcile deletes what Port holds for this integration and the source no
// longer has (DESIGN §6 step 5). It runs only when every kind completed:
//
//  1. Port's listing of owned entities last updated before the chain began
//     is walked; listed entities this chain produced (written, skipped as
//     unchanged, or failed to write) are kept, the rest are spooled as
//     stale.
//  2. Entities this chain skipped as unchanged must all have been listed;
//     when a blueprint's counts disagree, the missing ones are found and
//     written again (their resources are fetched once more).
//  3. Per blueprint: nothing is deleted when a resource that could have
//     written it could not tell which entity an item stands for (an item
//     it could not map or that gave no valid identifier or blueprint, a
//     blueprint none of whose upserts Port accepted), or when the stale
//     share of what the integration owned there before this chain (Port's
//     listing: Ocean's deletion rate) exceeds entityDeletionThreshold.
//  4. Stale entities that kept entities relate to are protected; the rest
//     are deleted in bulk (dependents' blueprints first without
//     deleteDependentEntities) and leave the index.
func (j *jobRun) reconcile(ctx context.Context) error {
	started := j.r.now().UTC()
	if err := j.rep.Update(func(jb *store.Job) {
		jb.Reconcile = store.Reconcile{State: store.ReconcileRunning, StartedAt: started}
	}); err != nil {
		return err
	}
	counts := map[string]*blueprintCounts{}
	get := func(bp string) *blueprintCounts {
		c := counts[bp]
		if c == nil {
			c = &blueprintCounts{}
			counts[bp] = c
		}
		return c
	}
	var listed int64
	err := j.r.cfg.Port.ListOwnedEntities(ctx, j.before, j.r.cfg.ListPageSize, func(refs []port.EntityRef) error {
		stale := map[string][]store.SpoolEntry{}
		for _, ref := range refs {
			c := get(ref.Blueprint)
			c.listed++
			listed++
			marks := j.seen.get(store.EntityKey{Blueprint: ref.Blueprint, Identifier: ref.Identifier})
			if marks != 0 {
				c.listedSeen++
				if expected(marks) {
					c.listedExpected++
				}
				continue
			}
			stale[ref.Blueprint] = append(stale[ref.Blueprint], store.SpoolEntry{Key: []byte(ref.Identifier)})
		}
		for bp, entries := range stale {
			if err := j.jobSpool.Put(stalePrefix+bp, entries); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return j.failReconcile(fmt.Errorf("list the integration's entities in Port: %w", err))
	}
	j.seen.count(get)
	if err := j.restoreMissing(ctx, counts); err != nil {
		return j.failReconcile(err)
	}

	bps := make([]string, 0, len(counts))
	for bp := range counts {
		bps = append(bps, bp)
	}
	sort.Strings(bps)
	taints, err := j.taints()
	if err != nil {
		return j.failReconcile(err)
	}
	var deletable []string
	var totalStale int64
	var reasons []string
	for _, bp := range bps {
		c := counts[bp]
		stale, err := j.jobSpool.Count(stalePrefix + bp)
		if err != nil {
			return j.failReconcile(err)
		}
		totalStale += int64(stale)
		owned := c.listed + c.seen - c.listedSeen
		// Ocean's deletion rate: stale over what the integration owned in
		// Port before this chain (the listing), not over what the
		// blueprint holds once the chain wrote its new entities.
		var rate float64
		if c.listed > 0 {
			rate = float64(stale) / float64(c.listed)
		}
		j.mu.Lock()
		br := j.report.Blueprint(bp)
		br.Listed, br.Owned, br.Stale, br.DeletionRate = c.listed, owned, int64(stale), rate
		j.mu.Unlock()
		if stale == 0 {
			continue
		}
		reason := ""
		if cause, ok := taints[bp]; ok {
			reason = fmt.Sprintf("%s: %s; none of its %d stale entities deleted", bp, cause, stale)
		} else if cause, ok := taints[taintAll]; ok {
			reason = fmt.Sprintf("%s: %s; none of its %d stale entities deleted", bp, cause, stale)
		} else if rate > j.cfg.EntityDeletionThreshold {
			reason = fmt.Sprintf("%s: %d of the %d entities it owned before this resync are stale (deletion rate %.2f > entityDeletionThreshold %g); none deleted",
				bp, stale, c.listed, rate, j.cfg.EntityDeletionThreshold)
		}
		if reason != "" {
			j.logger.Warn("not deleting stale entities", "blueprint", bp, "reason", reason)
			reasons = append(reasons, reason)
			j.mu.Lock()
			j.report.Blueprint(bp).SkippedReason = reason
			j.mu.Unlock()
			continue
		}
		deletable = append(deletable, bp)
	}
	deleted, err := j.deleteStale(ctx, deletable)
	if err != nil {
		return j.failReconcile(err)
	}
	j.mu.Lock()
	for _, bp := range deletable {
		if br := j.report.Blueprint(bp); br.DeleteFailed > 0 {
			reasons = append(reasons, fmt.Sprintf("%s (%d not deleted)", br.SkippedReason, br.DeleteFailed))
		}
	}
	j.mu.Unlock()
	if !j.dry {
		if err := j.sweepIndex(counts); err != nil {
			return j.failReconcile(err)
		}
	}
	if j.dry {
		reasons = append([]string{fmt.Sprintf("dry run: nothing deleted; %d entities would have been deleted", deleted)}, reasons...)
		deleted = 0
	}
	j.logger.Info("reconciliation done", "listed", listed, "stale", totalStale, "deleted", deleted)
	return j.rep.Update(func(jb *store.Job) {
		jb.Reconcile = store.Reconcile{State: store.ReconcileCompleted, Listed: listed, Stale: totalStale, Deleted: deleted,
			SkippedReason: strings.Join(reasons, "; "), StartedAt: started, FinishedAt: j.r.now().UTC()}
	})
}

func (j *jobRun) failReconcile(err error) error {
	_ = j.rep.Update(func(jb *store.Job) {
		jb.Reconcile.State = store.ReconcileFailed
		jb.Reconcile.SkippedReason = err.Error()
		jb.Reconcile.FinishedAt = j.r.now().UTC()
	})
	return fmt.Errorf("reconcile: %w", err)
}

// restoreMissing writes again the entities this chain skipped as unchanged
// that Port no longer has (deleted by hand, say). In the usual case every
// blueprint's counts agree and this costs nothing.
func (j *jobRun) restoreMissing(ctx context.Context, counts map[string]*blueprintCounts) error {
	want := map[string]bool{}
	for bp, c := range counts {
		if c.expected != c.listedExpected {
			want[bp] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	j.logger.Info("entities the index says Port has were not listed; looking for them", "blueprints", len(want))
	err := j.r.cfg.Port.ListOwnedEntities(ctx, j.before, j.r.cfg.ListPageSize, func(refs []port.EntityRef) error {
		var entries []store.SpoolEntry
		for _, ref := range refs {
			if want[ref.Blueprint] {
				entries = append(entries, store.SpoolEntry{Key: entityKey(store.EntityKey{Blueprint: ref.Blueprint, Identifier: ref.Identifier})})
			}
		}
		return j.jobSpool.Put(setListed, entries)
	})
	if err != nil {
		return fmt.Errorf("list the integration's entities in Port: %w", err)
	}
	bps := make([]string, 0, len(want))
	for bp := range want {
		bps = append(bps, bp)
	}
	sort.Strings(bps)
	resources := map[int]bool{}
	for _, bp := range bps {
		err := j.eachIndexPage(bp, func(page []store.IndexRecord) error {
			var forget []store.IndexChange
			err := j.st.Read(func(r *store.Reader) error {
				for _, rec := range page {
					k := store.EntityKey{Blueprint: bp, Identifier: rec.Identifier}
					if !expected(j.seen.get(k)) {
						continue
					}
					if _, listed := r.SpoolValue(j.jobSpool, setListed, entityKey(k)); listed {
						continue
					}
					if j.dry {
						j.planRestore(k)
						continue
					}
					forget = append(forget, store.IndexChange{EntityKey: k, Op: store.OpForgetHash})
					resources[int(rec.Resource)] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			return j.st.ApplyIndex(forget)
		})
		if err != nil {
			return err
		}
	}
	if j.dry {
		return nil
	}
	for _, rm := range j.mapping.Resources() {
		if !resources[rm.Index] {
			continue
		}
		j.logger.Info("writing again entities missing in Port", "kind", rm.KindID())
		if err := j.runKind(ctx, rm, true); err != nil {
			return fmt.Errorf("restore entities of %s missing in Port: %w", rm.KindID(), err)
		}
	}
	return nil
}

// taints returns the blueprints whose stale entities must be kept, with
// why.
func (j *jobRun) taints() (map[string]string, error) {
	out := map[string]string{}
	err := j.chainSpool.Scan(setTaint, 0, func(_ *store.Reader, key, v []byte) error {
		out[string(key)] = string(v)
		return nil
	})
	return out, err
}

// blueprintDefs fetches blueprint definitions once per reconciliation.
type blueprintDefs struct {
	client *port.Client
	defs   map[string]port.Blueprint
}

func (b *blueprintDefs) get(ctx context.Context, id string) (port.Blueprint, error) {
	if d, ok := b.defs[id]; ok {
		return d, nil
	}
	d, err := b.client.GetBlueprint(ctx, id)
	if err != nil {
		return nil, err
	}
	b.defs[id] = d
	return d, nil
}

// relationTargets returns, for blueprint id, the relation name -> target
// blueprint of its definition.
func relationTargets(bp port.Blueprint) map[string]string {
	out := map[string]string{}
	rels, _ := bp["relations"].(map[string]any)
	for name, v := range rels {
		def, _ := v.(map[string]any)
		if t, ok := def["target"].(string); ok {
			out[name] = t
		}
	}
	return out
}

// protection maps a target blueprint to the spool sets holding identifiers
// kept entities relate to in it. A set whose relation cannot be resolved
// (its blueprint is gone) protects every blueprint.
func (j *jobRun) protection(ctx context.Context, defs *blueprintDefs) (map[string][]string, []string, error) {
	if !j.protectTargets {
		return nil, nil, nil
	}
	sets, err := j.chainSpool.Sets()
	if err != nil {
		return nil, nil, err
	}
	byTarget := map[string][]string{}
	var everywhere []string
	for _, set := range sets {
		rest, ok := strings.CutPrefix(set, targetsPrefix)
		if !ok {
			continue
		}
		src, rel, _ := strings.Cut(rest, "\x00")
		def, err := defs.get(ctx, src)
		if err != nil && port.StatusOf(err) != 404 {
			return nil, nil, fmt.Errorf("read blueprint %s: %w", src, err)
		}
		target, ok := relationTargets(def)[rel]
		if !ok {
			everywhere = append(everywhere, set)
			continue
		}
		byTarget[target] = append(byTarget[target], set)
	}
	return byTarget, everywhere, nil
}

// deleteOrder puts the blueprints whose entities depend on others' first,
// so deletes without delete_dependents do not trip over dependents.
func (j *jobRun) deleteOrder(ctx context.Context, defs *blueprintDefs, bps []string) ([]string, error) {
	if j.cfg.DeleteDependentEntities || len(bps) < 2 {
		return bps, nil
	}
	in := map[string]bool{}
	for _, bp := range bps {
		in[bp] = true
	}
	dependents := map[string]int{} // target -> deletable blueprints relating to it
	targets := map[string][]string{}
	for _, bp := range bps {
		def, err := defs.get(ctx, bp)
		if err != nil {
			return nil, fmt.Errorf("read blueprint %s: %w", bp, err)
		}
		seen := map[string]bool{}
		for _, t := range relationTargets(def) {
			if t != bp && in[t] && !seen[t] {
				seen[t] = true
				dependents[t]++
				targets[bp] = append(targets[bp], t)
			}
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(bps) {
		progressed := false
		for _, bp := range bps {
			if done[bp] || dependents[bp] > 0 {
				continue
			}
			done[bp] = true
			order = append(order, bp)
			progressed = true
			for _, t := range targets[bp] {
				dependents[t]--
			}
		}
		if !progressed { // a cycle: break it in name order
			for _, bp := range bps {
				if !done[bp] {
					dependents[bp] = 0
					break
				}
			}
		}
	}
	return order, nil
}

// deleteStale deletes the stale, unprotected entities of bps and returns
// how many Port deleted (a dry run: would delete).
func (j *jobRun) deleteStale(ctx context.Context, bps []string) (int64, error) {
	if len(bps) == 0 {
		return 0, nil
	}
	defs := &blueprintDefs{client: j.r.cfg.Port, defs: map[string]port.Blueprint{}}
	protect, everywhere, err := j.protection(ctx, defs)
	if err != nil {
		return 0, err
	}
	order, err := j.deleteOrder(ctx, defs, bps)
	if err != nil {
		return 0, err
	}
	var total int64
	var retry []store.EntityKey
	for _, bp := range order {
		sets := append(append([]string(nil), protect[bp]...), everywhere...)
		n, failed, err := j.deleteBlueprint(ctx, bp, sets)
		total += n
		for _, k := range failed {
			if len(retry) < maxDeleteRetries {
				retry = append(retry, k)
				continue
			}
			j.refused(k, errors.New("refused, and too many refusals to try again"))
		}
		if err != nil {
			return total, err
		}
	}
	// Entities that had dependents when their batch was sent may be free
	// now that later blueprints were cleared.
	for _, k := range retry {
		n, err := j.deleteOne(ctx, k)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// deleteBlueprint deletes one blueprint's stale entities in batches.
func (j *jobRun) deleteBlueprint(ctx context.Context, bp string, protectSets []string) (int64, []store.EntityKey, error) {
	var (
		after   []byte
		total   int64
		failed  []store.EntityKey
		mu      sync.Mutex
		firstEr error
	)
	parallel := 1
	if j.cfg.DeleteDependentEntities {
		parallel = 4
	}
	for {
		keys, err := j.jobSpool.Page(stalePrefix+bp, after, 10*deleteBatch)
		if err != nil || len(keys) == 0 {
			return total, failed, err
		}
		after = keys[len(keys)-1]
		var ids []string
		var protected int64
		err = j.st.Read(func(r *store.Reader) error {
			for _, k := range keys {
				if isProtected(r, j.chainSpool, protectSets, k) {
					protected++
					continue
				}
				ids = append(ids, string(k))
			}
			return nil
		})
		if err != nil {
			return total, failed, err
		}
		j.mu.Lock()
		br := j.report.Blueprint(bp)
		br.Protected += protected
		j.mu.Unlock()
		if j.dry {
			j.mu.Lock()
			br.Deleted += int64(len(ids))
			for _, id := range ids {
				if len(br.DeleteIDs) < store.MaxReportIDs {
					br.DeleteIDs = append(br.DeleteIDs, id)
				}
			}
			j.mu.Unlock()
			total += int64(len(ids))
			continue
		}
		slots := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for start := 0; start < len(ids); start += deleteBatch {
			chunk := ids[start:min(start+deleteBatch, len(ids))]
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				n, f, err := j.deleteIDs(ctx, bp, chunk)
				mu.Lock()
				defer mu.Unlock()
				total += n
				failed = append(failed, f...)
				if err != nil && firstEr == nil {
					firstEr = err
				}
			}()
		}
		wg.Wait()
		if firstEr != nil {
			return total, failed, firstEr
		}
	}
}

func isProtected(r *store.Reader, sp *store.Spool, sets []string, id []byte) bool {
	for _, set := range sets {
		if _, ok := r.SpoolValue(sp, set, id); ok {
			return true
		}
	}
	return false
}

// deleteIDs deletes one batch. When Port refuses the batch (an entity has
// dependents, say) its entities are tried one by one; those still refused
// are returned for a last try after the other blueprints.
func (j *jobRun) deleteIDs(ctx context.Context, bp string, ids []string) (int64, []store.EntityKey, error) {
	deleted, err := j.r.cfg.Port.DeleteEntities(ctx, bp, ids, j.cfg.DeleteDependentEntities, j.opts)
	if err == nil || port.StatusOf(err) == http.StatusNotFound {
		// A 404: the blueprint is gone, and its entities with it.
		return j.deletedFromPort(bp, ids, deleted)
	}
	if kindLevel(err) {
		return 0, nil, fmt.Errorf("delete stale entities of %s: %w", bp, err)
	}
	if len(ids) == 1 {
		return 0, []store.EntityKey{{Blueprint: bp, Identifier: ids[0]}}, nil
	}
	var total int64
	var failed []store.EntityKey
	for _, id := range ids {
		n, f, err := j.deleteIDs(ctx, bp, []string{id})
		if err != nil {
			return total, failed, err
		}
		total += n
		failed = append(failed, f...)
	}
	return total, failed, nil
}

// deleteOne is the last try for an entity Port refused to delete; a refusal
// now is recorded in the report.
func (j *jobRun) deleteOne(ctx context.Context, k store.EntityKey) (int64, error) {
	deleted, err := j.r.cfg.Port.DeleteEntities(ctx, k.Blueprint, []string{k.Identifier}, j.cfg.DeleteDependentEntities, j.opts)
	if err == nil {
		n, _, err := j.deletedFromPort(k.Blueprint, []string{k.Identifier}, deleted)
		return n, err
	}
	if kindLevel(err) {
		return 0, fmt.Errorf("delete stale entities of %s: %w", k.Blueprint, err)
	}
	j.refused(k, err)
	return 0, nil
}

// maxDeleteRetries bounds the refused deletes kept in memory for a last try.
const maxDeleteRetries = 10000

// refused records a stale entity Port would not delete.
func (j *jobRun) refused(k store.EntityKey, err error) {
	j.mu.Lock()
	br := j.report.Blueprint(k.Blueprint)
	br.DeleteFailed++
	if br.SkippedReason == "" {
		br.SkippedReason = fmt.Sprintf("%s: Port refused to delete %s: %v", k.Blueprint, k.Identifier, err)
	}
	j.mu.Unlock()
	j.logger.Warn("Port refused to delete a stale entity", "blueprint", k.Blueprint, "identifier", k.Identifier, "err", err)
}

// deletedFromPort records a successful bulk delete: the identifiers Port did
// not report as deleted were gone already; none of them stay in the index.
func (j *jobRun) deletedFromPort(bp string, ids, deleted []string) (int64, []store.EntityKey, error) {
	keys := make([]store.EntityKey, len(ids))
	for i, id := range ids {
		keys[i] = store.EntityKey{Blueprint: bp, Identifier: id}
	}
	if err := j.st.DeleteEntities(keys); err != nil {
		return 0, nil, fmt.Errorf("update entity index after deletes: %w", err)
	}
	j.mu.Lock()
	br := j.report.Blueprint(bp)
	br.Deleted += int64(len(deleted))
	for _, id := range deleted {
		if len(br.DeleteIDs) < store.MaxReportIDs {
			br.DeleteIDs = append(br.DeleteIDs, id)
		}
	}
	j.mu.Unlock()
	return int64(len(deleted)), nil, nil
}

// sweepIndex drops index entries this complete chain neither produced nor
// found stale in Port: their entities are gone from the source and from
// Port's listing, so the index has nothing to remember. A blueprint whose
// entries are all accounted for is not scanned.
func (j *jobRun) sweepIndex(counts map[string]*blueprintCounts) error {
	sizes, err := j.st.CountEntities()
	if err != nil {
		return err
	}
	for bp, size := range sizes {
		stale, err := j.jobSpool.Count(stalePrefix + bp)
		if err != nil {
			return err
		}
		var indexed int64
		if c := counts[bp]; c != nil {
			indexed = c.indexed
		}
		if int64(size) <= indexed+int64(stale) {
			continue
		}
		err = j.eachIndexPage(bp, func(page []store.IndexRecord) error {
			var gone []store.EntityKey
			err := j.st.Read(func(r *store.Reader) error {
				for _, rec := range page {
					k := store.EntityKey{Blueprint: bp, Identifier: rec.Identifier}
					if j.seen.get(k) != 0 {
						continue
					}
					if _, stale := r.SpoolValue(j.jobSpool, stalePrefix+bp, []byte(rec.Identifier)); stale {
						continue
					}
					gone = append(gone, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return j.st.DeleteEntities(gone)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eachIndexPage calls fn with the index entries of bp, a page at a time,
// outside any transaction.
func (j *jobRun) eachIndexPage(bp string, fn func([]store.IndexRecord) error) error {
	after := ""
	for {
		page, err := j.st.IndexPage(bp, after, j.r.cfg.IndexFlushEntries)
		if err != nil || len(page) == 0 {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].Identifier
	}
}

// planUpsert records, for a dry run, an entity that would be sent.
func (j *jobRun) planUpsert(k store.EntityKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	br := j.report.Blueprint(k.Blueprint)
	br.Upserts++
	if len(br.UpsertIDs) < 100 && k.Identifier != "" {
		br.UpsertIDs = append(br.UpsertIDs, k.Identifier)
	}
}

// planRestore records, for a dry run, an entity missing in Port that would
// be written again.
func (j *jobRun) planRestore(k store.EntityKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	br := j.report.Blueprint(k.Blueprint)
	br.Restores++
	if len(br.UpsertIDs) < 100 {
		br.UpsertIDs = append(br.UpsertIDs, k.Identifier)
	}
}
