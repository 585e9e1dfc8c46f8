package flagenv

import (
	"flag"
	"strings"
)

// Interspersed reorders args so that flags given after a positional argument are read too:
// Go's flag package stops at the first argument that is not a flag, and a command such as
// `package-registry-ctl wait nginx@1.20.0 -timeout 30s` puts its flags last, as users of
// other tools expect. The flags (each with its value) come first, in their order, then "--"
// and the positional arguments in theirs, so that a positional argument that looks like a flag
// after "--" stays one. Whether a flag takes the next argument as its value is fs's to say: a
// bool flag does not, nor -h, -help and -version (which Parse adds), nor a flag fs does not
// define (fs.Parse then reports it).
func Interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") || !takesValue(fs, name) || i+1 == len(args) {
			continue
		}
		i++
		flags = append(flags, args[i])
	}
	return append(append(flags, "--"), positional...)
}

// takesValue reports whether flag name of fs reads the next argument as its value.
func takesValue(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}
