package listeners

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPServer serves the health routes and, for the WEBHOOK listener,
// POST /resync. It answers 202 with the queued job id at once: Port's
// request is never held open for the length of a resync (Ocean holds it).
type HTTPServer struct {
	// Addr is host:port to listen on, e.g. 127.0.0.1:8000.
	Addr string
	// Queue, when set, enables POST /resync.
	Queue Requester
	// Secret, when set, must be sent as the `secret` query parameter or
	// the X-Oceand-Secret header of POST /resync.
	Secret string
	// Ready reports readiness for /health/ready; nil means ready.
	Ready  func() error
	Logger *slog.Logger
	// Version is reported by the health routes.
	Version string
	// Metrics, when set, serves GET /metrics (Prometheus).
	Metrics http.Handler

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// Start binds the address and serves in the background.
func (h *HTTPServer) Start(ctx context.Context) error {
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", h.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", h.Addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/live", h.live)
	mux.HandleFunc("GET /health/ready", h.ready)
	if h.Queue != nil {
		mux.HandleFunc("POST /resync", h.resync)
	}
	h.mountMetrics(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	h.mu.Lock()
	h.srv, h.ln = srv, ln
	h.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.Logger.Error("HTTP server stopped", "err", err)
		}
	}()
	h.Logger.Info("HTTP server listening", "addr", ln.Addr().String(), "resync_route", h.Queue != nil)
	return nil
}

// URL is the base URL of the running server.
func (h *HTTPServer) URL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	return "http://" + h.ln.Addr().String()
}

// Stop shuts the server down, waiting briefly for requests in flight.
func (h *HTTPServer) Stop() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
}

func (h *HTTPServer) live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "check": "live", "version": h.Version})
}

func (h *HTTPServer) ready(w http.ResponseWriter, r *http.Request) {
	if h.Ready != nil {
		if err := h.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "check": "ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "check": "ready", "version": h.Version})
}

func (h *HTTPServer) resync(w http.ResponseWriter, r *http.Request) {
	if h.Secret != "" {
		got := r.Header.Get("X-Oceand-Secret")
		if got == "" {
			got = r.URL.Query().Get("secret")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.Secret)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"ok": false, "error": "unauthorized", "message": "missing or wrong webhook secret"})
			return
		}
	}
	id, err := h.Queue.Request(r.Context(), Trigger{Kind: TriggerWebhook, Reason: "POST /resync from " + r.RemoteAddr})
	if err != nil {
		h.Logger.Error("webhook could not queue a resync", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ok": false, "error": "not_queued", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"ok": true, "jobId": id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// mountMetrics serves the Prometheus exposition on the health server.
func (h *HTTPServer) mountMetrics(mux *http.ServeMux) {
	if h.Metrics != nil {
		mux.Handle("GET /metrics", h.Metrics)
	}
}
