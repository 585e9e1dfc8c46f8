package webhook_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/oci-epr/package-registry/internal/webhook"
)

// Harbor names the repository "project/repo" and the host in each resource's URL; the event
// keeps both apart, and the indexer maps the repository onto the configured registry.
func ExampleParseHarbor() {
	body, err := os.ReadFile("testdata/harbor-push-artifact-tag.json")
	if err != nil {
		panic(err)
	}
	res, err := webhook.ParseHarbor(http.Header{"Content-Type": {"application/json"}}, body)
	if err != nil {
		panic(err)
	}
	for _, ev := range res.Events {
		fmt.Println(ev.Action, ev.Registry, ev.Repository, ev.Tag)
	}
	// Output:
	// push harbor.example.com:8443 harbor/alpine 3.8
}
