package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkBulkLinks posts a million keys to a running preference center,
// as CSV and as JSON, and reports the service's peak resident memory (its
// Deployment's limit is 256 Mi).
func BenchmarkBulkLinks(b *testing.B) {
	const keys = 1_000_000
	config, db, listen := preferenceCenterFiles(b)
	cmd := exec.Command(os.Args[0], "preference-center", "--config", config, "--database", db, "--listen", listen, "--metrics-listen", "")
	cmd.Env = append(os.Environ(), "CONTACT_CONVERTER_RUN_CLI=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for i := 0; ; i++ {
		if res, err := http.Get("http://" + listen + "/readyz"); err == nil {
			res.Body.Close()
			break
		}
		if i == 100 {
			b.Fatalf("the service did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Logf("service at rest: %.1f MiB peak", float64(peakRSS(b, cmd.Process.Pid))/(1<<20))
	for _, tc := range []struct{ contentType, head, quote, sep, tail string }{
		{"text/csv", "key\n", "", "\n", "\n"},
		{"application/json", `{"keys":[`, `"`, ",", "]}"},
	} {
		b.Run(tc.contentType, func(b *testing.B) {
			for range b.N {
				body, feed := io.Pipe()
				go func() {
					w := bufio.NewWriter(feed)
					_, _ = w.WriteString(tc.head)
					for i := range keys {
						if i > 0 {
							_, _ = w.WriteString(tc.sep)
						}
						fmt.Fprintf(w, "%sreader-%d@example.org%s", tc.quote, i, tc.quote)
					}
					_, _ = w.WriteString(tc.tail)
					w.Flush()
					feed.Close()
				}()
				req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/api/v1/links", body)
				req.Header.Set("Authorization", "Bearer a-long-enough-api-token")
				req.Header.Set("Content-Type", tc.contentType)
				start := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				links := 0
				sc := bufio.NewScanner(res.Body)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				sc.Split(scanLinks)
				for sc.Scan() {
					links++
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK || links != keys {
					b.Fatalf("%d, %d links; want 200 and %d", res.StatusCode, links, keys)
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/request")
			}
			b.ReportMetric(float64(peakRSS(b, cmd.Process.Pid))/(1<<20), "peak-RSS-MiB")
		})
	}
}

// scanLinks splits an answer at each preferences URL.
func scanLinks(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.Index(data, []byte("/p/")); i >= 0 {
		return i + 3, data[i : i+3], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return max(0, len(data)-2), nil, nil
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
