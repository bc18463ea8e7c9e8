// Package jobs runs resync jobs one at a time from a durable queue in the
// store. Every state change is written before it takes effect, so a restart
// loses no trigger, no progress and no history.
//
// # Triggers and the queue
//
// At most one job runs and at most one waits. A trigger (Enqueue) that
// finds a job waiting merges into it: the reasons are kept, nothing new is
// queued. Otherwise the resync policy decides what a trigger does to a
// running job:
//
//   - supersede (default): the running job is cancelled with a
//     *SupersededError cause and recorded `superseded`, with the id of the
//     job that replaced it; the new job starts as soon as it stopped.
//   - queue: the new job waits for the running one.
//   - skip: the trigger is dropped (its listener state is still written).
//
// A dry run never supersedes a real resync, and a real trigger always
// supersedes a running dry run: a plan must not hold back a sync.
//
// # Resume
//
// A job that was running when the daemon stopped (a signal, or a crash
// found at the next Open) is recorded `interrupted`, and in the same
// transaction a `resume` job is queued: it carries ResumeOf, the chain id
// and the chain's start time, so the resync skips the kinds the interrupted
// job completed and reconciles against the chain's start. A chain is
// resumed at most MaxResumeAttempts times; then its last job is recorded
// `failed` and the next trigger starts a fresh chain.
//
// # Progress
//
// A running job changes its record through Progress.Update, in memory; a
// flusher writes the changed kinds every ProgressInterval in one
// transaction, so a resync of a million entities costs a few writes per
// second, not one per entity. Readers in the daemon (the control socket)
// see the live record; readers of the database see it at most one interval
// late.
package jobs
