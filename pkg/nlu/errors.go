package nlu

import "errors"

// Sentinel errors; returned errors wrap them with %w and the values that explain the failure.
var (
	// ErrBadIntent reports an IntentDef that cannot be compiled (empty name, duplicate name, bad regexp).
	ErrBadIntent = errors.New("nlu: bad intent definition")
	// ErrBadConfig reports a configuration value out of range.
	ErrBadConfig = errors.New("nlu: bad config")
	// ErrLLM reports a failed or unusable answer from a language-model service.
	ErrLLM = errors.New("nlu: llm")
)
