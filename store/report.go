package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var bucketReports = []byte("reports")

// MaxReportIDs caps the identifiers a report keeps per blueprint and action.
const MaxReportIDs = 1000

// JobReport is what a resync did (or, for a dry run, would have done) per
// blueprint, beyond the counters of the job record: the reconciliation's
// decisions and the reasons for them.
type JobReport struct {
	JobID  uint64 `json:"jobId"`
	DryRun bool   `json:"dryRun,omitempty"`
	// Restored counts entities the index said were in Port, that Port no
	// longer had, and that were written again.
	Restored   int64             `json:"restored,omitempty"`
	Blueprints []BlueprintReport `json:"blueprints"`
}

// BlueprintReport is one blueprint of a JobReport.
type BlueprintReport struct {
	Blueprint string `json:"blueprint"`
	// Upserts is, for a dry run, how many entities would have been sent;
	// UpsertIDs holds the first of them.
	Upserts   int64    `json:"upserts,omitempty"`
	UpsertIDs []string `json:"upsertIds,omitempty"`
	// Restores is, for a dry run, how many entities missing in Port would
	// have been written again.
	Restores int64 `json:"restores,omitempty"`
	// Listed is how many entities of the blueprint Port listed as owned
	// by the integration and last updated before the resync chain began;
	// Owned adds what this chain wrote that the listing did not show.
	Listed int64 `json:"listed"`
	Owned  int64 `json:"owned"`
	// Stale entities were listed but not produced by this resync.
	Stale int64 `json:"stale"`
	// DeletionRate is Stale / Listed, Ocean's figure that
	// entityDeletionThreshold bounds (0 when nothing was listed).
	DeletionRate float64 `json:"deletionRate,omitempty"`
	// Protected stale entities were kept because a kept entity relates to
	// them.
	Protected int64 `json:"protected,omitempty"`
	// Deleted (or, for a dry run, to delete) and DeleteFailed count the
	// stale entities sent to Port for deletion; DeleteIDs holds the first.
	Deleted      int64    `json:"deleted"`
	DeleteFailed int64    `json:"deleteFailed,omitempty"`
	DeleteIDs    []string `json:"deleteIds,omitempty"`
	// SkippedReason says why nothing of this blueprint was deleted.
	SkippedReason string `json:"skippedReason,omitempty"`
}

// Blueprint returns the report of bp, adding it when missing.
func (r *JobReport) Blueprint(bp string) *BlueprintReport {
	for i := range r.Blueprints {
		if r.Blueprints[i].Blueprint == bp {
			return &r.Blueprints[i]
		}
	}
	r.Blueprints = append(r.Blueprints, BlueprintReport{Blueprint: bp})
	return &r.Blueprints[len(r.Blueprints)-1]
}

// PutReport stores the report of a job, replacing any earlier one.
func (s *Store) PutReport(r *JobReport) error {
	if r.JobID == 0 {
		return fmt.Errorf("put report: no job id")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report of job %d: %w", r.JobID, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReports).Put(u64(r.JobID), data)
	})
}

// GetReport returns the report of a job, or nil when it has none.
func (s *Store) GetReport(jobID uint64) (*JobReport, error) {
	var out *JobReport
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReports)
		if b == nil {
			return nil
		}
		v := b.Get(u64(jobID))
		if v == nil {
			return nil
		}
		out = new(JobReport)
		return json.Unmarshal(v, out)
	})
	return out, err
}

// PruneReports deletes the reports of jobs no longer in the job history.
func (s *Store) PruneReports() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		var victims [][]byte
		err := tx.Bucket(bucketReports).ForEach(func(k, _ []byte) error {
			if jobs.Get(k) == nil {
				victims = append(victims, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range victims {
			if err := tx.Bucket(bucketReports).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
