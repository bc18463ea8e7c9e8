package main

import (
	"bufio"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
)

func TestSIGHUPIsLoggedAndTheDaemonRunsOn(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	emu := emulator.New(emulator.Config{ClientID: "crash-id", ClientSecret: "crash-secret"})
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	dir := t.TempDir()

	cmd := exec.Command(bin, "run")
	cmd.Dir, cmd.Env = t.TempDir(), append(crashEnv(srv.URL, dir, 0, config.ListenerPolling), "OCEAN__EVENT_LISTENER__RESYNC_ON_START=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			if err := cmd.Process.Kill(); err != nil {
				t.Errorf("kill oceand: %v", err)
			}
		}
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var seen []string
	waitLine := func(want string) string {
		t.Helper()
		timeout := time.NewTimer(60 * time.Second) // a safety net, not a wait
		defer timeout.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("oceand's log ended before %q:\n%s", want, strings.Join(seen, "\n"))
				}
				seen = append(seen, l)
				if strings.Contains(l, want) {
					return l
				}
			case <-timeout.C:
				t.Fatalf("no log line %q:\n%s", want, strings.Join(seen, "\n"))
			}
		}
	}
	waitLine("oceand is running")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if l := waitLine("received SIGHUP"); !strings.Contains(l, `"level":"WARN"`) {
		t.Errorf("SIGHUP line = %s", l)
	}
	client := daemon.NewClient(dir)
	defer client.Close()
	if _, err := client.State(t.Context()); err != nil {
		t.Fatalf("the daemon does not answer after SIGHUP: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine("stopping")
	for range lines { // drain, so Wait can close the pipe
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
