// Package listeners turns outside signals (a start, a poll, a webhook, a
// Kafka message) into job requests. No listener runs a resync itself: each
// hands a trigger to the job engine, which decides what runs.
package listeners

import (
	"context"
	"fmt"

	"oceand/store"
)

// Queue is the part of the job engine listeners use.
type Queue interface {
	Enqueue(trigger, reason string) (*store.Job, error)
	Wait(ctx context.Context, id uint64) (*store.Job, error)
}

// Once runs one resync and reports how it ended. The daemon exits after it,
// with status 0 only if the job succeeded.
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

// Run queues one job and waits for it. It returns the finished job, and a
// *JobError when it did not succeed.
func (o *Once) Run(ctx context.Context) (*store.Job, error) {
	j, err := o.Queue.Enqueue("start", "ONCE event listener")
	if err != nil {
		return nil, fmt.Errorf("queue resync: %w", err)
	}
	done, err := o.Queue.Wait(ctx, j.ID)
	if err != nil {
		return nil, fmt.Errorf("wait for job %d: %w", j.ID, err)
	}
	if done.State != store.JobSucceeded {
		return done, &JobError{Job: done}
	}
	return done, nil
}
