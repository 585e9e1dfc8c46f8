package index

import (
	"fmt"
	"log/slog"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/oci-epr/package-registry/internal/store"
)

// Replica is an API process's local copy of the bucket, the replica half of the store: the
// records and the last revision applied. *store.DB implements it; only index reads and writes
// it (Load at start, the Follower after), so the API never touches bbolt.
type Replica interface {
	KVRevision() (uint64, error)
	ApplyPackages(changes []store.PackageChange, revision uint64) error
	ReplacePackages(records map[string][]byte, revision uint64) error
	ForEachPackage(fn func(key string, value []byte) error) error
}

// Load reads every record of the replica, decoding them in parallel. Records that do not
// decode are logged and skipped.
func Load(db Replica, log *slog.Logger) ([]*Record, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	type stored struct {
		key   string
		value []byte
	}
	var raw []stored
	err := db.ForEachPackage(func(key string, value []byte) error {
		// bbolt's bytes live only as long as its transaction; decoding happens after it.
		raw = append(raw, stored{key, append([]byte(nil), value...)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load replica: %w", err)
	}
	decoded := make([]*Record, len(raw))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range raw {
		g.Go(func() error {
			r, err := Decode(raw[i].value)
			if err != nil {
				log.Error("skipping undecodable record in the store", "key", raw[i].key, "err", err)
				return nil
			}
			raw[i].value = nil
			decoded[i] = r
			return nil
		})
	}
	_ = g.Wait() // nothing fails: undecodable records are skipped
	recs := decoded[:0]
	for _, r := range decoded {
		if r != nil {
			recs = append(recs, r)
		}
	}
	return recs, nil
}
