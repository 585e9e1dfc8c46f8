package packages

// Update lets the external tests share the -update flag of this package's
// tests (one test binary cannot define a flag twice).
var Update = update
