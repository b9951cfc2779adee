package pades

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpdf"
	"github.com/motlan/motlan/internal/testpki"
)

// BenchmarkSignLarge signs real PDFs of about 1, 10 and 50 MB (qpdf joins of a Debian
// manual, cross-reference table at the end) from a file to a file, each in a fresh
// process, and reports per size: the time to sign and the time of a bare SHA-256 of the
// same file (ms), and the peak resident memory each added to the process (MB, VmHWM
// minus the resident size before it started; /proc/self/status), with their ratios to
// the file (memory) and to SHA-256 (time), and the CPU time of each (user + system: the
// wall time on a shared machine also counts others). The key operation is ECDSA P-256
// (~30 µs).
//
//	go test -run '^$' -bench SignLarge -benchtime 1x ./signing/pades/
func BenchmarkSignLarge(b *testing.B) {
	base := testpdf.Producers(b)[0].Data
	dir := b.TempDir()
	for _, mb := range []int64{1, 10, 50} {
		f := filepath.Join(dir, fmt.Sprintf("%dmb.pdf", mb))
		data := testpdf.Large(b, base, mb<<20)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			b.Fatal(err)
		}
		size := float64(len(data))
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			for range b.N {
				sign := peakRun(b, "sign", f)
				sha := peakRun(b, "sha256", f)
				b.ReportMetric(sign.ms, "sign-ms")
				b.ReportMetric(sha.ms, "sha256-ms")
				b.ReportMetric(sign.ms/sha.ms, "time/sha256")
				b.ReportMetric(sign.cpuMS, "sign-cpu-ms")
				b.ReportMetric(sha.cpuMS, "sha256-cpu-ms")
				b.ReportMetric(sign.peakMB, "sign-peak-MB")
				b.ReportMetric(sha.peakMB, "sha256-peak-MB")
				b.ReportMetric(sign.peakMB*(1<<20)/size, "peak/file")
			}
		})
	}
}

type peak struct{ ms, cpuMS, peakMB float64 }

// peakRun runs TestPeakHelper in a new process of this test binary.
func peakRun(b *testing.B, mode, file string) peak {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MOTLAN_PEAK_MODE="+mode, "MOTLAN_PEAK_FILE="+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", mode, err, out)
	}
	var p peak
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "PEAK ms=%g cpu=%g mb=%g", &p.ms, &p.cpuMS, &p.peakMB); err == nil {
			return p
		}
	}
	b.Fatalf("%s: no result:\n%s", mode, out)
	return p
}

// TestPeakHelper is BenchmarkSignLarge's child process; it does nothing in a normal run.
func TestPeakHelper(t *testing.T) {
	mode, file := os.Getenv("MOTLAN_PEAK_MODE"), os.Getenv("MOTLAN_PEAK_FILE")
	if mode == "" {
		return // not a child of BenchmarkSignLarge
	}
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	before := vmKB(t, "VmRSS")
	cpu0 := cpuTime(t)
	start := time.Now()
	switch mode {
	case "sha256":
		h := sha256.New()
		if _, err := io.Copy(h, in); err != nil {
			t.Fatal(err)
		}
		_ = h.Sum(nil)
	case "sign":
		opt := Options{Certificate: cert, Chain: []*x509.Certificate{ca.Root}, Reason: "Đăng ký khai sinh"}
		w := bufio.NewWriterSize(out, 1<<16)
		if err := Sign(context.Background(), in, st.Size(), w, FromCryptoSigner(key), opt); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(t)-cpu0
	fmt.Printf("PEAK ms=%g cpu=%g mb=%g\n", float64(elapsed.Microseconds())/1000, float64(cpu.Microseconds())/1000, float64(vmKB(t, "VmHWM")-before)/1024)
}

// vmKB reads a kB field of /proc/self/status.
func vmKB(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(rest)), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// cpuTime is the user and system CPU time of this process so far: on a shared machine
// the wall time of a run also counts other processes.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
