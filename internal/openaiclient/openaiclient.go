// Package openaiclient builds the one go-openai client every OpenAI-compatible part of outcall uses (the dialog's
// LLM nodes, pkg/nlu's LLM classifier, asr/openai, tts/openai), so the SDK's setup lives in one place.
package openaiclient

import (
	"net/http"
	"strings"

	"github.com/sashabaranov/go-openai"
)

// New returns a client for the API at baseURL (trailing slashes trimmed; "" means OpenAI's own) with apiKey,
// sending its requests through hc (nil: go-openai's default client; time limits come from each call's context).
func New(apiKey, baseURL string, hc *http.Client) *openai.Client {
	oc := openai.DefaultConfig(apiKey)
	if baseURL = strings.TrimRight(baseURL, "/"); baseURL != "" {
		oc.BaseURL = baseURL
	}
	if hc != nil {
		oc.HTTPClient = hc
	}
	return openai.NewClientWithConfig(oc)
}
