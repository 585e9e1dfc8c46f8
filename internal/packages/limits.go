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
	// MaxEntryRatio bounds uncompressed:compressed of any entry larger than
	// RatioCheckEntrySize, and MaxArchiveRatio the sum of declared sizes to
	// the zip's size once that sum passes RatioCheckArchiveSize: a small zip
	// that inflates to gigabytes would otherwise be indexed, and every
	// download of it streamed out in full. The inflated bytes are capped at
	// the declared sizes while reading, so declared sizes are true bounds.
	MaxEntryRatio   int64
	MaxArchiveRatio int64
}

// Below these sizes the ratio rules do not apply: a small file of repeated
// text can compress a thousandfold and costs nothing.
const (
	RatioCheckEntrySize   = 1 << 20
	RatioCheckArchiveSize = 16 << 20
)

// DefaultLimits fit the largest packages Elastic publishes with room to spare.
//
// Entries: the largest published packages hold a few thousand files
// (directories included); 20,000 is several times that, and bounds an open
// archive to ~10 MB of heap (names of ~60 bytes) where 100,000 allowed ~33 MB.
//
// Ratios: Kibana dashboards and fields files, the bulk of large packages,
// deflate 5-30x (TestCompressionRatioRules measures a generated
// multi-MB dashboard package); DEFLATE itself cannot exceed ~1032x, which is
// what bombs use. 200x per entry and 100x for the whole archive leave real
// packages a wide margin and cut a bomb's amplification to those factors.
func DefaultLimits() Limits {
	return Limits{
		MaxZipSize:      512 << 20,
		MaxEntries:      20_000,
		MaxUncompressed: 2 << 30,
		MaxManifestSize: 1 << 20,
		MaxEntryRatio:   200,
		MaxArchiveRatio: 100,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.MaxZipSize = positiveOr(l.MaxZipSize, d.MaxZipSize)
	l.MaxEntries = positiveOr(l.MaxEntries, d.MaxEntries)
	l.MaxUncompressed = positiveOr(l.MaxUncompressed, d.MaxUncompressed)
	l.MaxManifestSize = positiveOr(l.MaxManifestSize, d.MaxManifestSize)
	l.MaxEntryRatio = positiveOr(l.MaxEntryRatio, d.MaxEntryRatio)
	l.MaxArchiveRatio = positiveOr(l.MaxArchiveRatio, d.MaxArchiveRatio)
	return l
}

// positiveOr is v, or def when v is zero or negative (a limit can't be).
func positiveOr[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
