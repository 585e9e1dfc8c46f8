package status

import (
	"bytes"
	"context"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oci-epr/package-registry/internal/testkit"
)

// chromium finds the browser: EPR_CHROMIUM, else Debian's chromium on PATH. Without one the
// test is skipped, except in CI, which must have it (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EPR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: CI must have it (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium, or set EPR_CHROMIUM): the page is not tested in a browser")
	return ""
}

// browser starts a headless chromium suited to containers and CI, with a deadline on
// everything it is asked.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	profile, err := os.MkdirTemp("", "epr-status-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container has no user namespace to sandbox in
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 1000),
	)
	// One outer limit, generous for a saturated machine; every wait inside is chromedp's own.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 2*testkit.Patience)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		// The browser's helpers may still write for a moment after it stops; what is left
		// is in the system's temporary directory.
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return bctx
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// rowStates are the states of the tag rows the page shows, in order.
const rowStates = `[...document.querySelectorAll('#tags tr.tag')].map(r => r.dataset.state)`

// TestPageInAHeadlessBrowser loads the page in a real browser, as a person would: problems
// first, the search form, the links between views, a phone-sized screen, and a screenshot that
// shows something. EPR_UPDATE_SCREENSHOT=1 writes it to docs/images/status.png.
func TestPageInAHeadlessBrowser(t *testing.T) {
	r, _ := fixture(t)
	srv := httptest.NewServer(NewHandler(r, HandlerOptions{Now: r.Now}))
	defer srv.Close()
	ctx := browser(t)

	// The browser's own Accept header gets the page, without ?format=html.
	resp := run(t, ctx, "load /status", chromedp.NavigateResponse(srv.URL+"/status"))
	if resp.Status != 200 || !strings.HasPrefix(resp.MimeType, "text/html") {
		t.Fatalf("/status in a browser: %d %s", resp.Status, resp.MimeType)
	}
	do(t, ctx, "wait for the tables", chromedp.WaitVisible(chromedp.ID("tags")), chromedp.WaitVisible(chromedp.ID("repositories")))
	if got := run(t, ctx, "row states", chromedp.Evaluate[[]string](rowStates)); !slices.Equal(got, []string{"failing", "rejected", "awaiting_signature", "shadowed", "not_a_package"}) {
		t.Errorf("tag rows: %v, want problems first in order and nothing served", got)
	}
	repos := run(t, ctx, "repositories", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#repositories tbody tr td:first-child')].map(td => td.innerText.trim())`))
	if len(repos) != 4 || repos[0] != "packages/apache" {
		t.Errorf("repositories: %v, want the failed one first", repos)
	}
	why := run(t, ctx, "the rejected row", chromedp.Text(chromedp.CSS(`#tags tr[data-state="rejected"] td.why`)))
	if !strings.Contains(why, "manifest") || !strings.Contains(why, `"1.21" is not a semantic version`) {
		t.Errorf("the rejected row says %q, want its rule and message", why)
	}
	desktop := run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	checkNotBlank(t, "desktop", desktop)
	if os.Getenv("EPR_UPDATE_SCREENSHOT") == "1" {
		file := filepath.Join("..", "..", "docs", "images", "status.png")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, desktop, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", file, len(desktop))
	}

	// The search form: a search and a state, submitted as a GET, narrow the tags.
	do(t, ctx, "fill in the search",
		chromedp.SetValue(chromedp.CSS(`form.search input[name="q"]`), "nginx"),
		chromedp.SetValue(chromedp.CSS(`form.search select[name="state"]`), "rejected"))
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form.search button[type="submit"]`))); err != nil {
		t.Fatalf("submit the search: %v", err)
	}
	do(t, ctx, "wait for the answer", chromedp.WaitVisible(chromedp.ID("tags")))
	loc, _ := url.Parse(run(t, ctx, "location", chromedp.Location()))
	if loc.Path != "/status" || loc.Query().Get("q") != "nginx" || loc.Query().Get("state") != "rejected" {
		t.Errorf("the form went to %s", loc)
	}
	if got := run(t, ctx, "row states", chromedp.Evaluate[[]string](rowStates)); !slices.Equal(got, []string{"rejected"}) {
		t.Errorf("after searching nginx, rejected: rows %v", got)
	}
	if v := run(t, ctx, "the search box", chromedp.Value(chromedp.CSS(`form.search input[name="q"]`))); v != "nginx" {
		t.Errorf("the search box holds %q after the search", v)
	}

	// A package's name opens its page: every tag claiming it.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#tags a.package`))); err != nil {
		t.Fatalf("follow the package link: %v", err)
	}
	do(t, ctx, "wait for the package page", chromedp.WaitVisible(chromedp.ID("tags")))
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/status/packages/nginx") {
		t.Errorf("the package link went to %s", loc)
	}
	if got := run(t, ctx, "row states", chromedp.Evaluate[[]string](rowStates)); !slices.Equal(got, []string{"rejected", "awaiting_signature", "shadowed", "served"}) {
		t.Errorf("package nginx rows: %v", got)
	}
	// A repository link opens the repository's page, slashes and all.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#tags tr[data-state="served"] a.repository`))); err != nil {
		t.Fatalf("follow the repository link: %v", err)
	}
	do(t, ctx, "wait for the repository page", chromedp.WaitVisible(chromedp.ID("tags")))
	if h1 := run(t, ctx, "title", chromedp.Text(chromedp.CSS("h1"))); h1 != "packages/nginx" {
		t.Errorf("the repository page is titled %q", h1)
	}

	// A phone: one column, no sideways scrolling, each tag a card with its labels.
	do(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(srv.URL+"/status")); err != nil {
		t.Fatalf("load /status on a phone: %v", err)
	}
	do(t, ctx, "wait for the tables", chromedp.WaitVisible(chromedp.ID("tags")))
	fit := run(t, ctx, "layout", chromedp.Evaluate[map[string]any](`({
		scroll: document.documentElement.scrollWidth, width: window.innerWidth,
		head: getComputedStyle(document.querySelector('#tags thead')).display,
		label: getComputedStyle(document.querySelector('#tags td[data-label]'), '::before').content })`))
	if fit["scroll"].(float64) > fit["width"].(float64) || fit["head"] != "none" || fit["label"] != `"state"` {
		t.Errorf("on a phone: %v, want no sideways scrolling and labelled cards", fit)
	}
	if got := run(t, ctx, "row states", chromedp.Evaluate[[]string](rowStates)); len(got) != 5 || got[0] != "failing" {
		t.Errorf("on a phone, rows %v", got)
	}
	checkNotBlank(t, "phone", run(t, ctx, "phone screenshot", chromedp.FullScreenshot(100)))
}

// checkNotBlank decodes a PNG screenshot and fails unless it shows something: many colours,
// and a good share of pixels that are not the background.
func checkNotBlank(t *testing.T, what string, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s screenshot: %v", what, err)
	}
	colours := map[[4]uint32]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}]++
		}
	}
	most, total := 0, bounds.Dx()*bounds.Dy()
	for _, n := range colours {
		most = max(most, n)
	}
	other := float64(total-most) / float64(total)
	t.Logf("%s screenshot: %dx%d, %d colours, %.0f%% not the background", what, bounds.Dx(), bounds.Dy(), len(colours), 100*other)
	if len(colours) < 64 || other < 0.1 {
		t.Errorf("%s screenshot looks blank: %d colours, %.1f%% not the background", what, len(colours), 100*other)
	}
}
