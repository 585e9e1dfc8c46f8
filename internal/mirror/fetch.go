package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/oci-epr/package-registry/internal/retry"
)

// PermanentError is a 4xx answer: the request is not retried.
type PermanentError struct {
	URL    string
	Status int
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// get fetches u, retrying 5xx answers and network errors with exponential backoff, never 4xx.
// The body is read up to limit bytes; more is an error.
func (m *mirror) get(ctx context.Context, method, u string, limit int64) ([]byte, http.Header, error) {
	var body []byte
	var h http.Header
	p := retry.Policy{
		First: m.RetryDelay, Max: max(m.RetryDelay, time.Minute), Tries: uint(max(m.Retries, 0)) + 1,
		Retryable: func(err error) bool {
			_, permanent := errors.AsType[*PermanentError](err)
			return !permanent
		},
		OnRetry: func(err error, _ time.Duration) { m.Log.Debug("retrying", "url", u, "error", err) },
	}
	err := p.Do(ctx, func(actx context.Context) (err error) {
		body, h, err = m.once(actx, method, u, limit)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return body, h, nil
}

func (m *mirror) once(ctx context.Context, method, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, &PermanentError{URL: u, Status: http.StatusBadRequest}
	}
	m.src.authorize(req)
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return nil, nil, &PermanentError{URL: u, Status: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	if method == http.MethodHead {
		return nil, resp.Header, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > limit {
		return nil, nil, &PermanentError{URL: u, Status: http.StatusRequestEntityTooLarge}
	}
	return body, resp.Header, nil
}
