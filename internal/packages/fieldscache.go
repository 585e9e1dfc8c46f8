package packages

import (
	"crypto/sha256"
	"sync"
)

// fieldsCache remembers what a fields file declares, by the SHA-256 of its bytes. Fields files
// repeat across the versions of a package and across packages (base-fields.yml, ecs.yml), and
// parsing their YAML is most of the cost of indexing a version, so a cold sync of a large
// registry parses each distinct file once. Only successful parses are kept: a rejection is
// computed again, with the file name in its message. Bounded by entries; when full it starts
// over.
type fieldsCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]map[string]string
	max     int
}

var sharedFieldsCache = &fieldsCache{max: 2048}

// parseFieldsCached is parseFields through c. It adds to declared exactly what parseFields
// would: parseFields only ever assigns declared[name] = type, so replaying a file's own
// assignments gives the same map.
func (c *fieldsCache) parseFields(data []byte, file string, declared map[string]string) error {
	key := sha256.Sum256(data)
	c.mu.Lock()
	own, ok := c.entries[key]
	c.mu.Unlock()
	if !ok {
		own = map[string]string{}
		if err := parseFields(data, file, own); err != nil {
			return err
		}
		c.mu.Lock()
		if c.entries == nil || len(c.entries) >= c.max {
			c.entries = map[[sha256.Size]byte]map[string]string{}
		}
		c.entries[key] = own
		c.mu.Unlock()
	}
	for name, typ := range own {
		declared[name] = typ
	}
	return nil
}
