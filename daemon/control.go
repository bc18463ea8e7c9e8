package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"oceand/jobs"
	"oceand/store"
)

// The control API is HTTP over the unix socket stateDir/oceand.sock, mode
// 0600: whoever may read the state directory may drive the daemon, nobody
// else. The CLI uses it while a daemon runs, because the daemon holds the
// database's exclusive lock. Routes:
//
//	GET  /v1/state               State
//	GET  /v1/jobs?limit=&state=  []store.Job, newest first (kinds=0: without kinds)
//	GET  /v1/jobs/{id}           store.Job (live while it runs)
//	GET  /v1/jobs/{id}/follow    NDJSON: the job at every change until it ends
//	POST /v1/resync              ResyncRequest -> jobs.Enqueued (202)
//	POST /v1/cancel              CancelRequest -> store.Job
//
// Errors are {"error": "..."} with a 4xx or 5xx status.

// ResyncRequest is the body of POST /v1/resync.
type ResyncRequest struct {
	Reason string `json:"reason"`
	DryRun bool   `json:"dryRun"`
}

// CancelRequest is the body of POST /v1/cancel; ID 0 is the running job.
type CancelRequest struct {
	ID     uint64 `json:"id"`
	Reason string `json:"reason"`
}

type controlServer struct {
	path   string
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{}
	logger *slog.Logger
}

// startControl listens on the control socket. A socket file left by a
// daemon that died is removed: this process holds the database lock, so no
// other daemon can be serving it.
func (d *Daemon) startControl() (*controlServer, error) {
	path := SocketPath(d.settings.StateDir)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: the file exists and is not a socket; remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
		d.logger.Debug("removed a stale control socket", "path", path)
	}
	// A deep stateDir is bound through a short stand-in path; the socket
	// file is created at path all the same.
	var ln *net.UnixListener
	if err := viaShortPath(path, func(short string) error {
		l, err := net.Listen("unix", short)
		if err != nil {
			return err
		}
		ln = l.(*net.UnixListener)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The stand-in is gone: stop removes the file by its real path.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("control socket: %w", err), ln.Close(), os.Remove(path))
	}
	base, cancel := context.WithCancel(context.Background())
	c := &controlServer{path: path, cancel: cancel, done: make(chan struct{}), logger: d.logger}
	c.srv = &http.Server{
		Handler:           d.controlRoutes(),
		ReadHeaderTimeout: 5 * time.Second,
		// Requests end when the daemon stops: a --follow stream too.
		BaseContext: func(net.Listener) context.Context { return base },
	}
	go func() {
		defer close(c.done)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("control socket stopped", "err", err)
		}
	}()
	d.logger.Debug("control socket listening", "path", path)
	return c, nil
}

func (c *controlServer) stop() {
	c.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		c.logger.Warn("control socket: requests still open at shutdown were cut", "err", err)
	}
	<-c.done
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger.Warn("could not remove the control socket", "path", c.path, "err", err)
	}
}

func (d *Daemon) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.liveState()
		reply(w, http.StatusOK, st, err)
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		opts := store.ListOptions{State: store.JobState(q.Get("state")), NoKinds: q.Get("kinds") == "0"}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 0 {
				replyError(w, http.StatusBadRequest, fmt.Errorf("limit must be a number ≥ 0, got %q", l))
				return
			}
			opts.Limit = n
		}
		list, err := d.engine.ListJobs(opts)
		if list == nil {
			list = []*store.Job{}
		}
		reply(w, http.StatusOK, list, err)
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := jobID(w, r)
		if !ok {
			return
		}
		j, err := d.engine.Job(id)
		reply(w, http.StatusOK, j, err)
	})
	mux.HandleFunc("GET /v1/jobs/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		id, ok := jobID(w, r)
		if !ok {
			return
		}
		rep, err := d.store.GetReport(id)
		reply(w, http.StatusOK, rep, err)
	})
	mux.HandleFunc("GET /v1/jobs/{id}/follow", d.handleFollow)
	mux.HandleFunc("POST /v1/resync", func(w http.ResponseWriter, r *http.Request) {
		var req ResyncRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Reason == "" {
			req.Reason = "oceand resync"
		}
		out, err := d.engine.Enqueue(jobs.Request{Trigger: jobs.TriggerCLI, Reason: req.Reason, DryRun: req.DryRun})
		reply(w, http.StatusAccepted, out, err)
	})
	mux.HandleFunc("POST /v1/cancel", func(w http.ResponseWriter, r *http.Request) {
		var req CancelRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Reason == "" {
			req.Reason = "oceand cancel"
		}
		j, err := d.engine.Cancel(req.ID, req.Reason)
		reply(w, http.StatusOK, j, err)
	})
	return mux
}

// handleFollow streams the job as NDJSON: now, at every change, and once
// more when it ends.
func (d *Daemon) handleFollow(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	// A job that does not exist yet (an id above the newest) is waited
	// for: `jobs show N --follow` right after a trigger is not a race.
	for {
		changed := d.engine.Changed()
		_, err := d.engine.Job(id)
		if err == nil {
			break
		}
		newest, lerr := d.engine.ListJobs(store.ListOptions{Limit: 1, NoKinds: true})
		if !errors.Is(err, store.ErrJobNotFound) || lerr != nil || (len(newest) > 0 && newest[0].ID >= id) {
			reply(w, 0, nil, err)
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
	var j *store.Job
	var err error
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var last []byte
	for {
		changed := d.engine.Changed()
		if j, err = d.engine.Job(id); err != nil {
			return // pruned meanwhile: the stream just ends
		}
		data, err := json.Marshal(j)
		if err != nil {
			return // headers are sent: ending the stream is the only way to say it
		}
		if string(data) != string(last) {
			if err := enc.Encode(json.RawMessage(data)); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			last = data
		}
		if j.State.Terminal() {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

func jobID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		replyError(w, http.StatusBadRequest, fmt.Errorf("job id must be a number, got %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// decode reads exactly one JSON value: anything after it but white space
// is refused, so a garbled request is never half-obeyed.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		replyError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	end := dec.InputOffset()
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		replyError(w, http.StatusBadRequest, fmt.Errorf("request body: unexpected data after the JSON value, at byte %d: one JSON object is expected", end))
		return false
	}
	return true
}

// reply writes v, or err with the status its kind calls for.
func reply(w http.ResponseWriter, status int, v any, err error) {
	switch {
	case errors.Is(err, store.ErrJobNotFound):
		replyError(w, http.StatusNotFound, err)
	case errors.Is(err, jobs.ErrNotRunning):
		replyError(w, http.StatusConflict, err)
	case err != nil:
		replyError(w, http.StatusInternalServerError, err)
	default:
		writeBody(w, status, v)
	}
}

func replyError(w http.ResponseWriter, status int, err error) {
	writeBody(w, status, map[string]string{"error": err.Error()})
}

// writeBody answers v as JSON. It is encoded before anything is sent, so a
// value that cannot be encoded becomes a 500 rather than a cut answer.
func writeBody(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, err = json.Marshal(map[string]string{"error": "encode the answer: " + err.Error()})
		if err != nil {
			panic(err) // a map of strings always encodes
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client hung up: nobody is left to tell.
	if _, err := w.Write(append(data, '\n')); err != nil {
		return
	}
}
