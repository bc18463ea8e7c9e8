package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"oceand/store"
)

// TestPollingDaemonEndToEnd runs the real binaries as a user would:
// `oceand port-emulator` in one process, `oceand run` in POLLING mode in
// another. A mapping change made in "Port" reaches the daemon by polling
// alone (no inbound network), its new entities appear, and SIGTERM ends
// the daemon cleanly.
func TestPollingDaemonEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	const id, secret = "e2e-id", "e2e-secret-value"

	emu := exec.Command(bin, "port-emulator", "--addr", "127.0.0.1:0", "--client-id", id, "--client-secret", secret, "--log-format", "json")
	emuOut, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Process.Kill(); emu.Wait() })
	url := firstLine(t, emuOut)

	// The integration exists in Port with a mapping of departments only.
	p := &portAPI{t: t, url: url, id: id, secret: secret}
	p.do(http.MethodPost, "/v1/integration", map[string]any{"installationId": "e2e", "config": map[string]any{
		"resources": []any{departmentResource()},
	}})

	stateDir := t.TempDir()
	daemon := exec.Command(bin, "run", "--state-dir", stateDir)
	daemon.Env = []string{
		"OCEAN__PORT__BASE_URL=" + url,
		"OCEAN__PORT__CLIENT_ID=" + id,
		"OCEAN__PORT__CLIENT_SECRET=" + secret,
		"OCEAN__INTEGRATION__TYPE=fake",
		"OCEAN__INTEGRATION__IDENTIFIER=e2e",
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=25",
		"OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN=true",
		"OCEAN__EVENT_LISTENER__TYPE=POLLING",
		"OCEAN__EVENT_LISTENER__INTERVAL=1",
		"OCEAN__LOG_FORMAT=json",
	}
	logs := &lockedBuffer{}
	stderr, err := daemon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			logs.write(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "oceand is running") {
				once.Do(func() { close(running) })
			}
		}
		exited <- daemon.Wait()
	}()
	t.Cleanup(func() { daemon.Process.Kill() })
	select {
	case <-running:
	case err := <-exited:
		t.Fatalf("daemon exited at start: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon never became ready\n%s", logs.String())
	}

	// resyncOnStart: departments only.
	if j := followJob(t, bin, stateDir, 1); j.State != store.JobSucceeded {
		t.Fatalf("job 1 = %s: %s\n%s", j.State, j.Error, logs.String())
	}
	if n := p.count("fake-department"); n != 1 {
		t.Errorf("departments = %d, want 1", n)
	}
	if n := p.count("fake-person"); n != 0 {
		t.Errorf("persons before the mapping change = %d, want 0", n)
	}

	// A user adds persons to the mapping in Port.
	p.do(http.MethodPatch, "/v1/integration/e2e/config", map[string]any{"config": map[string]any{
		"resources": []any{departmentResource(), personResource()},
	}})
	j := followJob(t, bin, stateDir, 2)
	if j.State != store.JobSucceeded || !strings.HasPrefix(j.Trigger, "poll:") {
		t.Fatalf("job 2 = %s (%s): %s\n%s", j.State, j.Trigger, j.Error, logs.String())
	}
	if n := p.count("fake-person"); n != 25 {
		t.Errorf("persons after the mapping change = %d, want 25", n)
	}

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not exit after SIGTERM\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the client secret appears in the daemon's logs")
	}
}

func departmentResource() map[string]any {
	return map[string]any{"kind": "fake-department", "selector": map[string]any{"query": "true"},
		"port": map[string]any{"entity": map[string]any{"mappings": map[string]any{
			"identifier": ".id", "title": ".name", "blueprint": `"fake-department"`,
		}}}}
}

func personResource() map[string]any {
	return map[string]any{"kind": "fake-person", "selector": map[string]any{"query": "true"},
		"port": map[string]any{"entity": map[string]any{"mappings": map[string]any{
			"identifier": ".id", "title": ".name", "blueprint": `"fake-person"`,
			"properties": map[string]any{"email": ".email"},
			"relations":  map[string]any{"department": ".department.id"},
		}}}}
}

// followJob waits for job id through the CLI, as an operator would.
func followJob(t *testing.T, bin, stateDir string, id int) *store.Job {
	t.Helper()
	out, err := exec.Command(bin, "jobs", "show", strconv.Itoa(id), "--follow", "--json", "--state-dir", stateDir).Output()
	if err != nil {
		t.Fatalf("jobs show %d --follow: %v\n%s", id, err, out)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var j store.Job
	if err := json.Unmarshal(lines[len(lines)-1], &j); err != nil {
		t.Fatalf("jobs show %d --follow: %v\n%s", id, err, out)
	}
	return &j
}

func firstLine(t *testing.T, r io.Reader) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "http://") {
			t.Fatalf("port-emulator printed %q, want its URL", l)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("port-emulator printed no URL")
	}
	return ""
}

// portAPI calls the emulator as a user's script would.
type portAPI struct {
	t               *testing.T
	url, id, secret string
	token           string
}

func (p *portAPI) do(method, path string, body any) map[string]any {
	p.t.Helper()
	if p.token == "" {
		var tok struct{ AccessToken string }
		p.raw(http.MethodPost, "/v1/auth/access_token", map[string]string{"clientId": p.id, "clientSecret": p.secret}, &tok)
		p.token = tok.AccessToken
	}
	var out map[string]any
	p.raw(method, path, body, &out)
	return out
}

func (p *portAPI) raw(method, path string, body, out any) {
	p.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, p.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		p.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
}

func (p *portAPI) count(blueprint string) int {
	p.t.Helper()
	out := p.do(http.MethodGet, "/v1/blueprints/"+blueprint+"/entities", nil)
	list, _ := out["entities"].([]any)
	return len(list)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) write(s string) {
	b.mu.Lock()
	b.buf.WriteString(s)
	b.mu.Unlock()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
