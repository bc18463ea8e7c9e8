package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// snapshot is the emulator's state on disk. Tokens are not kept: a restarted
// emulator makes clients authenticate again, as a real token expiry would.
type snapshot struct {
	Integrations map[string]map[string]any     `json:"integrations"`
	Requests     map[string]*resyncRequest     `json:"requests"`
	Blueprints   map[string]map[string]any     `json:"blueprints"`
	Entities     map[string]map[string]*entity `json:"entities"`
	SavedAt      time.Time                     `json:"savedAt"`
}

// Save writes the emulator state to w as JSON.
func (s *Server) Save(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{Integrations: s.integrations, Requests: s.requests, Blueprints: s.blueprints, Entities: s.entities, SavedAt: s.now()}
	return json.NewEncoder(w).Encode(snap)
}

// Load replaces the emulator state with one written by Save.
func (s *Server) Load(r io.Reader) error {
	var snap snapshot
	dec := json.NewDecoder(r)
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.integrations = orEmpty(snap.Integrations)
	s.requests = map[string]*resyncRequest{}
	for k, v := range snap.Requests {
		s.requests[k] = v
	}
	s.blueprints = orEmpty(snap.Blueprints)
	s.entities = map[string]map[string]*entity{}
	s.keysStale = true
	for bp, es := range snap.Entities {
		s.entities[bp] = es
	}
	return nil
}

// SaveFile writes the state to path atomically (temp file and rename).
func (s *Server) SaveFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".emulator-*.json")
	if err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := s.Save(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("save emulator state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save emulator state: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// LoadFile loads state saved by SaveFile; a missing file is not an error.
func (s *Server) LoadFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load emulator state: %w", err)
	}
	defer f.Close()
	return s.Load(f)
}

func orEmpty(m map[string]map[string]any) map[string]map[string]any {
	if m == nil {
		return map[string]map[string]any{}
	}
	return m
}
