package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"oceand/store"
)

// reportIDs is how many identifiers `jobs show` prints per blueprint and
// action; --json has up to store.MaxReportIDs.
const reportIDs = 20

// jobWithReport is `jobs show --json`: the job record plus its report.
type jobWithReport struct {
	*store.Job
	Report *store.JobReport `json:"report,omitempty"`
}

// writeJobReport prints what a resync did per blueprint or, for a dry run,
// what it would have done.
func writeJobReport(w io.Writer, r *store.JobReport) error {
	if r == nil || (len(r.Blueprints) == 0 && r.Restored == 0) {
		return nil
	}
	fmt.Fprintln(w)
	if r.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was written to Port or to the entity index. It would have:")
	} else {
		fmt.Fprintln(w, "Reconciliation by blueprint:")
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if r.DryRun {
		fmt.Fprintln(tw, "BLUEPRINT\tUPSERT\tRESTORE\tLISTED\tOWNED\tSTALE\tRATE\tPROTECTED\tDELETE")
	} else {
		fmt.Fprintln(tw, "BLUEPRINT\tLISTED\tOWNED\tSTALE\tRATE\tPROTECTED\tDELETED\tFAILED")
	}
	// RATE is the deletion rate entityDeletionThreshold bounds: stale over
	// listed (owned before the resync), as Ocean computes it.
	for _, b := range r.Blueprints {
		rate := fmt.Sprintf("%.2f", b.DeletionRate)
		if r.DryRun {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\n", b.Blueprint, b.Upserts, b.Restores, b.Listed, b.Owned, b.Stale, rate, b.Protected, b.Deleted)
		} else {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\n", b.Blueprint, b.Listed, b.Owned, b.Stale, rate, b.Protected, b.Deleted, b.DeleteFailed)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	upsertVerb, deleteVerb := "upserted", "deleted"
	if r.DryRun {
		upsertVerb, deleteVerb = "would upsert", "would delete"
	}
	for _, b := range r.Blueprints {
		if r.DryRun && len(b.UpsertIDs) > 0 {
			fmt.Fprintf(w, "  %s %s: %s\n", b.Blueprint, upsertVerb, idList(b.UpsertIDs, b.Upserts+b.Restores))
		}
		if len(b.DeleteIDs) > 0 {
			fmt.Fprintf(w, "  %s %s: %s\n", b.Blueprint, deleteVerb, idList(b.DeleteIDs, b.Deleted))
		}
		if b.SkippedReason != "" {
			fmt.Fprintf(w, "  %s\n", b.SkippedReason)
		}
	}
	if r.Restored > 0 {
		fmt.Fprintf(w, "  restored %d entities that were missing in Port\n", r.Restored)
	}
	return nil
}

func idList(ids []string, total int64) string {
	shown := ids[:min(len(ids), reportIDs)]
	out := strings.Join(shown, ", ")
	if more := total - int64(len(shown)); more > 0 {
		out += fmt.Sprintf(" (and %d more)", more)
	}
	return out
}
