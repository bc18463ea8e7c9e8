package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Fault makes matching requests misbehave, for tests of the client's
// resilience. Faults apply in the order they were injected; the first
// matching active one is taken. A request hit by a fault is still counted
// in Requests.
//
// Examples:
//
//	// The first two bulk upserts answer 429 asking for a one-hour wait.
//	emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints/{bp}/entities/bulk", Times: 2,
//		Status: 429, Header: http.Header{"Retry-After": {"3600"}}})
//	// The third bulk upsert finds its token expired.
//	emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints/{bp}/entities/bulk", Skip: 2, Times: 1, ExpireTokens: true})
//	// A proxy answers the bulk route with its HTML sign-in page and 200.
//	emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints/{bp}/entities/bulk", RawBody: emulator.HTMLBody, RawType: "text/html"})
//	// Every search is written to Port's state, then the connection is cut mid-answer.
//	emu.InjectFault(emulator.Fault{Route: "POST /v1/entities/search", Truncate: true})
type Fault struct {
	// Route is a pattern as reported by Requests, e.g.
	// "POST /v1/blueprints/{bp}/entities/bulk"; empty matches every request.
	Route string
	// Skip lets the first Skip matching requests through untouched.
	Skip int
	// Times is how many matching requests (after Skip) the fault affects;
	// 0 means every one until ClearFaults.
	Times int

	// Latency delays the request before anything else happens. The delay
	// ends early when the client goes away or the server closes.
	Latency time.Duration
	// Hold blocks the request until the channel is closed (or the client
	// goes away, or the server closes), after Arrived was signalled.
	Hold <-chan struct{}
	// Arrived, when set, receives the route pattern of each request the
	// fault hits, before it is held or delayed. The send blocks until
	// received, so a test knows exactly when the request reached Port.
	Arrived chan<- string

	// ExpireTokens expires every issued token, then serves the request
	// normally: it gets 401 and the client must fetch a new token.
	ExpireTokens bool
	// Status answers with this status and Port's error envelope
	// ({ok:false, error, message}) instead of serving the request. Code
	// overrides the error code (default: derived from the status).
	Status int
	Code   string
	// Header is added to the response of a Status fault (e.g. Retry-After).
	Header http.Header

	// RawBody answers, without serving the request, with Status (default
	// 200), Content-Type RawType and exactly this body: what a proxy or
	// gateway in front of Port may send. Non-nil and empty (EmptyBody)
	// answers an empty body.
	RawBody []byte
	RawType string

	// Drop resets the connection without answering, before the request is
	// served: Port never saw it.
	Drop bool
	// Truncate serves the request (Port's state changes), then resets the
	// connection after sending the headers and half of the body.
	Truncate bool
}

// Bodies for Fault.RawBody.
var (
	// EmptyBody is an answer with no body at all.
	EmptyBody = []byte{}
	// HTMLBody is a login or error page of a proxy.
	HTMLBody = []byte("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1></body></html>\n")
	// TextBody is plain text that is not JSON.
	TextBody = []byte("upstream connect error or disconnect/reset before headers\n")
)

type faultState struct {
	Fault
	seen int // matching requests so far
}

// InjectFault adds a fault. Faults stay until they are used up (Times) or
// ClearFaults is called.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFaultLocked returns the fault that applies to a request of pattern,
// counting it against the fault's budget.
func (s *Server) takeFaultLocked(pattern string) *Fault {
	for i, f := range s.faults {
		if f.Route != "" && f.Route != pattern {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			return nil
		}
		if f.Times > 0 && f.seen-f.Skip >= f.Times {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		out := f.Fault
		return &out
	}
	return nil
}

// applyFault performs f. It returns done when the request has been answered
// (or dropped); otherwise the request goes on with the returned writer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault, pattern string) (http.ResponseWriter, bool) {
	if f.Arrived != nil {
		select {
		case f.Arrived <- pattern:
		case <-r.Context().Done():
			return w, true
		case <-s.ctx.Done():
			return w, true
		}
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return w, true
		case <-s.ctx.Done():
			t.Stop()
			return w, true
		}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-r.Context().Done():
			return w, true
		case <-s.ctx.Done():
			return w, true
		}
	}
	if f.ExpireTokens {
		s.ExpireTokens()
	}
	switch {
	case f.Drop:
		resetConnection(w)
		return w, true
	case f.RawBody != nil:
		for k, vs := range f.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if f.RawType != "" {
			w.Header().Set("Content-Type", f.RawType)
		}
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write(f.RawBody)
		return w, true
	case f.Status != 0:
		for k, vs := range f.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		code := f.Code
		if code == "" {
			code = codeForStatus(f.Status)
		}
		writeError(w, f.Status, code, fmt.Sprintf("injected fault: %d %s", f.Status, http.StatusText(f.Status)))
		return w, true
	case f.Truncate:
		return &truncatingWriter{ResponseWriter: w, header: http.Header{}}, false
	}
	return w, false
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "identifier_taken"
	case http.StatusRequestEntityTooLarge, http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnprocessableEntity:
		return "invalid_request"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "bad_request"
}

// resetConnection closes the client's connection with a TCP reset. Through
// Transport (no connection) it makes the round trip fail instead.
func resetConnection(w http.ResponseWriter) {
	if rw, ok := w.(*recorder); ok {
		rw.reset = true
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// truncatingWriter buffers the answer, then sends its status line, headers
// (with the full Content-Length) and half of the body before resetting the
// connection: the client sees a reset while reading the body.
type truncatingWriter struct {
	http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func (t *truncatingWriter) Header() http.Header { return t.header }

func (t *truncatingWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
}

func (t *truncatingWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	return t.body.Write(b)
}

// finish sends the truncated answer. Called after the handler returned.
func (t *truncatingWriter) finish() {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if rw, ok := t.ResponseWriter.(*recorder); ok {
		for k, v := range t.header {
			rw.Header()[k] = v
		}
		rw.WriteHeader(t.status)
		_, _ = rw.Write(t.body.Bytes()[:t.body.Len()/2])
		rw.truncate = true
		return
	}
	hj, ok := t.ResponseWriter.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	writeTruncated(buf.Writer, t.status, t.header, t.body.Bytes())
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeTruncated(w *bufio.Writer, status int, h http.Header, body []byte) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h.Set("Content-Length", fmt.Sprint(len(body)))
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(body[:len(body)/2])
	_ = w.Flush()
}
