package packages_test

import (
	"errors"
	"fmt"

	"github.com/oci-epr/package-registry/internal/packages"
	"github.com/oci-epr/package-registry/internal/packages/packagetest"
)

// A package zip goes in, the document the API serves comes out; a zip that breaks a rule gives a
// rejection naming the rule, never a half-read package.
func ExampleReadBytes() {
	spec := packagetest.ContentPackage()
	pkg, _, err := packages.ReadBytes(packagetest.Build(spec), packages.Options{
		Limits: packages.DefaultLimits(),
		Expect: packages.Expect{Name: spec.Name, Version: spec.Version},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(pkg.Name, pkg.Version, pkg.Type)

	_, _, err = packages.ReadBytes([]byte("not a zip"), packages.Options{Limits: packages.DefaultLimits()})
	fmt.Println(errors.Is(err, packages.ErrRejected))
	// Output:
	// acme_content 0.1.0 content
	// true
}
