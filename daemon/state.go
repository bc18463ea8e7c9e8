package daemon

import (
	"fmt"
	"os"
	"time"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/listeners"
	"oceand/scheduler"
	"oceand/store"
)

// State is what `oceand state` shows: the daemon (when one runs), the
// integration, the last success, the running and waiting jobs and the next
// scheduled run. The same struct comes from the control socket and, with
// no daemon, from the database.
type State struct {
	Integration string `json:"integration"`
	Type        string `json:"type"`
	// Daemon is nil when no daemon answers.
	Daemon *DaemonInfo `json:"daemon,omitempty"`
	// NoControlSocket: a daemon runs (it holds the database) but serves
	// no control socket; the rest was read from a copy of the database.
	NoControlSocket bool `json:"noControlSocket,omitempty"`
	// ConfigHash is the integration config hash the polling listener last
	// saw.
	ConfigHash   string     `json:"configHash,omitempty"`
	ResyncPolicy string     `json:"resyncPolicy"`
	LastSuccess  *store.Job `json:"lastSuccess,omitempty"`
	LastJob      *store.Job `json:"lastJob,omitempty"`
	Running      *store.Job `json:"running,omitempty"`
	Queued       *store.Job `json:"queued,omitempty"`
	Schedule     *Schedule  `json:"schedule,omitempty"`
	// Superseded is the run of superseded jobs with none completed since.
	Superseded store.Streak `json:"superseded"`
	// Port is what the running daemon last saw of Port; Poll the
	// polling listener's last polls. Both only from a running daemon.
	Port     *PortStatus           `json:"port,omitempty"`
	Poll     *listeners.PollStatus `json:"poll,omitempty"`
	Warnings []string              `json:"warnings,omitempty"`
}

// DaemonInfo describes the running daemon.
type DaemonInfo struct {
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Listener  string    `json:"listener"`
	StartedAt time.Time `json:"startedAt"`
}

// Schedule is the scheduled resync.
type Schedule struct {
	Spec    string     `json:"spec"`
	NextRun *time.Time `json:"nextRun,omitempty"`
}

// supersedeWarning is the streak of superseded jobs that `oceand state`
// warns about.
const supersedeWarning = 3

// ReadState reads the state from the database. s supplies what the
// database may not hold yet (a daemon never started on it); it may be nil.
func ReadState(st *store.Store, s *config.Settings) (*State, error) {
	out := &State{}
	if s != nil {
		out.Integration, out.Type, out.ResyncPolicy = s.Integration.Identifier, s.Integration.Type, s.ResyncPolicy
	}
	err := st.View(func(tx *store.Tx) error {
		if v := tx.Value(store.KeyIdentifier); v != nil {
			out.Integration = string(v)
		}
		if v := tx.Value(store.KeyType); v != nil {
			out.Type = string(v)
		}
		out.ConfigHash = string(tx.Value(store.KeyConfigHash))
		return nil
	})
	if err != nil {
		return nil, err
	}
	one := func(state store.JobState) (*store.Job, error) {
		j, err := st.LastJob(state)
		if err != nil {
			return nil, fmt.Errorf("read the %s job: %w", state, err)
		}
		return j, nil
	}
	if out.LastSuccess, err = lastSuccess(st); err != nil {
		return nil, err
	}
	if out.Running, err = one(store.JobRunning); err != nil {
		return nil, err
	}
	queued, err := st.ListJobs(store.ListOptions{State: store.JobQueued})
	if err != nil {
		return nil, err
	}
	if n := len(queued); n > 0 {
		out.Queued = queued[n-1] // the oldest waits first
	}
	last, err := st.ListJobs(store.ListOptions{Limit: 1, NoKinds: true})
	if err != nil {
		return nil, err
	}
	if len(last) > 0 && last[0].State.Terminal() {
		out.LastJob = last[0]
	}
	if out.Superseded, err = st.SupersededStreak(); err != nil {
		return nil, err
	}
	spec, next, ok, err := scheduler.Stored(st)
	if err != nil {
		return nil, err
	}
	if spec != "" {
		out.Schedule = &Schedule{Spec: spec}
		if ok {
			out.Schedule.NextRun = &next
		}
	}
	out.warn()
	return out, nil
}

// lastSuccess is the newest succeeded job that was not a dry run: a dry
// run wrote nothing to Port, so it is no success of the integration's.
func lastSuccess(st *store.Store) (*store.Job, error) {
	j, err := st.LastJob(store.JobSucceeded)
	if err != nil || j == nil || !j.DryRun {
		if err != nil {
			err = fmt.Errorf("read the succeeded job: %w", err)
		}
		return j, err
	}
	// The history is bounded (jobHistoryLimit): a scan without kinds.
	list, err := st.ListJobs(store.ListOptions{State: store.JobSucceeded, NoKinds: true})
	if err != nil {
		return nil, fmt.Errorf("read the succeeded jobs: %w", err)
	}
	for _, j := range list {
		if !j.DryRun {
			return st.GetJob(j.ID)
		}
	}
	return nil, nil
}

// ReadStateOfSilentDaemon reads the state from a copy of the database of
// a daemon that runs without its control socket.
func ReadStateOfSilentDaemon(st *store.Store, s *config.Settings) (*State, error) {
	out, err := ReadState(st, s)
	if err != nil {
		return nil, err
	}
	out.NoControlSocket = true
	out.warn()
	return out, nil
}

func (s *State) warn() {
	s.Warnings = nil
	if n := s.Superseded.Superseded; n >= supersedeWarning {
		since := "ever"
		if s.Superseded.Since != nil {
			since = "since " + s.Superseded.Since.Local().Format(time.DateTime)
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d resyncs in a row were superseded before completing; none has completed %s "+
			"(consider resyncPolicy queue, or fewer triggers)", n, since))
	}
	if s.NoControlSocket {
		s.Warnings = append(s.Warnings, "the daemon serves no control socket (--no-control-socket): this state is read from a copy of its database, "+
			"without live progress; resync and cancel need the socket")
	}
	if s.Daemon == nil && !s.NoControlSocket && s.Running != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("job %d is recorded running but no daemon is running: "+
			"oceand was killed; the next start resumes it", s.Running.ID))
	}
}

// liveState is the state as the running daemon sees it: the live record of
// the running job and its own schedule.
func (d *Daemon) liveState() (*State, error) {
	out, err := ReadState(d.store, d.settings)
	if err != nil {
		return nil, err
	}
	out.Daemon = &DaemonInfo{PID: os.Getpid(), Version: buildinfo.Version, Listener: d.settings.EventListener.Type, StartedAt: d.startedAt}
	out.ResyncPolicy = string(d.engine.Policy())
	out.Running = d.engine.Running()
	if d.watch != nil {
		out.Port = d.watch.Status()
	}
	d.healthMu.Lock()
	poll := d.poll
	d.healthMu.Unlock()
	if poll != nil {
		out.Poll = poll.Status()
	}
	if d.sched != nil && d.sched.Enabled() {
		out.Schedule = &Schedule{Spec: d.sched.Describe()}
		if next, ok := d.sched.NextRun(); ok {
			out.Schedule.NextRun = &next
		}
	} else {
		out.Schedule = nil
	}
	out.warn()
	return out, nil
}
