package openaiclient

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sashabaranov/go-openai"
)

// TestNewUsesBaseURLKeyAndHTTPClient: a request goes to the given base (its trailing slash trimmed), with the key
// as a bearer token, through the given HTTP client.
func TestNewUsesBaseURLKeyAndHTTPClient(t *testing.T) {
	var path, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.URL.Path, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	defer srv.Close()
	sent := 0
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := New("sk-test", srv.URL+"/v1/", hc)
	if _, err := c.ListModels(t.Context()); err != nil {
		t.Fatal(err)
	}
	if path != "/v1/models" || auth != "Bearer sk-test" || sent != 1 {
		t.Fatalf("path %q, auth %q, requests through the client %d", path, auth, sent)
	}
	if got := openai.DefaultConfig("k").BaseURL; got == "" {
		t.Fatal("go-openai has no default base URL")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
