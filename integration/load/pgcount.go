package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// pgCounter is a TCP proxy between Motlan and PostgreSQL that counts the queries Motlan
// sends: simple-protocol Query ('Q') and extended-protocol Execute ('E') messages. Unlike
// pg_stat_database, which backends update up to 10 s or more late, the count is exact at
// any instant. It needs an unencrypted connection (sslmode=disable).
type pgCounter struct {
	ln      net.Listener
	target  string
	queries atomic.Int64
	wg      sync.WaitGroup
}

// startPGCounter listens on a loopback port and forwards to the DSN's host; it returns
// the DSN rewritten to go through it.
func startPGCounter(dsn string) (*pgCounter, string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return nil, "", errors.New("pgcount: a postgres:// URL DSN with a host is required")
	}
	if u.Query().Get("sslmode") != "disable" {
		return nil, "", errors.New("pgcount: the DSN must have sslmode=disable (the proxy reads the protocol)")
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	c := &pgCounter{ln: ln, target: target}
	c.wg.Go(c.accept)
	u.Host = ln.Addr().String()
	return c, u.String(), nil
}

func (c *pgCounter) accept() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.wg.Go(func() { c.serve(conn) })
	}
}

func (c *pgCounter) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", c.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
	}()
	_ = c.count(io.TeeReader(client, server))
}

// count reads the frontend's messages: untyped ones (SSLRequest, StartupMessage) until
// the startup, then typed ones, counting Query and Execute.
func (c *pgCounter) count(r io.Reader) error {
	var hdr [5]byte
	for started := false; ; {
		if !started {
			if _, err := io.ReadFull(r, hdr[:4]); err != nil {
				return err
			}
			n := int64(binary.BigEndian.Uint32(hdr[:4])) - 4
			var ver [4]byte
			if _, err := io.ReadFull(r, ver[:]); err != nil {
				return err
			}
			started = binary.BigEndian.Uint32(ver[:]) == 196608 // protocol 3.0: the StartupMessage
			if _, err := io.CopyN(io.Discard, r, n-4); err != nil {
				return err
			}
			continue
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		if hdr[0] == 'Q' || hdr[0] == 'E' {
			c.queries.Add(1)
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[1:]))-4); err != nil {
			return err
		}
	}
}

func (c *pgCounter) Close() error {
	err := c.ln.Close()
	return err
}
