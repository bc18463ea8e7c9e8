package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// JobState is where a job is in its life. See DESIGN §5 for who moves a job
// in and out of each state.
type JobState string

// Job states.
const (
	// JobQueued: a trigger was accepted; the runner has not taken it.
	JobQueued JobState = "queued"
	// JobRunning: the runner is executing it.
	JobRunning JobState = "running"
	// JobSucceeded: every kind and the reconciliation completed.
	JobSucceeded JobState = "succeeded"
	// JobFailed: a kind or the reconciliation failed.
	JobFailed JobState = "failed"
	// JobSuperseded: a newer trigger aborted it.
	JobSuperseded JobState = "superseded"
	// JobCancelled: a user cancelled it.
	JobCancelled JobState = "cancelled"
	// JobInterrupted: the daemon stopped while it ran; a resume job follows.
	JobInterrupted JobState = "interrupted"
)

// Terminal reports whether no one moves a job out of s.
func (s JobState) Terminal() bool {
	switch s {
	case JobSucceeded, JobFailed, JobSuperseded, JobCancelled, JobInterrupted:
		return true
	}
	return false
}

// Counts are the entity counters of a kind or of a whole job.
type Counts struct {
	Fetched   int64 `json:"fetched"`
	Mapped    int64 `json:"mapped"`
	Filtered  int64 `json:"filtered"`
	Upserted  int64 `json:"upserted"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Fetched += o.Fetched
	c.Mapped += o.Mapped
	c.Filtered += o.Filtered
	c.Upserted += o.Upserted
	c.Unchanged += o.Unchanged
	c.Failed += o.Failed
}

// Kind states.
const (
	KindPending   = "pending"
	KindRunning   = "running"
	KindCompleted = "completed"
	KindFailed    = "failed"
	KindAborted   = "aborted"
)

// KindProgress is one resource of the mapping within a job.
type KindProgress struct {
	Kind  string `json:"kind"`
	Index int    `json:"index"`
	State string `json:"state"`
	Counts
	Error string `json:"error,omitempty"`
	// Samples holds a few item-level errors, so an operator sees what
	// went wrong without reading logs.
	Samples []string `json:"samples,omitempty"`
}

// Reconcile states.
const (
	ReconcilePending   = "pending"
	ReconcileRunning   = "running"
	ReconcileCompleted = "completed"
	ReconcileSkipped   = "skipped"
	ReconcileFailed    = "failed"
)

// Reconcile is the stale-entity deletion step of a job.
type Reconcile struct {
	State         string `json:"state"`
	Listed        int64  `json:"listed"`
	Stale         int64  `json:"stale"`
	Deleted       int64  `json:"deleted"`
	SkippedReason string `json:"skippedReason,omitempty"`
}

// Job is one resync. The JSON names are the CLI's --json output.
type Job struct {
	ID       uint64   `json:"id"`
	State    JobState `json:"state"`
	Trigger  string   `json:"trigger"`
	Reasons  []string `json:"reasons"`
	ResumeOf uint64   `json:"resumeOf,omitempty"`
	// ChainID is the id of the first job of a resume chain (its own id
	// when it resumes nothing); ChainStartedAt is when that job started
	// and is the `before` of reconciliation.
	ChainID        uint64         `json:"chainId"`
	ChainStartedAt *time.Time     `json:"chainStartedAt,omitempty"`
	CreatedAt      time.Time      `json:"createdAt"`
	StartedAt      *time.Time     `json:"startedAt,omitempty"`
	FinishedAt     *time.Time     `json:"finishedAt,omitempty"`
	MappingHash    string         `json:"mappingHash,omitempty"`
	Error          string         `json:"error,omitempty"`
	Totals         Counts         `json:"totals"`
	Kinds          []KindProgress `json:"kinds"`
	Reconcile      Reconcile      `json:"reconcile"`
	// DryRun jobs compute upserts and deletions and write nothing to Port.
	DryRun bool `json:"dryRun,omitempty"`
	// SupersededBy is the job that replaced this one (state superseded).
	SupersededBy uint64 `json:"supersededBy,omitempty"`
}

// Duration is how long the job ran (so far, if now is given and it runs).
func (j *Job) Duration(now time.Time) time.Duration {
	if j.StartedAt == nil {
		return 0
	}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	return end.Sub(*j.StartedAt)
}

// ErrJobNotFound is returned for an unknown job id.
var ErrJobNotFound = errors.New("job not found")

// CreateJob stores a new job and sets its ID (creation order).
func (s *Store) CreateJob(j *Job) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		j.ID = id
		if j.ChainID == 0 {
			j.ChainID = id
		}
		return putJob(b, j)
	})
}

// PutJob writes a job record.
func (s *Store) PutJob(j *Job) error {
	if j.ID == 0 {
		return errors.New("put job: job has no id")
	}
	return s.db.Update(func(tx *bolt.Tx) error { return putJob(tx.Bucket(bucketJobs), j) })
}

func putJob(b *bolt.Bucket, j *Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job %d: %w", j.ID, err)
	}
	return b.Put(u64(j.ID), data)
}

// GetJob reads one job.
func (s *Store) GetJob(id uint64) (*Job, error) {
	var j *Job
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get(u64(id))
		if v == nil {
			return fmt.Errorf("job %d: %w", id, ErrJobNotFound)
		}
		j = new(Job)
		return json.Unmarshal(v, j)
	})
	return j, err
}

// ListOptions filter ListJobs.
type ListOptions struct {
	// Limit caps the number of jobs returned; 0 means all.
	Limit int
	// State keeps only jobs in that state.
	State JobState
}

// ListJobs returns jobs, newest first.
func (s *Store) ListJobs(opts ListOptions) ([]*Job, error) {
	var out []*Job
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketJobs).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if opts.State != "" && j.State != opts.State {
				continue
			}
			out = append(out, &j)
			if opts.Limit > 0 && len(out) >= opts.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// PruneJobs deletes the oldest terminal jobs so at most keep remain.
func (s *Store) PruneJobs(keep int) (int, error) {
	if keep <= 0 {
		return 0, nil
	}
	deleted := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		excess := b.Stats().KeyN - keep
		if excess <= 0 {
			return nil
		}
		var victims [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(victims) < excess; k, v = c.Next() {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil || j.State.Terminal() {
				victims = append(victims, append([]byte(nil), k...))
			}
		}
		for _, k := range victims {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(victims)
		return nil
	})
	return deleted, err
}
