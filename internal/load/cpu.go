package load

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: Linux reports
// them in clock ticks of 1/100 s whatever the kernel's own tick rate.
const userHZ = 100

// ProcessCPU returns the CPU time (user + system) the process pid has
// used so far, from /proc/PID/stat. Threads are included; children are
// not.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// parseProcStat reads utime and stime (fields 14 and 15) from the
// contents of /proc/PID/stat. The command name, field 2, is in
// parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last closing parenthesis.
func parseProcStat(b []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	// After the name: state (field 3), ppid, …; utime is field 14.
	fields := bytes.Fields(b[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("proc stat: %d fields after the command name", len(fields))
	}
	var ticks uint64
	for _, i := range []int{utime, stime} {
		n, err := strconv.ParseUint(string(fields[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: field %d: %w", i+3, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// CPUSample is the CPU time of a server process and of the database
// backends serving it at one instant.
type CPUSample struct {
	Server time.Duration
	// Backends holds each backend's CPU time by process id.
	Backends map[int]time.Duration
}

// SampleCPU reads the server's CPU time and each backend's.
func SampleCPU(server int, backends []int) (CPUSample, error) {
	s := CPUSample{Backends: map[int]time.Duration{}}
	var err error
	if s.Server, err = ProcessCPU(server); err != nil {
		return s, err
	}
	for _, pid := range backends {
		// A backend that ended between the query and the read is gone.
		if d, err := ProcessCPU(pid); err == nil {
			s.Backends[pid] = d
		}
	}
	return s, nil
}

// CPUUsed is the CPU time spent between two samples: the server's, and
// the backends', where a backend absent from the first sample started
// since and counts whole. Ended reports backends of the first sample
// missing from the second: their last CPU time is lost.
type CPUUsed struct {
	Server, Backends time.Duration
	Ended            int
}

// Since returns the CPU time spent from before to s.
func (s CPUSample) Since(before CPUSample) CPUUsed {
	u := CPUUsed{Server: s.Server - before.Server}
	for pid, d := range s.Backends {
		u.Backends += d - before.Backends[pid]
	}
	for pid := range before.Backends {
		if _, ok := s.Backends[pid]; !ok {
			u.Ended++
		}
	}
	return u
}

// Median is the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// PerOp is CPU time per operation in microseconds.
func PerOp(d time.Duration, ops int) float64 {
	if ops <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(ops)
}

// Ratio is a ÷ b, or 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
