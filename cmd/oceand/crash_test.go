package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"oceand/config"
	"oceand/daemon"
	"oceand/port/emulator"
	"oceand/store"
)

// The crash tests run the real binary against an emulator served by the
// test process, kill it with SIGKILL at a chosen point of a slow resync,
// start it again and check that the resume chain converged: Port holds
// exactly what an uninterrupted run produces, the chain ends succeeded,
// and no entity was sent twice unless its request was in flight at the
// kill. The database passes bbolt's consistency check afterwards.

// buildBinary builds oceand into a temp dir.
func buildBinary(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "oceand")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build oceand: %v\n%s", err, out)
	}
	return bin
}

// writeProxy sits in front of the emulator. It counts every entity sent to
// Port and, once armed, holds every write (upserts, deletes and the
// reconciliation's listing) until release: those requests are in flight
// when the daemon is killed.
type writeProxy struct {
	emu http.Handler

	mu        sync.Mutex
	sent      map[string]int  // blueprint/identifier -> times sent
	inFlight  map[string]bool // entities of held requests
	accepted  int64           // entities Port answered for (bulk 200)
	active    int             // writes between the gate and their answer
	armed     bool            // writes are held
	armOn     func(*http.Request) bool
	armedCh   chan struct{} // closed when armed
	release   chan struct{} // closed to let held requests through
	running   chan struct{} // closed at the first resync-state report
	sawReport bool
	// lastStatus is the last resync state reported to Port (the
	// emulator's own record is shared with its handlers).
	lastStatus string
	listings   int // datasource listings seen
}

func newWriteProxy(emu http.Handler) *writeProxy {
	return &writeProxy{emu: emu, sent: map[string]int{}, inFlight: map[string]bool{},
		armedCh: make(chan struct{}), release: make(chan struct{}), running: make(chan struct{})}
}

func isWrite(r *http.Request) bool {
	p := r.URL.Path
	return (r.Method == http.MethodPost && (strings.HasSuffix(p, "/entities/bulk") || strings.HasSuffix(p, "/entities") ||
		strings.HasSuffix(p, "/bulk/entities/delete") || p == "/v1/blueprints/entities/datasource-entities")) ||
		(r.Method == http.MethodDelete && strings.Contains(p, "/entities/"))
}

// entitiesOf returns blueprint/identifier of the entities an upsert sends.
func entitiesOf(r *http.Request, body []byte) []string {
	parts := strings.Split(r.URL.Path, "/") // /v1/blueprints/{bp}/entities[/bulk]
	if len(parts) < 5 || parts[4] != "entities" || r.Method != http.MethodPost {
		return nil
	}
	bp := parts[3]
	var bulk struct {
		Entities []struct {
			Identifier string `json:"identifier"`
		} `json:"entities"`
		Identifier string `json:"identifier"`
	}
	_ = json.Unmarshal(body, &bulk)
	if bulk.Identifier != "" {
		return []string{bp + "/" + bulk.Identifier}
	}
	var out []string
	for _, e := range bulk.Entities {
		out = append(out, bp+"/"+e.Identifier)
	}
	return out
}

// disarm lets writes through again (the daemon was killed): the in-flight
// set is what was held until now.
func (p *writeProxy) disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.armOn = false, nil
}

func (p *writeProxy) arm() {
	if !p.armed {
		p.armed = true
		close(p.armedCh)
	}
}

func (p *writeProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/resync-state") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var report struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(body, &report)
		p.mu.Lock()
		p.lastStatus = report.Status
		if !p.sawReport {
			p.sawReport = true
			close(p.running)
		}
		p.mu.Unlock()
	}
	if !isWrite(r) {
		p.emu.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ids := entitiesOf(r, body)
	p.mu.Lock()
	if r.URL.Path == "/v1/blueprints/entities/datasource-entities" {
		p.listings++
	}
	if !p.armed && p.armOn != nil && p.armOn(r) {
		p.arm()
	}
	held := p.armed
	for _, id := range ids {
		p.sent[id]++
		if held {
			p.inFlight[id] = true
		}
	}
	if !held {
		p.active++
	}
	p.mu.Unlock()
	if held {
		<-p.release // Port gets it after the kill: the daemon never learns
	}
	rec := httptest.NewRecorder()
	p.emu.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	if !held {
		p.mu.Lock()
		p.active--
		if rec.Code == http.StatusOK && strings.HasSuffix(r.URL.Path, "/entities/bulk") {
			p.accepted += int64(len(ids))
		}
		p.mu.Unlock()
	}
}

// quiet reports whether every write the daemon sent before the hold was
// answered and counted by it: then only held requests are in flight.
func (p *writeProxy) quiet(j *store.Job) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.armed && p.active == 0 && j.Totals.Upserted == p.accepted
}

// crashEnv is the environment of the binary: the fake source, slow.
func crashEnv(url, stateDir string, latencyMS int, listener string) []string {
	return []string{
		"OCEAN__PORT__BASE_URL=" + url,
		"OCEAN__PORT__CLIENT_ID=crash-id",
		"OCEAN__PORT__CLIENT_SECRET=crash-secret",
		"OCEAN__INTEGRATION__TYPE=fake",
		"OCEAN__INTEGRATION__IDENTIFIER=crash-test",
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=300",
		"OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN=true",
		"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE=10",
		fmt.Sprintf("OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS=%d", latencyMS),
		"OCEAN__EVENT_LISTENER__TYPE=" + listener,
		"OCEAN__STATE_DIR=" + stateDir,
		"OCEAN__LOG_FORMAT=json",
		"PATH=" + os.Getenv("PATH"),
	}
}

// seedPort runs the daemon in-process once on stateDir with other person
// data (revision 1) and 50 more persons: the crash run then changes every
// person and leaves 50 stale ones for the reconciliation.
func seedPort(t *testing.T, url, stateDir string) {
	t.Helper()
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Flags: map[string]string{
		"port.base_url": url, "port.client_id": "crash-id", "port.client_secret": "crash-secret",
		"integration.type": "fake", "integration.identifier": "crash-test",
		"integration.config":  `{"entity_amount": 350, "single_department_run": true, "revision": 1, "changed_percent": 100}`,
		"event_listener.type": config.ListenerOnce, "state_dir": stateDir,
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(s, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("seed run: %v", err)
	}
}

// portContent is every entity in the emulator without its timestamps.
func portContent(emu *emulator.Server) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, bp := range emu.Blueprints() {
		for _, id := range emu.Identifiers(bp) {
			e := emu.Entity(bp, id)
			for _, k := range []string{"createdAt", "updatedAt", "createdBy", "updatedBy"} {
				delete(e, k)
			}
			out[bp+"/"+id] = e
		}
	}
	return out
}

// referenceContent is what Port holds after the same runs with no crash.
func referenceContent(t *testing.T, bin string) map[string]map[string]any {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "crash-id", ClientSecret: "crash-secret"})
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	dir := t.TempDir()
	seedPort(t, srv.URL, dir)
	cmd := exec.Command(bin, "run")
	cmd.Dir, cmd.Env = t.TempDir(), crashEnv(srv.URL, dir, 0, config.ListenerOnce)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	return portContent(emu)
}

type killPoint struct {
	name string
	// armAt holds writes once the running job looks like this.
	armAt func(j *store.Job) bool
	// armOn holds writes from this request on.
	armOn func(r *http.Request) bool
	// optional: the build may never reach this point (reconciliation is
	// built separately); the row is skipped when the job ends first.
	optional bool
}

func personKind(j *store.Job) store.KindProgress {
	for _, k := range j.Kinds {
		if k.Kind == "fake-person" {
			return k
		}
	}
	return store.KindProgress{}
}

func TestCrashResume(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	want := referenceContent(t, bin)
	if len(want) < 300 {
		t.Fatalf("reference run left %d entities", len(want))
	}
	bulks := 0
	points := []killPoint{
		{name: "fetch", armAt: func(j *store.Job) bool {
			k := personKind(j)
			return k.State == store.KindRunning && k.Fetched >= 40
		}},
		{name: "upserts", armOn: func(r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/fake-person/entities/bulk") {
				bulks++
				return bulks == 12
			}
			return false
		}},
		{name: "reconciliation", optional: true, armOn: func(r *http.Request) bool {
			return r.URL.Path == "/v1/blueprints/entities/datasource-entities"
		}},
	}
	for _, kp := range points {
		t.Run(kp.name, func(t *testing.T) {
			crashAndResume(t, bin, kp, want)
		})
	}
}

func crashAndResume(t *testing.T, bin string, kp killPoint, want map[string]map[string]any) {
	emu := emulator.New(emulator.Config{ClientID: "crash-id", ClientSecret: "crash-secret"})
	proxy := newWriteProxy(emu.Handler())
	proxy.armOn = kp.armOn
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	direct := httptest.NewServer(emu.Handler())
	defer direct.Close()
	dir := t.TempDir()
	seedPort(t, direct.URL, dir) // not through the proxy: it counts the crash run only

	var logs bytes.Buffer
	cmd := exec.Command(bin, "run")
	cmd.Dir, cmd.Env, cmd.Stderr = t.TempDir(), crashEnv(srv.URL, dir, 40, config.ListenerOnce), &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if t.Failed() {
			t.Logf("first run's log:\n%s", logs.String())
		}
	}()

	// Whatever happens, the process and the held requests do not outlive
	// the test.
	defer func() { _ = cmd.Process.Kill() }()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(proxy.release) }) }
	defer release()

	// The job runs once it reports to Port; its live record comes over
	// the control socket.
	select {
	case <-proxy.running:
	case err := <-exited:
		t.Fatalf("oceand exited before the resync started: %v", err)
	}
	client := daemon.NewClient(dir)
	defer client.Close()
	// A safety net, not a wait: the loop below ends on events.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	state, err := client.State(ctx)
	if err != nil || state.Running == nil {
		t.Fatalf("state of the running daemon: %+v, %v", state, err)
	}
	jobID := state.Running.ID
	snapshots := make(chan *store.Job)
	go func() {
		_, _ = client.Follow(ctx, jobID, func(j *store.Job) error {
			select {
			case snapshots <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var latest *store.Job
	armed := proxy.armedCh
	for latest == nil || !proxy.quiet(latest) {
		select {
		case j := <-snapshots:
			latest = j
			if kp.armAt != nil && kp.armAt(j) {
				proxy.mu.Lock()
				proxy.arm()
				proxy.mu.Unlock()
			}
		case <-armed:
			armed = nil
			j, err := client.Job(ctx, jobID)
			if err != nil {
				t.Fatal(err)
			}
			latest = j
		case err := <-exited:
			release()
			if kp.optional {
				proxy.mu.Lock()
				listings := proxy.listings
				proxy.mu.Unlock()
				if listings == 0 {
					t.Skipf("the job ended (%v) without listing Port's entities: this build does not reconcile", err)
				}
			}
			t.Fatalf("oceand exited before the kill point: %v", err)
		case <-ctx.Done():
			t.Fatalf("the kill point was not reached: last record %+v", latest)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	cancel()
	proxy.disarm()
	proxy.mu.Lock()
	inFlight := len(proxy.inFlight)
	proxy.mu.Unlock()
	release() // the held writes reach Port after the daemon died

	// Restart: the job found running is resumed and finishes. The same
	// integration.config: with other source settings it would not be a
	// resume but a new chain.
	cmd = exec.Command(bin, "run")
	cmd.Dir, cmd.Env = t.TempDir(), crashEnv(srv.URL, dir, 40, config.ListenerOnce)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}

	// Port holds exactly what an uninterrupted run leaves.
	got := portContent(emu)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s missing in Port", k)
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s in Port, not in the reference", k)
		}
	}
	// Sent twice: only entities in flight at the kill.
	proxy.mu.Lock()
	twice := 0
	for id, n := range proxy.sent {
		switch {
		case n > 2 || (n == 2 && !proxy.inFlight[id]):
			t.Errorf("%s sent %d times (in flight at the kill: %v)", id, n, proxy.inFlight[id])
		case n == 2:
			twice++
		}
	}
	proxy.mu.Unlock()
	t.Logf("killed with %d entities in flight; %d sent twice", inFlight, twice)

	// The chain: job 1 interrupted, resumed, ended succeeded; the file is
	// consistent.
	st, err := store.Open(daemon.StatePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Errorf("bbolt check: %v", err)
	}
	list, err := st.ListJobs(store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// list[last] is the seed run; the crashed run is the next one.
	crashed := list[len(list)-2]
	last := list[0]
	if crashed.State != store.JobInterrupted {
		t.Errorf("crashed job %d is %s, want interrupted", crashed.ID, crashed.State)
	}
	if last.State != store.JobSucceeded || last.ChainID != crashed.ID || last.ResumeOf != crashed.ID ||
		!last.ChainStartedAt.Equal(*crashed.ChainStartedAt) {
		t.Errorf("chain end = job %d %s, chain %d, resumes %d, chain start %v; want succeeded resume of %d from %v",
			last.ID, last.State, last.ChainID, last.ResumeOf, last.ChainStartedAt, crashed.ID, crashed.ChainStartedAt)
	}
}

func TestSIGTERMStopsTheJobAndExitsZero(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	emu := emulator.New(emulator.Config{ClientID: "crash-id", ClientSecret: "crash-secret"})
	proxy := newWriteProxy(emu.Handler())
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	dir := t.TempDir()

	cmd := exec.Command(bin, "run")
	var logs bytes.Buffer
	cmd.Dir, cmd.Env, cmd.Stderr = t.TempDir(), crashEnv(srv.URL, dir, 40, config.ListenerPolling), &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-proxy.running
	client := daemon.NewClient(dir)
	defer client.Close()
	errMidway := errors.New("midway")
	_, err := client.Follow(t.Context(), 1, func(j *store.Job) error {
		if personKind(j).Fetched > 0 {
			return errMidway
		}
		return nil
	})
	if !errors.Is(err, errMidway) {
		t.Fatalf("follow: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	proxy.mu.Lock()
	status := proxy.lastStatus
	proxy.mu.Unlock()
	if status != "aborted" {
		t.Errorf("Port resync state = %q, want aborted", status)
	}
	st, err := store.Open(daemon.StatePath(dir), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := st.GetJob(1)
	resume, _ := st.GetJob(2)
	st.Close()
	if first.State != store.JobInterrupted || resume == nil || resume.ResumeOf != 1 || resume.State != store.JobQueued {
		t.Fatalf("after SIGTERM: job 1 %s, job 2 %+v; want interrupted and a queued resume", first.State, resume)
	}
	cmd = exec.Command(bin, "run")
	cmd.Dir, cmd.Env = t.TempDir(), crashEnv(srv.URL, dir, 40, config.ListenerOnce)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	if n := emu.EntityCount("fake-person"); n != 300 {
		t.Errorf("persons in Port = %d, want 300", n)
	}
}
