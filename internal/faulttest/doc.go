// Package faulttest holds the fault suite of docs/reliability.md that needs more than one OS process: controllers
// of one campaign run as child processes of the test (the test binary started again in a child role), one is
// SIGKILLed mid-campaign, and the Asterisk simulator's own call log is the witness of what the kill cost.
package faulttest
