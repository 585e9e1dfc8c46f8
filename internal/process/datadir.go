package process

import (
	"errors"
	"fmt"
	"os"
)

// CheckDataDir makes sure dir exists (creating it and its parents) and that this process can
// create, write and remove files in it, and says plainly what is wrong otherwise. Every process
// with a data directory calls it first: the stores, the blob cache and the embedded NATS server
// would each fail on it later, less clearly (the embedded server after its start-up timeout).
func CheckDataDir(dir string) error {
	if dir == "" {
		return errors.New("data directory: empty path")
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("data directory %s %s: %w (uid %d; check the path, its owner and mode, and that its filesystem is not read-only)",
			dir, what, err, os.Geteuid())
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fail("is not a directory", errors.New(st.Mode().Type().String()+" file in the way"))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail("cannot be created", err)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fail("is not writable", err)
	}
	name := probe.Name()
	_, werr := probe.Write([]byte("ok"))
	serr := probe.Sync()
	cerr := probe.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fail("does not accept writes", err)
	}
	if rerr != nil {
		return fail("does not allow removing files", rerr)
	}
	return nil
}
