// Package events turns every state change into one envelope
// (flashsalev1.Event) on the events stream and back.
//
// Two sources feed the stream. PostgreSQL's outbox holds the events written in
// the same transaction as the change they describe (sale created, paused,
// resumed, ended; confirmed; payment declined; refund required). Each sale
// product's Redis stream holds the hold events that the Lua scripts append in
// the same atomic step as the hold (reserved, rejected, released, expired).
// The Relay publishes both and removes an event from its source only after
// the stream accepted it, so delivery is at least once and every consumer
// deduplicates by event id.
//
// Consumers are Kinesis handlers built by Handler: each decodes the records
// of a batch, gives the events to a Consumer, and reports the sequence numbers
// of the records that failed so that only those are delivered again.
//
// The package defines the ports it needs (Outbox, Streams, Publisher); the
// adapters named after their technology implement them.
package events
