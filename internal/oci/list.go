package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Tags returns every tag of repository, following Link pagination to the last page. A listing
// beyond the client's tag, byte or page bounds fails with a *LimitError.
//
// The result is all or nothing: any failure, on any page, is an error and no tags are
// returned, because the indexer deletes what a listing no longer shows and a partial list
// would delete packages that still exist. When the registry answers that the repository does
// not exist, the error wraps ErrRepositoryNotFound: that, and only that, means "no tags".
func (c *Client) Tags(ctx context.Context, repository string) ([]string, error) {
	repo, err := c.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	tc := &tagCollector{maxTags: c.maxTags, maxBytes: c.maxTagBytes}
	err = pagesLimit(repo.Tags(ctx, "", tc.add), "tag_pages", maxListPages)
	tags := tc.tags
	if err != nil {
		if isRepositoryNotFound(err) {
			return nil, fmt.Errorf("oci: list tags of %s: %w: %w", repository, ErrRepositoryNotFound, err)
		}
		return nil, fmt.Errorf("oci: list tags of %s: %w", repository, err)
	}
	if tags == nil {
		tags = []string{}
	}
	return tags, nil
}

// isRepositoryNotFound reports whether err is the registry saying the repository does not
// exist. A bare 404 without an error code does not count: a misrouted proxy or a wrong base
// path answers that too, and mistaking it for "gone" would delete a whole repository's
// packages. NAME_UNKNOWN is the spec's code; Harbor answers NOT_FOUND.
func isRepositoryNotFound(err error) bool {
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) || resp.StatusCode != http.StatusNotFound {
		return false
	}
	for _, e := range resp.Errors {
		if e.Code == errcode.ErrorCodeNameUnknown || e.Code == "NOT_FOUND" {
			return true
		}
	}
	return false
}

// Catalog returns the repositories the registry lists at /v2/_catalog, following Link
// pagination. Registries that refuse the catalog (401, 403, 404, 405) give an error wrapping
// ErrCatalogUnsupported, so the caller can fall back to an explicit repository list.
func (c *Client) Catalog(ctx context.Context) ([]string, error) {
	reg, err := c.registry(ctx)
	if err != nil {
		return nil, err
	}
	var repos []string
	pages := 0
	err = reg.Repositories(ctx, "", func(page []string) error {
		// oras-go bounds tag pages but not catalog pages; a looping Link must end somewhere.
		if pages++; pages > maxListPages {
			return &LimitError{Bound: "catalog_pages", Limit: maxListPages}
		}
		repos = append(repos, page...)
		return nil
	})
	if err != nil {
		var resp *errcode.ErrorResponse
		if errors.As(err, &resp) {
			switch resp.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
				return nil, fmt.Errorf("oci: catalog of %s: %w: %w", c.host, ErrCatalogUnsupported, err)
			}
		}
		return nil, fmt.Errorf("oci: catalog of %s: %w", c.host, err)
	}
	if repos == nil {
		repos = []string{}
	}
	return repos, nil
}
