package packages

// Update lets the external tests share the -update flag of this package's
// tests (one test binary cannot define a flag twice).
var Update = update

// ParseFields is the pure fields-file parser, for its fuzz target.
var ParseFields = parseFields
