package tts

import "github.com/outcall/outcall/pkg/textnorm"

// Normalize rewrites text so a synthesizer reads it as a person would; it is textnorm.Normalize (see there for the
// rules). lang is "zh" (the default when empty) or "en"; text in any other language is returned unchanged.
func Normalize(text, lang string) string { return textnorm.Normalize(text, lang) }
