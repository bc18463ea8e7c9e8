package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"oceand/jobs"
	"oceand/store"
)

// ErrNoDaemon means nothing answers on the control socket: no daemon runs
// (or it runs with --no-control-socket).
var ErrNoDaemon = errors.New("no oceand daemon answers on the control socket")

// Client talks to a running daemon over its control socket.
type Client struct {
	socket   string
	stateDir string
	http     *http.Client
}

// requestTimeout bounds every call but Follow: a daemon that accepts the
// connection and never answers must not hang the CLI.
const requestTimeout = 10 * time.Second

// NewClient returns a client of the daemon of stateDir. It does not
// connect: the first call does, and fails with ErrNoDaemon if nothing
// answers. Every connection is checked to be served by the user that owns
// stateDir (the daemon's user) or by this user; another user's server is
// refused with ErrUntrustedSocket.
func NewClient(stateDir string) *Client {
	c := &Client{socket: SocketPath(stateDir), stateDir: stateDir}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
	}}
	return c
}

// dial connects to the socket (through a short stand-in path when its own
// is too long for a unix socket) and checks who serves it.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var conn net.Conn
	err := viaShortPath(c.socket, func(short string) error {
		var err error
		conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "unix", short)
		return err
	})
	if err != nil {
		return nil, err
	}
	uid, err := peerUID(conn.(*net.UnixConn))
	if errors.Is(err, errNoPeerCred) {
		return conn, nil
	}
	if err == nil {
		err = trustedPeer(c.stateDir, uid)
	}
	if err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	return conn, nil
}

// Ping checks that a daemon listens on the socket; ErrNoDaemon if none.
func (c *Client) Ping(ctx context.Context) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return c.connErr(err)
	}
	return conn.Close()
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// State returns the daemon's state.
func (c *Client) State(ctx context.Context) (*State, error) {
	var out State
	return &out, c.call(ctx, http.MethodGet, "/v1/state", nil, &out)
}

// Jobs lists jobs, newest first.
func (c *Client) Jobs(ctx context.Context, opts store.ListOptions) ([]*store.Job, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.State != "" {
		q.Set("state", string(opts.State))
	}
	if opts.NoKinds {
		q.Set("kinds", "0")
	}
	var out []*store.Job
	return out, c.call(ctx, http.MethodGet, "/v1/jobs?"+q.Encode(), nil, &out)
}

// Job returns one job, live while it runs.
func (c *Client) Job(ctx context.Context, id uint64) (*store.Job, error) {
	var out store.Job
	return &out, c.call(ctx, http.MethodGet, "/v1/jobs/"+strconv.FormatUint(id, 10), nil, &out)
}

// Report returns what a job did per blueprint, or nil when it wrote no
// report.
func (c *Client) Report(ctx context.Context, id uint64) (*store.JobReport, error) {
	var out *store.JobReport
	return out, c.call(ctx, http.MethodGet, "/v1/jobs/"+strconv.FormatUint(id, 10)+"/report", nil, &out)
}

// Resync queues a resync (trigger cli).
func (c *Client) Resync(ctx context.Context, req ResyncRequest) (jobs.Enqueued, error) {
	var out jobs.Enqueued
	return out, c.call(ctx, http.MethodPost, "/v1/resync", req, &out)
}

// Cancel cancels a running or queued job (ID 0: the running one).
func (c *Client) Cancel(ctx context.Context, req CancelRequest) (*store.Job, error) {
	var out store.Job
	return &out, c.call(ctx, http.MethodPost, "/v1/cancel", req, &out)
}

// Follow calls fn with the job now and at every change until it ends, fn
// returns an error, or ctx is done. It returns the last job seen.
func (c *Client) Follow(ctx context.Context, id uint64, fn func(*store.Job) error) (*store.Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://oceand/v1/jobs/"+strconv.FormatUint(id, 10)+"/follow", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var last *store.Job
	for sc.Scan() {
		var j store.Job
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			return last, fmt.Errorf("follow job %d: %w", id, err)
		}
		last = &j
		if err := fn(last); err != nil {
			return last, err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return last, context.Cause(ctx)
		}
		return last, fmt.Errorf("follow job %d: %w", id, err)
	}
	if last == nil || !last.State.Terminal() {
		return last, fmt.Errorf("follow job %d: the daemon stopped before the job ended", id)
	}
	return last, nil
}

func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://oceand"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.connErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return apiError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	return nil
}

// connErr turns "nothing listens" into ErrNoDaemon.
func (c *Client) connErr(err error) error {
	if errors.Is(err, ErrUntrustedSocket) {
		return err
	}
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w (%s)", ErrNoDaemon, c.socket)
	}
	return fmt.Errorf("control socket %s: %w", c.socket, err)
}

// APIError is an error the daemon answered.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Is lets callers match the daemon's answers with the engine's sentinels.
func (e *APIError) Is(target error) bool {
	switch e.Status {
	case http.StatusNotFound:
		return target == store.ErrJobNotFound
	case http.StatusConflict:
		return target == jobs.ErrNotRunning
	}
	return false
}

func apiError(resp *http.Response) error {
	var body struct {
		Error string `json:"error"`
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("control socket: %s (reading the answer: %v)", resp.Status, err)}
	}
	if json.Unmarshal(data, &body) != nil || body.Error == "" {
		body.Error = fmt.Sprintf("control socket: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	return &APIError{Status: resp.StatusCode, Message: body.Error}
}
