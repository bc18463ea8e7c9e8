package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"oceand/port"
)

// outageLogEvery is how often a lasting Port outage is logged again.
const outageLogEvery = time.Minute

// PortStatus is what the daemon last saw of Port, for `oceand state` and
// /health/ready.
type PortStatus struct {
	Reachable bool `json:"reachable"`
	// LastOK is the last answer from Port (any answer but 502-504).
	LastOK *time.Time `json:"lastOk,omitempty"`
	// LastError and FailingSince describe the current outage.
	LastError    string     `json:"lastError,omitempty"`
	FailingSince *time.Time `json:"failingSince,omitempty"`
	// FailedAttempts counts the requests that failed in this outage.
	FailedAttempts int `json:"failedAttempts,omitempty"`
}

// portWatch sits under the Port client, below its retries: it sees every
// attempt, so an outage is known (and logged, and /health/ready says so) at
// the first failed attempt, not when the retries give up minutes later.
// It logs the first failure, then once a minute while the outage lasts,
// then the recovery.
type portWatch struct {
	next   http.RoundTripper
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	lastOK  time.Time
	lastErr error
	since   time.Time // zero while reachable
	failed  int
	lastLog time.Time
}

func (w *portWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	switch {
	case err != nil && req.Context().Err() != nil:
		// Our own cancellation says nothing about Port.
	case err != nil:
		w.failure(fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err))
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		w.failure(fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status))
	default:
		w.success()
	}
	return resp, err
}

func (w *portWatch) failure(err error) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastErr = err
	w.failed++
	if w.since.IsZero() {
		w.since, w.lastLog = now, now
		w.logger.Warn("cannot reach Port; retrying (logged again every minute while it lasts)", "err", err)
		return
	}
	if now.Sub(w.lastLog) >= outageLogEvery {
		w.lastLog = now
		w.logger.Warn("Port is still unreachable; retrying", "since", w.since, "for", now.Sub(w.since).Round(time.Second), "failed_attempts", w.failed, "err", err)
	}
}

func (w *portWatch) success() {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.since.IsZero() {
		w.logger.Info("Port is reachable again", "unreachable_for", now.Sub(w.since).Round(time.Second), "failed_attempts", w.failed)
	}
	w.lastOK, w.lastErr, w.since, w.failed = now, nil, time.Time{}, 0
}

// Status is a snapshot for `oceand state`.
func (w *portWatch) Status() *PortStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &PortStatus{Reachable: w.since.IsZero(), FailedAttempts: w.failed}
	if !w.lastOK.IsZero() {
		t := w.lastOK
		st.LastOK = &t
	}
	if !w.since.IsZero() {
		t := w.since
		st.FailingSince = &t
		st.LastError = w.lastErr.Error()
	}
	return st
}

// healthy is nil while Port answers.
func (w *portWatch) healthy() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		return nil
	}
	return fmt.Errorf("Port unreachable since %s (%d failed attempts): %v", w.since.UTC().Format(time.RFC3339), w.failed, w.lastErr)
}

// readiness is /health/ready: not ready while the integration is not
// registered, while Port cannot be reached, or while the listener is
// unhealthy (the last poll failed, Kafka assigned no partition).
func (d *Daemon) readiness() error {
	d.healthMu.Lock()
	registered, regErr, listener := d.registered, d.registerErr, d.listenerHealth
	d.healthMu.Unlock()
	if !registered {
		// The first registration retries for minutes before regErr is set;
		// the watch knows at the first failed attempt why it waits.
		if d.watch != nil {
			if err := d.watch.healthy(); err != nil {
				return fmt.Errorf("registering the integration with Port: %w", err)
			}
		}
		if regErr != nil {
			return fmt.Errorf("not registered with Port yet: %v", regErr)
		}
		return errors.New("registering the integration with Port")
	}
	if d.watch != nil {
		if err := d.watch.healthy(); err != nil {
			return err
		}
	}
	if listener != nil {
		if err := listener(); err != nil {
			return fmt.Errorf("%s listener: %w", d.settings.EventListener.Type, err)
		}
	}
	return nil
}

func (d *Daemon) setRegistered(err error) {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	d.registered, d.registerErr = err == nil, err
}

// unreachable reports whether err may pass by itself: Port did not answer,
// or answered with a status meaning "later" (5xx, 408, 429). Bad
// credentials, a refused request or a conflict with the integration's
// record are not retried: they need the user.
func unreachable(err error) bool {
	var pe *port.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Status == 0 || pe.Status >= 500 || pe.Status == http.StatusRequestTimeout || pe.Status == http.StatusTooManyRequests
}

// registerUntilDone registers the integration, retrying every
// registerRetry while Port is unreachable (and ctx lasts). A ONCE run tries
// once: its scheduler (a CronJob, systemd) decides when to try again.
func (d *Daemon) registerUntilDone(ctx context.Context, once bool) error {
	for {
		err := d.register(ctx)
		d.setRegistered(err)
		if err == nil || once || !unreachable(err) || ctx.Err() != nil {
			return err
		}
		d.logger.Error("could not register the integration with Port; retrying", "in", d.opts.RegisterRetry, "err", err)
		t := time.NewTimer(d.opts.RegisterRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped while waiting to retry)", err)
		case <-t.C:
		}
	}
}

// integrationMissing reports whether err is Port saying the integration
// does not exist (deleted in Port, or Port's data reset).
func integrationMissing(err error) bool {
	var pe *port.Error
	return errors.As(err, &pe) && pe.Status == http.StatusNotFound && strings.HasPrefix(pe.Route, "/integration/")
}

// reRegister registers the integration again, as at start, after Port
// answered that it does not exist. One at a time: the job and the
// listener may find out together.
func (d *Daemon) reRegister(ctx context.Context, cause error) error {
	d.regMu.Lock()
	defer d.regMu.Unlock()
	d.logger.Warn("the integration is missing in Port (deleted, or Port's data reset); registering it again as at start", "cause", cause)
	if err := d.register(ctx); err != nil {
		d.setRegistered(err)
		return fmt.Errorf("register the integration again: %w", err)
	}
	d.setRegistered(nil)
	return nil
}
