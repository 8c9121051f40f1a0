// Package dialog is the conversation runtime: call scripts (话术), the turn state machine, barge-in, escalation, LLM nodes and a text simulator.
package dialog
