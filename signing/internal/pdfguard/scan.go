package pdfguard

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/motlan/motlan/internal/pdf"
)

// The reader parses object streams with a buffer that returns '\n' forever at the end
// of the data: an unterminated literal string, hex string or array there loops forever
// (and a literal string grows without bound). An object stream that claims to live in
// an object stream recurses without end. guardObjectStreams decodes every object stream
// the cross-reference table uses and checks, with a terminating scanner, that the
// header and every object the reader may parse end before the data does.

func guardObjectStreams(r *pdf.Reader, maxDecoded int64) error {
	xr := r.Xref()
	seen := map[uint32]bool{}
	for i := range xr {
		s := xr[i].Stream()
		id := s.GetID()
		if id == 0 || seen[id] {
			continue
		}
		seen[id] = true
		if int(id) >= len(xr) {
			continue // resolves to null
		}
		if c := xr[id].Stream(); c.GetID() != 0 {
			return invalidf("object stream %d is itself in an object stream", id)
		}
		v := r.Resolve(s, s)
		if v.Kind() != pdf.Stream {
			continue // the reader panics on it, which is recovered
		}
		data, ok := ReadStream(v, maxDecoded)
		if !ok {
			return invalidf("object stream %d cannot be decoded within %d bytes", id, maxDecoded)
		}
		if err := scanObjStm(data, v.Key("N").Int64(), v.Key("First").Int64()); err != nil {
			return invalidf("object stream %d: %v", id, err)
		}
	}
	return nil
}

type scanner struct {
	b    []byte
	pos  int
	work int
	// inFile: the reader's buffer panics at the end of the data (only object streams
	// loop there), so running out of data is not an error.
	inFile bool
}

var errUnterminated = errors.New("unterminated object")

func scanObjStm(data []byte, n, first int64) error {
	s := &scanner{b: data}
	var offs []int64
	for i := int64(0); i < 2*n && s.pos < len(data); i++ {
		tok, num, err := s.token()
		if err != nil {
			return err
		}
		if tok == "" {
			break
		}
		if i%2 == 1 && num >= 0 {
			offs = append(offs, num)
		}
	}
	done := map[int64]bool{}
	for _, off := range offs {
		at := first + off
		if at < 0 || at > int64(len(data)) || done[at] {
			continue
		}
		done[at] = true
		s.pos = int(at)
		if err := s.object(0); err != nil {
			return err
		}
		if s.work > 16*len(data)+1<<20 {
			return fmt.Errorf("objects overlap too much")
		}
	}
	return nil
}

func isWS(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// skip skips white space and comments; it reports false at the end of the data.
func (s *scanner) skip() bool {
	for s.pos < len(s.b) {
		s.work++
		c := s.b[s.pos]
		switch {
		case isWS(c):
			s.pos++
		case c == '%':
			for s.pos < len(s.b) && s.b[s.pos] != '\n' && s.b[s.pos] != '\r' {
				s.pos++
				s.work++
			}
		default:
			return true
		}
	}
	return false
}

// token reads one token as the reader's readToken does; tok is "" at the end. num is
// the value of a non-negative integer token, else -1. Strings must terminate.
func (s *scanner) token() (tok string, num int64, err error) {
	if !s.skip() {
		return "", -1, nil
	}
	start := s.pos
	c := s.b[s.pos]
	s.pos++
	switch c {
	case '(':
		return "(", -1, s.literal()
	case '<':
		if s.pos < len(s.b) && s.b[s.pos] == '<' {
			s.pos++
			return "<<", -1, nil
		}
		return "<", -1, s.hex()
	case '>':
		if s.pos < len(s.b) && s.b[s.pos] == '>' {
			s.pos++
			return ">>", -1, nil
		}
		return ">", -1, nil
	case '[', ']', '{', '}', ')':
		return string(c), -1, nil
	}
	for s.pos < len(s.b) && !isDelimiter(s.b[s.pos]) && !isWS(s.b[s.pos]) {
		s.pos++
		s.work++
	}
	tok = string(s.b[start:s.pos])
	num = -1
	if len(tok) > 0 && len(tok) < 18 {
		v := int64(0)
		for _, d := range []byte(tok) {
			if d < '0' || d > '9' {
				return tok, -1, nil
			}
			v = v*10 + int64(d-'0')
		}
		num = v
	}
	return tok, num, nil
}

// keywordAt reports whether the keyword kw starts at the current position.
func (s *scanner) keywordAt(kw string) bool {
	e := s.pos + len(kw)
	return e <= len(s.b) && string(s.b[s.pos:e]) == kw && (e == len(s.b) || isWS(s.b[e]) || isDelimiter(s.b[e]))
}

// guardPlainObjects scans, as the reader would parse them, the object after every
// "obj" keyword and the dictionary after every "trailer": the reader loops forever on
// an array that meets "endobj" before "]", in any object. Stream data that happens to
// hold "obj" is scanned too (harmless: only that pattern is rejected). The total work is
// bounded.
func guardPlainObjects(data []byte) error {
	s := &scanner{b: data, inFile: true}
	budget := 32*len(data) + 1<<20
	for _, kw := range []string{"obj", "trailer"} {
		for i := 0; ; {
			j := bytes.Index(data[i:], []byte(kw))
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(kw)
			if at > 0 && !isWS(data[at-1]) && !isDelimiter(data[at-1]) {
				continue // endobj, or part of another token
			}
			if i < len(data) && !isWS(data[i]) && !isDelimiter(data[i]) {
				continue
			}
			s.pos = i
			if err := s.object(0); err != nil && err != errUnterminated {
				return invalidf("object at offset %d: %v", at, err)
			}
			if s.work > budget {
				return invalidf("too many nested or overlapping objects to read safely")
			}
		}
	}
	return nil
}

func (s *scanner) literal() error {
	depth := 1
	for s.pos < len(s.b) {
		s.work++
		c := s.b[s.pos]
		s.pos++
		switch c {
		case '\\':
			s.pos++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return nil
			}
		}
	}
	return errUnterminated
}

func (s *scanner) hex() error {
	for {
		if !s.skipWS() {
			return errUnterminated
		}
		c := s.b[s.pos]
		s.pos++
		if c == '>' {
			return nil
		}
		if !s.skipWS() {
			return errUnterminated
		}
		c2 := s.b[s.pos]
		s.pos++
		if unhexOK(c) && unhexOK(c2) {
			continue
		}
		return nil // the reader stops with an error here
	}
}

func (s *scanner) skipWS() bool {
	for s.pos < len(s.b) && isWS(s.b[s.pos]) {
		s.pos++
		s.work++
	}
	return s.pos < len(s.b)
}

func unhexOK(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// object scans one object; arrays and dictionaries must close before the end.
func (s *scanner) object(depth int) error {
	if depth > 256 {
		return fmt.Errorf("objects nested too deep")
	}
	tok, _, err := s.token()
	if err != nil {
		return err
	}
	switch tok {
	case "[":
		for {
			if !s.skip() {
				if s.inFile {
					return nil
				}
				return errUnterminated
			}
			if s.b[s.pos] == ']' {
				s.pos++
				return nil
			}
			if s.keywordAt("endobj") {
				// The reader's readArray loops forever on an unread "endobj".
				return fmt.Errorf("array not closed before endobj")
			}
			if err := s.object(depth + 1); err != nil {
				return err
			}
		}
	case "<<":
		for {
			if !s.skip() {
				return nil // the reader stops with an error at the end of a dictionary
			}
			if s.b[s.pos] == '>' && s.pos+1 < len(s.b) && s.b[s.pos+1] == '>' {
				s.pos += 2
				return nil
			}
			if err := s.object(depth + 1); err != nil {
				return err
			}
		}
	}
	return nil
}
