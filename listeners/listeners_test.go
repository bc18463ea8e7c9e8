package listeners_test

import (
	"context"
	"errors"
	"sync"

	"oceand/listeners"
)

// memQueue is an in-memory job engine: it records triggers and writes their
// state the way the real engine does, in one step with the job.
type memQueue struct {
	mu       sync.Mutex
	triggers []listeners.Trigger
	state    map[string][]byte
	fail     error
	queued   chan listeners.Trigger
	// hold makes Request, once it has queued, wait until its caller
	// gives up: a process killed after queuing, before anything else.
	hold bool
}

var _ listeners.Requester = (*memQueue)(nil)

func newMemQueue() *memQueue {
	return &memQueue{state: map[string][]byte{}, queued: make(chan listeners.Trigger, 16)}
}

func (q *memQueue) Request(ctx context.Context, t listeners.Trigger) (uint64, error) {
	q.mu.Lock()
	if q.fail != nil {
		q.mu.Unlock()
		return 0, q.fail
	}
	for k, v := range t.State {
		q.state[k] = v
	}
	q.triggers = append(q.triggers, t)
	id, hold := uint64(len(q.triggers)), q.hold
	q.mu.Unlock()
	select {
	case q.queued <- t:
	default:
	}
	if hold {
		<-ctx.Done()
	}
	return id, nil
}

func (q *memQueue) setHold(hold bool) {
	q.mu.Lock()
	q.hold = hold
	q.mu.Unlock()
}

func (q *memQueue) GetValue(key string) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state[key], nil
}

func (q *memQueue) SetValue(key string, value []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.state[key] = value
	return nil
}

func (q *memQueue) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.triggers)
}

func (q *memQueue) last() listeners.Trigger {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.triggers[len(q.triggers)-1]
}

func (q *memQueue) setFail(err error) {
	q.mu.Lock()
	q.fail = err
	q.mu.Unlock()
}

var errEngineDown = errors.New("engine down")
