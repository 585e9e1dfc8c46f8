package packages

// Limits bound what one artifact may cost to read. Artifacts come from
// whoever can push to the registry, so every bound is checked before the
// corresponding work is done. A zero field means the default.
type Limits struct {
	// MaxZipSize bounds the zip itself; the standard library's directory
	// parser allocates in proportion to it.
	MaxZipSize int64
	// MaxEntries bounds the number of zip entries, directories included.
	// Each costs ~350 bytes of heap plus its name for as long as the API
	// keeps the archive open (Archive.MemoryCost).
	MaxEntries int
	// MaxUncompressed bounds both the sum of declared entry sizes and the
	// bytes actually inflated while reading (a zip bomb can lie about sizes).
	MaxUncompressed int64
	// MaxManifestSize bounds every YAML file the reader parses.
	MaxManifestSize int64
}

// DefaultLimits fit the largest packages Elastic publishes with room to spare.
//
// Entries: the largest published packages hold a few thousand files
// (directories included); 20,000 is several times that, and bounds an open
// archive to ~10 MB of heap (names of ~60 bytes) where 100,000 allowed ~33 MB.
func DefaultLimits() Limits {
	return Limits{
		MaxZipSize:      512 << 20,
		MaxEntries:      20_000,
		MaxUncompressed: 2 << 30,
		MaxManifestSize: 1 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxZipSize <= 0 {
		l.MaxZipSize = d.MaxZipSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = d.MaxUncompressed
	}
	if l.MaxManifestSize <= 0 {
		l.MaxManifestSize = d.MaxManifestSize
	}
	return l
}
