package webhook_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/oci-epr/package-registry/internal/webhook"
)

// A registry's notification body goes in, normalised events come out: the parser needs no
// network, no NATS and no server.
func ExampleParseDistribution() {
	body, err := os.ReadFile("testdata/distribution-push-manifest-tag.json")
	if err != nil {
		panic(err)
	}
	header := http.Header{"Content-Type": {"application/vnd.docker.distribution.events.v2+json"}}
	res, err := webhook.ParseDistribution(header, body)
	if err != nil {
		panic(err)
	}
	for _, ev := range res.Events {
		fmt.Println(ev.Action, ev.Repository, ev.Tag)
	}
	fmt.Println("ignored:", len(res.Ignored))
	// Output:
	// push demo/thing v1
	// ignored: 0
}
