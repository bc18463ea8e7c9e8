package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"oceand/port"
)

// startEmulator runs `oceand port-emulator` until the returned stop is
// called; it returns the URL the command printed and stop, which returns
// the exit code and stderr.
func startEmulator(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"port-emulator", "--addr", "127.0.0.1:0"}, args...), pw, &errOut, nil)
		pw.Close()
	}()
	url, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no URL printed: %v; stderr %s", err, errOut.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return strings.TrimSpace(url), func() (int, string) {
		cancel()
		code := <-done
		return code, errOut.String()
	}
}

func TestPortEmulatorCommand(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "port.json")
	args := []string{"--client-id", "cli-id", "--client-secret", "emulator-secret", "--rate-limit", "1000", "--rate-period", "60", "--state", state, "--log-format", "json"}
	url, stop := startEmulator(t, args...)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, want the URL", url)
	}
	c, err := port.New(port.Config{BaseURL: url, ClientID: "cli-id", ClientSecret: "emulator-secret", IntegrationType: "fake", IntegrationIdentifier: "it"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateIntegration(ctx, map[string]any{"version": "1"}); err != nil {
		t.Fatal(err)
	}
	code, errOut := stop()
	if code != exitOK || strings.Contains(errOut, "emulator-secret") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}

	// The state file brings the integration back.
	url, stop = startEmulator(t, args...)
	c, _ = port.New(port.Config{BaseURL: url, ClientID: "cli-id", ClientSecret: "emulator-secret", IntegrationType: "fake", IntegrationIdentifier: "it"})
	if _, err := c.GetIntegration(ctx); err != nil {
		t.Errorf("integration after a restart with --state: %v", err)
	}
	if code, errOut := stop(); code != exitOK {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestPortEmulatorUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"port-emulator", "--client-id", "x"},
		{"port-emulator", "--client-id", "x", "--client-secret", "y", "--rate-period", "0"},
		{"port-emulator", "--client-id", "x", "--client-secret", "y", "--rate-limit", "-1"},
	} {
		if code, _, errOut := runCLI(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
}
