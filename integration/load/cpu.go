package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ---- CPU accounting ----

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on Linux
// whatever the kernel's HZ (getconf CLK_TCK).
const userHZ = 100

// processCPU returns the CPU time a process has used, all threads, in seconds: the sum of
// its threads' run time from /proc/<pid>/task/*/schedstat (nanoseconds), or, where the
// kernel has no schedstat, utime+stime from /proc/<pid>/stat (in 10 ms ticks: too coarse
// for a short phase). Both count the same thing, time on a CPU, user and system; the
// schedstat sum misses threads that exited, which a Go server seldom does.
func processCPU(pid int) (float64, error) {
	if v, err := schedstatCPU(pid); err == nil {
		return v, nil
	}
	return statCPU(pid)
}

func schedstatCPU(pid int) (float64, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns uint64
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, errors.New("unexpected schedstat format")
		}
		ns += v
		n++
	}
	if n == 0 {
		return 0, errors.New("no schedstat")
	}
	return float64(ns) / 1e9, nil
}

// statCPU returns utime+stime of a process, all threads, in seconds.
func statCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	stt, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return float64(ut+stt) / userHZ, nil
}

// machineBusy returns the CPU time all cores spent busy since boot, in seconds.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat format")
	}
	var busy uint64
	for k, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if k == 3 || k == 4 {
			continue // idle, iowait
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, errors.New("unexpected /proc/stat format")
		}
		busy += n
	}
	return float64(busy) / userHZ, nil
}

// cpuSnap is the CPU consumed so far by each party, in seconds.
type cpuSnap struct {
	motlan, driver, machine float64
	motlanStat              float64         // utime+stime, as a cross-check of motlan
	pg                      map[int]float64 // Motlan's PostgreSQL backends by pid
}

func (d *driver) snap(ctx context.Context) (cpuSnap, error) {
	var c cpuSnap
	var err error
	if d.st.pg != nil {
		pids, err := d.st.pg.backends(ctx)
		if err != nil {
			return c, fmt.Errorf("find Motlan's PostgreSQL backends: %w", err)
		}
		c.pg = make(map[int]float64, len(pids))
		for _, pid := range pids {
			if v, err := processCPU(pid); err == nil { // a server elsewhere: not counted
				c.pg[pid] = v
			}
		}
	}
	if c.machine, err = machineBusy(); err != nil {
		return c, err
	}
	c.driver = selfCPU()
	if c.motlan, err = processCPU(d.st.Pid); err != nil {
		return c, fmt.Errorf("read Motlan's CPU: %w", err)
	}
	if c.motlanStat, err = statCPU(d.st.Pid); err != nil {
		return c, fmt.Errorf("read Motlan's CPU: %w", err)
	}
	return c, nil
}

// selfCPU returns this process's user+system CPU in seconds (microsecond resolution).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
