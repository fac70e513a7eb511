// Package minidyn tests dynacrypt's transactions and its handling of
// partial and hard batch failures against minidyn's DynamoDB-compatible HTTP
// server, which supports transactions and injects faults. It is a separate
// module so that minidyn and its dependencies stay out of dynacrypt's go.mod.
package minidyn
