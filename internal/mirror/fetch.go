package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
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
	delay := m.RetryDelay
	for attempt := 0; ; attempt++ {
		body, h, err := m.once(ctx, method, u, limit)
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) || ctx.Err() != nil || attempt >= m.Retries {
			return body, h, err
		}
		m.Log.Debug("retrying", "url", u, "attempt", attempt+1, "error", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		delay *= 2
	}
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
