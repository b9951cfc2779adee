// Package clients caches the registered clients. They come from config, so every replica
// holds the same; a miss re-reads the store at most every 30 s.
package clients
