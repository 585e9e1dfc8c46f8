package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Zot's search extension: a GraphQL endpoint (POST {"query": …}) that answers from Zot's
// metadata database. It is used as an accelerator only. Tag listings stay the registry's
// /tags/list, because the indexer deletes what a listing lacks and a metadata database may lag
// behind storage; what search adds is each tag's manifest digest, so that a resync skips the
// HEAD of every tag whose digest it already indexed.

const (
	zotSearchPath = "/v2/_zot/ext/search"
	// zotPageSize is the page asked of search queries; paging continues to TotalCount.
	zotPageSize = 500
	// maxZotResponse bounds one GraphQL answer (a page of 500 summaries is well under 1 MiB).
	maxZotResponse = 16 << 20
	// zotRetryAfter is how long a registry without the extension is not asked again, so
	// that other registries pay one 404 per process and hour, not one per reconcile.
	zotRetryAfter = time.Hour
)

// ErrSearchUnsupported is returned by the search calls when the registry has no Zot search
// extension (or it was found absent within the last hour).
var ErrSearchUnsupported = errors.New("registry has no search extension")

// TagDigest is what Zot's search knows of one tag.
type TagDigest struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
}

// zotState remembers when the extension was last found absent.
type zotState struct {
	absentUntil time.Time
}

// SearchTagDigests returns, for each tag of repository that Zot's search index knows, its
// manifest digest, media type and artifact type, in one query (paged by 500). It is advisory:
// callers still list tags with Tags. ErrSearchUnsupported means "use the plain API".
func (c *Client) SearchTagDigests(ctx context.Context, repository string) (map[string]TagDigest, error) {
	ref := registry.Reference{Registry: c.host, Repository: repository}
	if err := ref.ValidateRepository(); err != nil {
		return nil, fmt.Errorf("oci: repository %q: %w", repository, err)
	}
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	out := map[string]TagDigest{}
	// The offset advances by what each page held: a server may cap pages below our limit.
	for offset, pages := 0, 0; ; pages++ {
		if pages >= maxListPages {
			return nil, fmt.Errorf("oci: search tags of %s exceeded %d pages", repository, maxListPages)
		}
		q := fmt.Sprintf(`{ ImageList(repo: %s, requestedPage: {limit: %d, offset: %d, sortBy: ALPHABETIC_ASC}) { Page { TotalCount ItemCount } Results { RepoName Tag Digest MediaType ArtifactType } } }`,
			strconv.Quote(repository), zotPageSize, offset)
		body, err := c.zotQuery(ctx, q)
		if err != nil {
			return nil, err
		}
		page, err := ParseZotImageList(body)
		if err != nil {
			return nil, fmt.Errorf("oci: search tags of %s: %w", repository, err)
		}
		for _, img := range page.Images {
			if img.Repository == repository {
				out[img.Tag] = img.TagDigest
			}
		}
		if offset += page.Items; page.Items == 0 || offset >= page.Total {
			return out, nil
		}
	}
}

// SearchRepositories returns the repositories Zot's search index lists (paged by 500).
func (c *Client) SearchRepositories(ctx context.Context) ([]string, error) {
	var out []string
	for offset, pages := 0, 0; ; pages++ {
		if pages >= maxListPages {
			return nil, fmt.Errorf("oci: search repositories exceeded %d pages", maxListPages)
		}
		q := fmt.Sprintf(`{ RepoListWithNewestImage(requestedPage: {limit: %d, offset: %d, sortBy: ALPHABETIC_ASC}) { Page { TotalCount ItemCount } Results { Name } } }`,
			zotPageSize, offset)
		body, err := c.zotQuery(ctx, q)
		if err != nil {
			return nil, err
		}
		page, err := ParseZotRepoList(body)
		if err != nil {
			return nil, fmt.Errorf("oci: search repositories: %w", err)
		}
		out = append(out, page.Names...)
		if offset += page.Items; page.Items == 0 || offset >= page.Total {
			return out, nil
		}
	}
}

// Repositories discovers repositories: through Zot's search when the registry has it, else
// (or when it fails) through the catalog, with Catalog's errors.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	if repos, err := c.SearchRepositories(ctx); err == nil {
		return repos, nil
	}
	return c.Catalog(ctx)
}

func (c *Client) zotQuery(ctx context.Context, query string) ([]byte, error) {
	c.mu.Lock()
	absent := c.now().Before(c.zot.absentUntil)
	c.mu.Unlock()
	if absent {
		return nil, ErrSearchUnsupported
	}
	base, err := c.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+zotSearchPath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.auth.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oci: search: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented, http.StatusBadRequest:
		// Not Zot, or Zot without the extension (a plain registry answers 404, or 400/405 to
		// a POST on a name it takes for a repository).
		c.mu.Lock()
		c.zot.absentUntil = c.now().Add(zotRetryAfter)
		c.mu.Unlock()
		return nil, fmt.Errorf("%w (%s answered %d)", ErrSearchUnsupported, zotSearchPath, resp.StatusCode)
	default:
		return nil, fmt.Errorf("oci: search: %s answered %d", zotSearchPath, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxZotResponse+1))
	if err != nil {
		return nil, fmt.Errorf("oci: search: %w", err)
	}
	if len(body) > maxZotResponse {
		return nil, fmt.Errorf("oci: search: %w", ErrTooLarge)
	}
	return body, nil
}

// ZotImage is one ImageSummary of a search answer.
type ZotImage struct {
	Repository string
	Tag        string
	TagDigest
}

// ZotImagePage is one page of an ImageList answer.
type ZotImagePage struct {
	Images       []ZotImage
	Total, Items int
}

// ZotRepoPage is one page of a RepoListWithNewestImage answer.
type ZotRepoPage struct {
	Names        []string
	Total, Items int
}

type zotPage struct {
	TotalCount int
	ItemCount  int
}

type zotErrors struct {
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (e zotErrors) err() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return fmt.Errorf("search answered with errors: %q", e.Errors[0].Message)
}

func checkPage(p *zotPage, got int) error {
	if p == nil {
		return errors.New("search answer has no Page")
	}
	if p.TotalCount < 0 || p.ItemCount < 0 || p.ItemCount != got {
		return fmt.Errorf("search page claims %d items of %d, holds %d", p.ItemCount, p.TotalCount, got)
	}
	return nil
}

// ParseZotImageList parses the answer to our ImageList query. Any GraphQL error, a missing
// field or an entry without a valid digest or tag makes the whole page an error, so that a
// half-understood answer is never used.
func ParseZotImageList(body []byte) (ZotImagePage, error) {
	var doc struct {
		zotErrors
		Data *struct {
			ImageList *struct {
				Page    *zotPage
				Results []struct {
					RepoName, Tag, Digest, MediaType, ArtifactType string
				}
			}
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return ZotImagePage{}, fmt.Errorf("search answer: %w", err)
	}
	if err := doc.err(); err != nil {
		return ZotImagePage{}, err
	}
	if doc.Data == nil || doc.Data.ImageList == nil {
		return ZotImagePage{}, errors.New("search answer has no ImageList")
	}
	l := doc.Data.ImageList
	if err := checkPage(l.Page, len(l.Results)); err != nil {
		return ZotImagePage{}, err
	}
	out := ZotImagePage{Total: l.Page.TotalCount, Items: l.Page.ItemCount}
	for _, r := range l.Results {
		d, err := digest.Parse(r.Digest)
		if err != nil {
			return ZotImagePage{}, fmt.Errorf("search answer: tag %q: digest: %w", r.Tag, err)
		}
		if r.Tag == "" || r.RepoName == "" {
			return ZotImagePage{}, errors.New("search answer: an image without repository or tag")
		}
		out.Images = append(out.Images, ZotImage{Repository: r.RepoName, Tag: r.Tag,
			TagDigest: TagDigest{Digest: d, MediaType: r.MediaType, ArtifactType: r.ArtifactType}})
	}
	return out, nil
}

// ParseZotRepoList parses the answer to our RepoListWithNewestImage query, with the same
// all-or-nothing rule as ParseZotImageList.
func ParseZotRepoList(body []byte) (ZotRepoPage, error) {
	var doc struct {
		zotErrors
		Data *struct {
			RepoListWithNewestImage *struct {
				Page    *zotPage
				Results []struct{ Name string }
			}
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return ZotRepoPage{}, fmt.Errorf("search answer: %w", err)
	}
	if err := doc.err(); err != nil {
		return ZotRepoPage{}, err
	}
	if doc.Data == nil || doc.Data.RepoListWithNewestImage == nil {
		return ZotRepoPage{}, errors.New("search answer has no RepoListWithNewestImage")
	}
	l := doc.Data.RepoListWithNewestImage
	if err := checkPage(l.Page, len(l.Results)); err != nil {
		return ZotRepoPage{}, err
	}
	out := ZotRepoPage{Total: l.Page.TotalCount, Items: l.Page.ItemCount}
	for _, r := range l.Results {
		if err := (registry.Reference{Registry: "x", Repository: r.Name}).ValidateRepository(); err != nil {
			return ZotRepoPage{}, fmt.Errorf("search answer: repository %q: %w", r.Name, err)
		}
		out.Names = append(out.Names, r.Name)
	}
	return out, nil
}
