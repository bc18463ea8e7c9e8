package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
)

// Transport returns a RoundTripper that serves requests in-process, without
// a network. It is meant for tests under testing/synctest, where real
// sockets would defeat the fake clock: use it as the client's
// http.Client{Transport: emu.Transport()} with any base URL, e.g.
// http://port.test. A Drop fault makes the round trip fail with
// ECONNRESET; a Truncate fault makes the body fail with ECONNRESET halfway.
func (s *Server) Transport() http.RoundTripper { return roundTripper{s} }

type roundTripper struct{ s *Server }

func (rt roundTripper) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	sreq.RemoteAddr = "in-process:0"
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	rec := &recorder{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, connReset("aborted handler")
		}
	}()
	rt.s.ServeHTTP(rec, sreq)
	if rec.reset {
		return nil, connReset("dropped")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var rbody io.Reader = bytes.NewReader(rec.body.Bytes())
	length := int64(rec.body.Len())
	if rec.truncate {
		rbody = io.MultiReader(rbody, errReader{connReset("truncated")})
		length = -1
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(rbody),
		ContentLength: length,
		Request:       req,
	}, nil
}

func connReset(what string) error {
	return fmt.Errorf("emulator transport: connection %s: %w", what, syscall.ECONNRESET)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder is the in-process ResponseWriter.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	reset    bool
	truncate bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.reset {
		return 0, errors.New("connection reset")
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
