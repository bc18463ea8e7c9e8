package port

import (
	"errors"
	"io"
	"testing"
)

// A pooled body goes back to the pool only when the request is done and
// every reader lent for it is closed; a closed reader reads nothing more.
func TestSharedBodyOutlivesItsReaders(t *testing.T) {
	var pool bodyPool
	sb := pool.get(16)
	sb.buf = append(sb.buf, "hello"...)
	r1, _ := sb.reader()
	r2, _ := sb.reader()
	sb.done()
	if err := r2.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if sb.buf == nil {
		t.Fatal("buffer returned to the pool while a reader is open")
	}
	b, err := io.ReadAll(r1)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	r1.(io.Closer).Close()
	if sb.buf != nil {
		t.Fatal("buffer kept after the last reader closed")
	}
	if _, err := r1.Read(make([]byte, 1)); !errors.Is(err, errBodyClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if again := pool.get(16); cap(again.buf) < 16 || len(again.buf) != 0 {
		t.Fatalf("pooled buffer len %d cap %d", len(again.buf), cap(again.buf))
	}
}
