// Package listeners turns outside signals (a start, a poll, a webhook, a
// Kafka message) into job requests. No listener runs a resync itself: each
// hands a trigger to the job engine, which decides what runs.
package listeners

import (
	"context"
	"fmt"

	"oceand/jobs"
	"oceand/store"
)

// Queue is the part of the job engine listeners use.
type Queue interface {
	Enqueue(req jobs.Request) (jobs.Enqueued, error)
	Wait(ctx context.Context, id uint64) (*store.Job, error)
}

// Once waits for the one resync of the ONCE listener and reports how it
// ended. The daemon queues that resync at start-up (merged into a pending
// resume, if any) and exits after it, with status 0 only if it succeeded.
type Once struct {
	Queue Queue
}

// JobError is a job that ended in a state other than succeeded.
type JobError struct {
	Job *store.Job
}

func (e *JobError) Error() string {
	msg := fmt.Sprintf("job %d %s", e.Job.ID, e.Job.State)
	if e.Job.Error != "" {
		msg += ": " + e.Job.Error
	}
	return msg
}

// Wait waits for job id to end. A job superseded (by `oceand resync`) is
// followed by the job that replaced it. It returns the finished job, and a
// *JobError when it did not succeed.
func (o *Once) Wait(ctx context.Context, id uint64) (*store.Job, error) {
	for {
		done, err := o.Queue.Wait(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("wait for job %d: %w", id, err)
		}
		if done.State == store.JobSuperseded && done.SupersededBy != 0 {
			id = done.SupersededBy
			continue
		}
		if done.State != store.JobSucceeded {
			return done, &JobError{Job: done}
		}
		return done, nil
	}
}
