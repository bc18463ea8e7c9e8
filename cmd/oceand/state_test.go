package main

import (
	"strings"
	"testing"
	"time"

	"oceand/daemon"
	"oceand/listeners"
)

func TestStateShowsPortOutageAndLastPoll(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	since := now.Add(-4 * time.Minute)
	polled := now.Add(-10 * time.Second)
	st := &daemon.State{
		Integration: "it", Type: "fake",
		Daemon: &daemon.DaemonInfo{PID: 7, Version: "x", Listener: "POLLING", StartedAt: now.Add(-time.Hour)},
		Port:   &daemon.PortStatus{Reachable: false, FailingSince: &since, FailedAttempts: 12, LastError: "POST /v1/auth/access_token: connection refused"},
		Poll:   &listeners.PollStatus{LastPoll: &polled, LastError: "read integration: connection refused", FailingSince: &since, Failures: 3},
	}
	var b strings.Builder
	if err := writeState(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"port           UNREACHABLE since", "(4m0s ago), 12 failed attempts: POST /v1/auth/access_token: connection refused",
		"last poll      ", "(10s ago) FAILED (3 in a row, failing since", "read integration: connection refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("state lacks %q:\n%s", want, out)
		}
	}
	// Port went down after the last poll: the next one is still in the
	// Port client's retries (minutes), so the last poll reads ok, and the
	// line says the next poll waits for Port.
	down := now.Add(-30 * time.Second)
	polledBefore := now.Add(-90 * time.Second)
	st.Port = &daemon.PortStatus{Reachable: false, FailingSince: &down, FailedAttempts: 4, LastError: "GET /v1/integration/it: connection refused"}
	st.Poll = &listeners.PollStatus{LastPoll: &polledBefore, LastSuccess: &polledBefore}
	b.Reset()
	if err := writeState(&b, st, now); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "(1m30s ago), ok; Port unreachable since") {
		t.Errorf("state while a poll retries:\n%s", out)
	}

	st.Port = &daemon.PortStatus{Reachable: true, LastOK: &polled}
	st.Poll = &listeners.PollStatus{LastPoll: &polled, LastSuccess: &polled}
	b.Reset()
	if err := writeState(&b, st, now); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "port           reachable, last answer") || !strings.Contains(out, "(10s ago), ok") {
		t.Errorf("healthy state:\n%s", out)
	}
}
