package ca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Storage errors.
var (
	// ErrExists: Save found the name taken (another replica created it first). Load it.
	ErrExists = errors.New("ca: record already exists")
	// ErrNotFound: Load found no record of that name.
	ErrNotFound = errors.New("ca: record not found")
)

// Storage keeps the CA's records: key pairs (private keys sealed), issued certificates and
// revocations. Every record is written once and never changed, so any store with an
// insert-if-absent (a primary key) can back it.
//
// Names are slash-separated ASCII paths such as "identity/root" or "revoked/<serial hex>".
type Storage interface {
	// Load returns the record name, or an error wrapping ErrNotFound.
	Load(ctx context.Context, name string) ([]byte, error)
	// Save creates the record name, or fails with an error wrapping ErrExists when it
	// exists already (the stored value is not changed).
	Save(ctx context.Context, name string, data []byte) error
	// List returns the names that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

// MemStorage is a Storage in memory, for tests and single-process development.
// The zero value is ready to use.
type MemStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Load implements Storage.
func (s *MemStorage) Load(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return slices.Clone(v), nil
}

// Save implements Storage.
func (s *MemStorage) Save(_ context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[name] = slices.Clone(data)
	return nil
}

// List implements Storage.
func (s *MemStorage) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names, nil
}

// DirStorage is a Storage in a directory: one file per record (mode 0600), created
// atomically and exclusively, so several processes may share the directory.
type DirStorage struct {
	Dir string
}

// Load implements Storage.
func (s DirStorage) Load(_ context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return b, err
}

// Save implements Storage. It writes a temporary file and hard-links it into place, so
// a reader never sees a half-written record and exactly one concurrent writer wins.
func (s DirStorage) Save(_ context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	path := filepath.Join(s.Dir, filepath.FromSlash(name))
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, name)
		}
		return err
	}
	return nil
}

// List implements Storage.
func (s DirStorage) List(_ context.Context, prefix string) ([]string, error) {
	var names []string
	// Walk the directory holding the prefix; names are short paths, so this stays cheap.
	base := prefix
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[:i]
	} else {
		base = ""
	}
	root := filepath.Join(s.Dir, filepath.FromSlash(base))
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.Dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// checkName accepts the record names the CA uses: slash-separated segments of
// [a-z0-9._-], none empty or starting with a dot.
func checkName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("ca: bad record name %q", name)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("ca: bad record name %q", name)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("ca: bad record name %q", name)
			}
		}
	}
	return nil
}

var (
	_ Storage = (*MemStorage)(nil)
	_ Storage = DirStorage{}
)
