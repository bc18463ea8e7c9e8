package store

import (
	"bytes"
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
	Fetched  int64 `json:"fetched"`
	Mapped   int64 `json:"mapped"`
	Filtered int64 `json:"filtered"`
	// Dropped counts entities the mapping gave no valid identifier or
	// blueprint: a misconfiguration, not a filter.
	Dropped   int64 `json:"dropped"`
	Upserted  int64 `json:"upserted"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Fetched += o.Fetched
	c.Mapped += o.Mapped
	c.Filtered += o.Filtered
	c.Dropped += o.Dropped
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
	// StartedAt and FinishedAt tell which kind a slow resync spends its
	// time on; zero until the kind starts (or ends).
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Duration is how long the kind ran (so far, at now, if it runs); 0 if it
// has not started.
func (k *KindProgress) Duration(now time.Time) time.Duration {
	return span(k.StartedAt, k.FinishedAt, now)
}

func span(start, end, now time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	if end.IsZero() {
		end = now
	}
	return end.Sub(start)
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
	// StartedAt and FinishedAt: listing Port's entities can be the long
	// part of a resync that changed little.
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Duration is how long reconciliation ran (so far, at now); 0 if it has
// not started.
func (r *Reconcile) Duration(now time.Time) time.Duration {
	return span(r.StartedAt, r.FinishedAt, now)
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
	ChainID        uint64     `json:"chainId"`
	ChainStartedAt *time.Time `json:"chainStartedAt,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	StartedAt      *time.Time `json:"startedAt,omitempty"`
	FinishedAt     *time.Time `json:"finishedAt,omitempty"`
	MappingHash    string     `json:"mappingHash,omitempty"`
	// SourceConfigHash identifies the source's settings
	// (integration.config) the job ran with; a resume needs them, and the
	// mapping, unchanged.
	SourceConfigHash string         `json:"sourceConfigHash,omitempty"`
	Error            string         `json:"error,omitempty"`
	Totals           Counts         `json:"totals"`
	Kinds            []KindProgress `json:"kinds"`
	Reconcile        Reconcile      `json:"reconcile"`
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

// Clone returns a deep copy of j: a snapshot that later updates of j do not
// change.
func (j *Job) Clone() *Job {
	c := *j
	c.Reasons = append([]string(nil), j.Reasons...)
	c.Kinds = make([]KindProgress, len(j.Kinds))
	for i, k := range j.Kinds {
		k.Samples = append([]string(nil), k.Samples...)
		c.Kinds[i] = k
	}
	if j.Kinds == nil {
		c.Kinds = nil
	}
	for _, p := range []**time.Time{&c.ChainStartedAt, &c.StartedAt, &c.FinishedAt} {
		if *p != nil {
			t := **p
			*p = &t
		}
	}
	return &c
}

// ErrJobNotFound is returned for an unknown job id.
var ErrJobNotFound = errors.New("job not found")

// A job is stored in three places, written in one transaction:
//
//	jobs           id -> JSON of the job without its kinds
//	kinds          id | index (uint32) -> JSON of one KindProgress
//	jobs_by_state  state | 0 | id -> empty
//
// Kinds live apart so a progress write rewrites only the kinds that
// changed, and a job listing does not decode per-kind detail it does not
// show. The state index answers "the queued job", "the running job", "the
// last success" and `jobs list --state` without scanning the history.
// Schema 1 kept the kinds inside the job record; readers still accept that
// (read-only opens do not migrate).

// jobRecord is the stored form of a Job: its kinds are stored apart.
type jobRecord struct {
	*Job
	Kinds []KindProgress `json:"kinds,omitempty"`
}

func kindKey(id uint64, index int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, id)
	binary.BigEndian.PutUint32(k[8:], uint32(index))
	return k
}

func stateKey(state JobState, id uint64) []byte {
	k := make([]byte, 0, len(state)+9)
	k = append(k, state...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, id)
}

// Job reads one job with its kinds.
func (t *Tx) Job(id uint64) (*Job, error) {
	v := t.tx.Bucket(bucketJobs).Get(u64(id))
	if v == nil {
		return nil, fmt.Errorf("job %d: %w", id, ErrJobNotFound)
	}
	j := new(Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("decode job %d: %w", id, err)
	}
	if err := t.loadKinds(j); err != nil {
		return nil, err
	}
	return j, nil
}

// loadKinds reads j's kinds from the kinds bucket (schema 2); a schema 1
// record carries them inline and has none there.
func (t *Tx) loadKinds(j *Job) error {
	b := t.tx.Bucket(bucketKinds)
	if b == nil {
		return nil
	}
	prefix := u64(j.ID)
	c := b.Cursor()
	var kinds []KindProgress
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var kp KindProgress
		if err := json.Unmarshal(v, &kp); err != nil {
			return fmt.Errorf("decode job %d kind %d: %w", j.ID, binary.BigEndian.Uint32(k[8:]), err)
		}
		kinds = append(kinds, kp)
	}
	if kinds != nil {
		j.Kinds = kinds
	}
	return nil
}

// CreateJob stores a new job and sets its ID (creation order) and, when
// unset, its ChainID.
func (t *Tx) CreateJob(j *Job) error {
	id, err := t.tx.Bucket(bucketJobs).NextSequence()
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	j.ID = id
	if j.ChainID == 0 {
		j.ChainID = id
	}
	return t.PutJob(j)
}

// PutJob writes a job record with all its kinds.
func (t *Tx) PutJob(j *Job) error {
	if j.ID == 0 {
		return errors.New("put job: job has no id")
	}
	if err := t.putRecord(j); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketKinds)
	prefix := u64(j.ID)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for i := range j.Kinds {
		if err := t.putKind(j, i); err != nil {
			return err
		}
	}
	return nil
}

// PutProgress writes a running job's record and the kinds at the given
// positions of j.Kinds: a progress write does not rewrite unchanged kinds.
func (t *Tx) PutProgress(j *Job, kinds []int) error {
	if err := t.putRecord(j); err != nil {
		return err
	}
	for _, i := range kinds {
		if err := t.putKind(j, i); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tx) putKind(j *Job, i int) error {
	data, err := json.Marshal(&j.Kinds[i])
	if err != nil {
		return fmt.Errorf("encode job %d kind %d: %w", j.ID, i, err)
	}
	return t.tx.Bucket(bucketKinds).Put(kindKey(j.ID, i), data)
}

// putRecord writes the job record and keeps the state index in step.
func (t *Tx) putRecord(j *Job) error {
	data, err := json.Marshal(jobRecord{Job: j})
	if err != nil {
		return fmt.Errorf("encode job %d: %w", j.ID, err)
	}
	jobs, states := t.tx.Bucket(bucketJobs), t.tx.Bucket(bucketJobStates)
	key := u64(j.ID)
	if old := jobs.Get(key); old != nil {
		var prev struct {
			State JobState `json:"state"`
		}
		if err := json.Unmarshal(old, &prev); err == nil && prev.State != j.State {
			if err := states.Delete(stateKey(prev.State, j.ID)); err != nil {
				return err
			}
		}
	}
	if err := states.Put(stateKey(j.State, j.ID), nil); err != nil {
		return err
	}
	return jobs.Put(key, data)
}

// deleteJob removes a job, its kinds and its index entry.
func (t *Tx) deleteJob(id uint64, state JobState) error {
	if err := t.tx.Bucket(bucketJobs).Delete(u64(id)); err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketJobStates).Delete(stateKey(state, id)); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketKinds)
	c := b.Cursor()
	prefix := u64(id)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// JobIDs returns the ids of jobs in state, newest first (oldest first when
// oldestFirst), at most limit of them (0: all).
func (t *Tx) JobIDs(state JobState, oldestFirst bool, limit int) []uint64 {
	var out []uint64
	t.eachInState(state, oldestFirst, func(id uint64) bool {
		out = append(out, id)
		return limit <= 0 || len(out) < limit
	})
	return out
}

// eachInState calls fn with the ids of jobs in state until fn returns
// false. Without the state index (schema 1, read-only) it scans the jobs.
func (t *Tx) eachInState(state JobState, oldestFirst bool, fn func(id uint64) bool) {
	idx := t.tx.Bucket(bucketJobStates)
	if idx == nil {
		c := t.tx.Bucket(bucketJobs).Cursor()
		first, next := c.Last, c.Prev
		if oldestFirst {
			first, next = c.First, c.Next
		}
		for k, v := first(); k != nil; k, v = next() {
			var rec struct {
				State JobState `json:"state"`
			}
			if json.Unmarshal(v, &rec) == nil && rec.State == state && !fn(binary.BigEndian.Uint64(k)) {
				return
			}
		}
		return
	}
	prefix := append([]byte(state), 0)
	c := idx.Cursor()
	var k []byte
	if oldestFirst {
		k, _ = c.Seek(prefix)
	} else {
		k, _ = c.Seek(append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k = step(c, oldestFirst) {
		if !fn(binary.BigEndian.Uint64(k[len(prefix):])) {
			return
		}
	}
}

func step(c *bolt.Cursor, forward bool) []byte {
	if forward {
		k, _ := c.Next()
		return k
	}
	k, _ := c.Prev()
	return k
}

// CreateJob stores a new job and sets its ID (creation order).
func (s *Store) CreateJob(j *Job) error {
	return s.Update(func(tx *Tx) error { return tx.CreateJob(j) })
}

// PutJob writes a job record with all its kinds.
func (s *Store) PutJob(j *Job) error {
	return s.Update(func(tx *Tx) error { return tx.PutJob(j) })
}

// GetJob reads one job.
func (s *Store) GetJob(id uint64) (*Job, error) {
	var j *Job
	err := s.View(func(tx *Tx) error {
		var err error
		j, err = tx.Job(id)
		return err
	})
	return j, err
}

// ListOptions filter ListJobs.
type ListOptions struct {
	// Limit caps the number of jobs returned; 0 means all.
	Limit int
	// State keeps only jobs in that state.
	State JobState
	// NoKinds leaves out per-kind progress (Kinds is nil): a table of
	// jobs shows only totals.
	NoKinds bool
}

// ListJobs returns jobs, newest first.
func (s *Store) ListJobs(opts ListOptions) ([]*Job, error) {
	var out []*Job
	err := s.View(func(tx *Tx) error {
		add := func(k, v []byte) error {
			j := new(Job)
			if err := json.Unmarshal(v, j); err != nil {
				return fmt.Errorf("decode job %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if opts.NoKinds {
				j.Kinds = nil
			} else if err := tx.loadKinds(j); err != nil {
				return err
			}
			out = append(out, j)
			return nil
		}
		jobs := tx.tx.Bucket(bucketJobs)
		if opts.State != "" {
			var err error
			tx.eachInState(opts.State, false, func(id uint64) bool {
				k := u64(id)
				if v := jobs.Get(k); v != nil {
					err = add(k, v)
				}
				return err == nil && (opts.Limit <= 0 || len(out) < opts.Limit)
			})
			return err
		}
		c := jobs.Cursor()
		for k, v := c.Last(); k != nil && (opts.Limit <= 0 || len(out) < opts.Limit); k, v = c.Prev() {
			if err := add(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// LastJob returns the newest job in state, or nil.
func (s *Store) LastJob(state JobState) (*Job, error) {
	var j *Job
	err := s.View(func(tx *Tx) error {
		ids := tx.JobIDs(state, false, 1)
		if len(ids) == 0 {
			return nil
		}
		var err error
		j, err = tx.Job(ids[0])
		return err
	})
	return j, err
}

// Streak is a run of superseded jobs with no completed job after them.
type Streak struct {
	// Superseded counts jobs superseded since the last job that ran to
	// its end (succeeded or failed).
	Superseded int `json:"superseded"`
	// LastCompleted is the newest job that ran to its end, 0 if none.
	LastCompleted uint64 `json:"lastCompleted,omitempty"`
	// Since is when that job finished (nil: never).
	Since *time.Time `json:"since,omitempty"`
}

// SupersededStreak counts the superseded jobs newer than the last job
// that succeeded or failed: resyncs that keep superseding each other so
// that none completes (Ocean's P17).
func (s *Store) SupersededStreak() (Streak, error) {
	var st Streak
	err := s.View(func(tx *Tx) error {
		for _, state := range []JobState{JobSucceeded, JobFailed} {
			if ids := tx.JobIDs(state, false, 1); len(ids) > 0 && ids[0] > st.LastCompleted {
				st.LastCompleted = ids[0]
			}
		}
		if st.LastCompleted != 0 {
			j, err := tx.Job(st.LastCompleted)
			if err != nil {
				return err
			}
			st.Since = j.FinishedAt
		}
		tx.eachInState(JobSuperseded, false, func(id uint64) bool {
			if id < st.LastCompleted {
				return false
			}
			st.Superseded++
			return true
		})
		return nil
	})
	return st, err
}

// PruneJobs deletes the jobs older than the newest keep. It never deletes
// a queued or running job, nor the job a queued or running resume reads
// its completed kinds from: those stay beyond the limit.
func (s *Store) PruneJobs(keep int) (int, error) {
	if keep <= 0 {
		return 0, nil
	}
	deleted := 0
	err := s.Update(func(tx *Tx) error {
		b := tx.tx.Bucket(bucketJobs)
		excess := b.Stats().KeyN - keep
		if excess <= 0 {
			return nil
		}
		protected := map[uint64]bool{}
		for _, state := range []JobState{JobQueued, JobRunning} {
			for _, id := range tx.JobIDs(state, true, 0) {
				if j, err := tx.Job(id); err == nil && j.ResumeOf != 0 {
					protected[j.ResumeOf] = true
				}
			}
		}
		type victim struct {
			id    uint64
			state JobState
		}
		var victims []victim
		c := b.Cursor()
		seen := 0
		for k, v := c.First(); k != nil && seen < excess; k, v = c.Next() {
			seen++
			id := binary.BigEndian.Uint64(k)
			var rec struct {
				State JobState `json:"state"`
			}
			if err := json.Unmarshal(v, &rec); err != nil || (rec.State.Terminal() && !protected[id]) {
				victims = append(victims, victim{id, rec.State})
			}
		}
		for _, v := range victims {
			if err := tx.deleteJob(v.id, v.state); err != nil {
				return fmt.Errorf("prune job %d: %w", v.id, err)
			}
		}
		deleted = len(victims)
		return nil
	})
	return deleted, err
}

// migrateKindsAndStates is the step from schema 1 to 2: per-kind progress
// moves out of the job records into the kinds bucket, and every job gets
// its entry in the state index.
func migrateKindsAndStates(btx *bolt.Tx) error {
	tx := &Tx{tx: btx}
	type old struct {
		id uint64
		j  *Job
	}
	var jobs []old
	err := btx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
		j := new(Job)
		if err := json.Unmarshal(v, j); err != nil {
			return fmt.Errorf("decode job %d: %w", binary.BigEndian.Uint64(k), err)
		}
		jobs = append(jobs, old{binary.BigEndian.Uint64(k), j})
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range jobs {
		o.j.ID = o.id
		if err := tx.PutJob(o.j); err != nil {
			return err
		}
	}
	return nil
}
