// Package store is oceand's state in one bbolt file: the integration's
// bookkeeping (config hash, polling watermark, next scheduled run), the job
// history with per-kind progress, and the entity index (identifier -> hash of
// the entity last written to Port) that lets a resync skip unchanged
// entities.
//
// Only the daemon opens the file read-write; bbolt holds an exclusive lock for
// as long as it is open. Other processes open it read-only with a timeout, so
// they never hang on a running daemon.
//
// # Layout (schema 1)
//
//	meta          schema -> uint64
//	integration   key -> value (config hash, watermark, next run, ...)
//	jobs          id (big-endian uint64) -> JSON Job
//	entities      blueprint -> { identifier -> hash(16) | chain id(8) }
package store
