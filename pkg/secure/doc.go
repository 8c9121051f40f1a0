// Package secure keeps people safe: recordings encrypted at rest, role-checked access, PII redaction, a
// tamper-evident audit trail and signed webhooks.
package secure
