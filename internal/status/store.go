package status

import (
	"context"
	"maps"
	"sync"
)

// Store holds status entries by key (keys.go). The status bucket in NATS is the one every
// process shares (KV); Memory serves tests and a process without NATS.
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key; removing a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the current entries whose keys match filter (NATS subject wildcards).
	List(ctx context.Context, filter string) (map[string][]byte, error)
}

// Memory is a Store in memory.
type Memory struct {
	mu      sync.Mutex
	entries map[string][]byte
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{entries: map[string][]byte{}} }

func (m *Memory) Put(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = append([]byte(nil), value...)
	return nil
}

func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

func (m *Memory) List(_ context.Context, filter string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.entries {
		if Match(filter, k) {
			out[k] = v
		}
	}
	return out, nil
}

// Len is how many entries m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Snapshot returns a copy of every entry.
func (m *Memory) Snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.entries)
}
