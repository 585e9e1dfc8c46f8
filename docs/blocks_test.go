package docs

import (
	"strings"
	"testing"
)

func TestParseBlocks(t *testing.T) {
	doc := strings.Join([]string{
		"# Title",
		"```sh",
		"echo one",
		"```",
		"<!-- readme-test: skip (needs Docker) -->",
		"",
		"```bash",
		"docker compose up",
		"```",
		"```yaml",
		"not: shell",
		"```",
		"- a list item:",
		"  ```sh",
		"  ./x -flag \\",
		"    -other",
		"  ```",
		"```console",
		"$ curl -s localhost:8080/",
		"{\"output\": 1}",
		"```",
	}, "\n")
	got, err := ParseBlocks("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{File: "doc.md", Line: 2, Code: "echo one"},
		{File: "doc.md", Line: 7, Code: "docker compose up", Skip: "needs Docker"},
		{File: "doc.md", Line: 14, Code: "./x -flag \\\n  -other"},
		{File: "doc.md", Line: 18, Code: "curl -s localhost:8080/"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d blocks %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{
		"<!-- readme-test: skip -->\n```sh\nx\n```",    // no reason
		"<!-- readme-test: skip () -->\n```sh\nx\n```", // empty reason
		"```sh\nx\n", // unterminated
	} {
		if _, err := ParseBlocks("bad.md", bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestRewrite(t *testing.T) {
	n := 0
	r := &Rewriter{Bin: "/bin-dir", Ports: map[string]string{}, free: func() string { n++; return []string{"", "41000", "41001"}[n] }}
	got := r.Rewrite("go build -o epr-mirror ./cmd/mirror\ngo run ./cmd/api -address localhost:8081 -proxy-to http://localhost:8080/\ncurl localhost:8081/health\ngo run ./cmd/package-registry-ctl status -address http://localhost:8081")
	want := "ln -sf /bin-dir/epr-mirror epr-mirror\n/bin-dir/package-registry -address localhost:41000 -proxy-to http://localhost:41001/\ncurl localhost:41000/health\n/bin-dir/package-registry-ctl status -address http://localhost:41000"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
