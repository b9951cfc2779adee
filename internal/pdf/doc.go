// Package pdf reads PDF files: Motlan's fork of github.com/digitorus/pdf v0.1.2 (itself
// rsc.io/pdf), which is unmaintained since 2022.
//
// It is kept here, rather than guarded from outside, so that its faults are fixed where
// they are: the search for startxref reads a bounded tail of the file instead of
// re-reading growing windows; encrypted files (ISO 32000-2 7.6, standard security
// handler: RC4, AES-128 and AES-256, revisions 2 to 6) are read with the empty user
// password, their strings and streams decrypted per object, except a signature's
// /Contents, which is never encrypted; a file that needs a user password is reported as
// ErrPasswordRequired, not as damaged. Hostile input ends where it is parsed: declared
// counts (/Size, /W, /Index, xref subsections, /N, /First, /Columns) are checked against
// the file's size before use, arrays that meet endobj or the end of the data, and
// unterminated strings, are errors, nesting is bounded at qpdf's 500 levels, and an
// object stream inside an object stream or a long /Extends chain is refused.
//
// Values are read lazily from the io.ReaderAt given to NewReader. Malformed input makes
// the reader panic with the reason: callers open files through
// signing/internal/pdfguard, which recovers and bounds decoded object streams.
//
// The original code is under the BSD-style licence in LICENSE (Copyright 2014 The Go
// Authors); Motlan's changes are under the same terms.
package pdf
