package port

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Bulk upsert bodies (20 entities, tens of KiB) are the client's largest
// allocation by far: one per request, 2.5 GB per million entities. They are
// built in pooled buffers instead. net/http may still read a request body
// after RoundTrip returns (it closes it, possibly later, from another
// goroutine), so a buffer goes back to the pool only when the request is
// done with and every reader handed out for it is closed.

// maxPooledBody is the largest buffer kept for reuse; larger bodies (huge
// entities, up to Port's 1 MiB) are left to the garbage collector.
const maxPooledBody = 256 << 10

var errBodyClosed = errors.New("request body read after close")

// bodyPool recycles request body buffers of one client.
type bodyPool struct{ p sync.Pool }

// get returns an empty buffer with room for n bytes.
func (bp *bodyPool) get(n int) *sharedBody {
	sb := &sharedBody{pool: bp}
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		sb.buf = (*b)[:0]
	} else {
		sb.buf = make([]byte, 0, n)
	}
	sb.refs.Store(1) // the request's own reference, dropped by done
	return sb
}

// sharedBody is one request's body, lent to every attempt.
type sharedBody struct {
	pool *bodyPool
	buf  []byte
	refs atomic.Int32
}

// reader is a retryablehttp.ReaderFunc: a reader of the body for one
// attempt (or for the length probe), holding a reference until closed.
func (sb *sharedBody) reader() (io.Reader, error) {
	sb.refs.Add(1)
	return &bodyReader{r: bytes.NewReader(sb.buf), owner: sb}, nil
}

// done drops the request's reference: it sends nothing more.
func (sb *sharedBody) done() { sb.release() }

func (sb *sharedBody) release() {
	if sb.refs.Add(-1) == 0 && cap(sb.buf) <= maxPooledBody {
		b := sb.buf[:0]
		sb.buf = nil
		sb.pool.p.Put(&b)
	}
}

// bodyReader reads a shared body until closed; after Close it reads
// nothing, so the buffer can be reused.
type bodyReader struct {
	mu     sync.Mutex
	r      *bytes.Reader
	owner  *sharedBody
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errBodyClosed
	}
	return r.r.Read(p)
}

// Len lets retryablehttp set the request's Content-Length.
func (r *bodyReader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0
	}
	return r.r.Len()
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.owner.release()
	}
	return nil
}
