package main

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fleetLine is a line of TestFleetKMSRequests (package benchmarks):
// "fleet-kms: cipher=keystore writers=100 readers=100 ...".
var fleetLine = regexp.MustCompile(`fleet-kms: (.*)$`)

// fleetPoint is one fleet the test ran: its shape and what it cost.
type fleetPoint struct {
	cipher                     string // "kms-cipher" or "keystore"
	writers, readers           int
	putsPerWriter, getsPerRead int
	kms, keyStoreGets          int64
}

func (p fleetPoint) processes() int { return p.writers + p.readers }

// parseFleet reads the key=value fields of a fleet-kms line. A line that
// lacks one is an error: the report would otherwise print zeros as if
// measured.
func parseFleet(fields string) (fleetPoint, error) {
	var p fleetPoint
	var w, r, puts, gets int64
	err := keyValues("fleet-kms", fields, &p.cipher, map[string]*int64{"writers": &w, "readers": &r,
		"puts-per-writer": &puts, "gets-per-reader": &gets, "kms-requests": &p.kms, "keystore-getitems": &p.keyStoreGets})
	p.writers, p.readers, p.putsPerWriter, p.getsPerRead = int(w), int(r), int(puts), int(gets)
	return p, err
}

// keyValues reads the fields "cipher=NAME key=N ..." of a line the tests
// print for the report into cipher and the integers named.
func keyValues(what, fields string, cipher *string, ints map[string]*int64) error {
	kv := map[string]string{}
	for _, f := range strings.Fields(fields) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	*cipher = kv["cipher"]
	if *cipher == "" {
		return fmt.Errorf("%s line without cipher: %q", what, fields)
	}
	for name, dst := range ints {
		n, err := strconv.ParseInt(kv[name], 10, 64)
		if err != nil {
			return fmt.Errorf("%s line, %s: %w", what, name, err)
		}
		*dst = n
	}
	return nil
}

// fleetCiphers are the ciphers of the fleet figures, in the order shown,
// with their labels.
var fleetCiphers = []struct{ name, label string }{
	{"kms-cipher", "KMSCipher"},
	{"keystore", "key store Cipher"},
}

// fleetSeries returns the points of one cipher, by fleet size.
func fleetSeries(points []fleetPoint, cipher string) []fleetPoint {
	var s []fleetPoint
	for _, p := range points {
		if p.cipher == cipher {
			s = append(s, p)
		}
	}
	slices.SortStableFunc(s, func(a, b fleetPoint) int { return cmp.Compare(a.processes(), b.processes()) })
	return s
}

// writeFleet writes the fleet section of the report; svgPath, if not
// empty, is where the chart was written, relative to the report.
func writeFleet(p func(string, ...any), points []fleetPoint, svgPath string) {
	kmsCipher, keyStore := fleetSeries(points, "kms-cipher"), fleetSeries(points, "keystore")
	p("## KMS requests of a fleet of processes")
	p("")
	p("TestFleetKMSRequests: W writer and R reader processes share a table. Each process is a Store with its own Cipher,")
	p("so its own caches, as separate processes have; all talk to the in-process stub, which keeps the items and the key")
	p("store's branch keys and counts KMS requests. Each writer puts %s items, then each reader gets %s items, each of",
		count(points, func(p fleetPoint) int { return p.putsPerWriter }), count(points, func(p fleetPoint) int { return p.getsPerRead }))
	p("a random writer, and checks it. With `KMSCipher` every writer wraps its own root key under KMS and every reader")
	p("unwraps each writer's: about W + W × R requests. With the key store Cipher every process unwraps the shared")
	p("branch key once: W + R, plus 2 to create it (target: at most W + R + 10). Fleets of n processes have W = R = n / 2.")
	p("")
	p("| processes | W | R | KMSCipher | W + W × R | key store Cipher | W + R + 10 | key store GetItems |")
	p("|---|---|---|---|---|---|---|---|")
	for _, n := range fleetSizes(points) {
		a, aok := find(kmsCipher, n)
		b, bok := find(keyStore, n)
		shape := cmp.Or(a, b)
		if !aok && !bok {
			continue
		}
		w, r := int64(shape.writers), int64(shape.readers)
		cell := func(ok bool, v int64) string {
			if !ok {
				return "-"
			}
			return thousands(v)
		}
		p("| %d | %d | %d | %s | %s | %s | %s | %s |", n, w, r, cell(aok, a.kms), thousands(w+w*r),
			cell(bok, b.kms), thousands(w+r+10), cell(bok, b.keyStoreGets))
	}
	p("")
	p("Key store GetItems: 1 to create the branch key, 2 per writer (the active record and its version), 1 per reader.")
	if svgPath != "" {
		p("")
		p("![KMS requests against fleet size, KMSCipher and the key store Cipher, log scale](%s)", svgPath)
	}
	p("")
}

// fleetSizes returns the fleet sizes measured, ascending.
func fleetSizes(points []fleetPoint) []int {
	var ns []int
	for _, p := range points {
		ns = append(ns, p.processes())
	}
	slices.Sort(ns)
	return slices.Compact(ns)
}

func find(series []fleetPoint, processes int) (fleetPoint, bool) {
	i := slices.IndexFunc(series, func(p fleetPoint) bool { return p.processes() == processes })
	if i < 0 {
		return fleetPoint{}, false
	}
	return series[i], true
}

// count prints a per-process workload: one number if all fleets used the
// same, else their range.
func count(points []fleetPoint, f func(fleetPoint) int) string {
	var vs []int
	for _, p := range points {
		vs = append(vs, f(p))
	}
	if len(vs) == 0 {
		return "-"
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return thousands(int64(lo))
	}
	return thousands(int64(lo)) + " to " + thousands(int64(hi))
}

// thousands formats n with commas, as the rest of the report's prose does.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                    = 720, 440
	padLeft, padRight, padTop, padBot = 80, 30, 50, 60
)

// chartColors are the lines' colours, one per entry of fleetCiphers: a blue
// and an orange that stay apart for the common colour blindnesses.
var chartColors = []string{"#d55e00", "#0072b2"}

// fleetChart draws KMS requests against fleet size, one line per cipher,
// on a log scale: the two grow as n² and n, and a linear axis would flatten
// the key store's line onto zero. It is plain SVG 1.1 with no script, font
// or stylesheet to fetch, so that it renders as an image in any Markdown
// viewer; its output depends on the points only, so regenerating it from
// the same figures changes nothing.
func fleetChart(points []fleetPoint) []byte {
	var b bytes.Buffer
	f := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	text := func(x, y float64, anchor, extra, s string) {
		f(`<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`, x, y, anchor, extra, escape(s))
	}

	sizes := fleetSizes(points)
	var lo, hi int64 = math.MaxInt64, 1
	for _, p := range points {
		lo, hi = min(lo, max(p.kms, 1)), max(hi, p.kms)
	}
	if len(points) == 0 {
		lo = 1
	}
	// y: whole decades around the data; x: 0 to the largest fleet, rounded
	// up to a multiple of 50.
	yMin, yMax := math.Floor(math.Log10(float64(lo))), math.Ceil(math.Log10(float64(hi)))
	if yMax <= yMin {
		yMax = yMin + 1
	}
	xMax := 50.0
	if len(sizes) > 0 {
		xMax = math.Ceil(float64(sizes[len(sizes)-1])/50) * 50
	}
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBot)
	px := func(n float64) float64 { return padLeft + n/xMax*plotW }
	py := func(v float64) float64 {
		return padTop + plotH - (math.Log10(max(v, 1))-yMin)/(yMax-yMin)*plotH
	}

	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`, chartW, chartH, chartW, chartH)
	f(`<title>KMS requests against fleet size, KMSCipher and the key store Cipher</title>`)
	f(`<rect width="%d" height="%d" fill="#ffffff"/>`, chartW, chartH)
	text(chartW/2, 26, "middle", ` font-size="16" font-weight="bold"`, "KMS requests by fleet size (W = R = processes / 2)")

	// Grid and y ticks: a labelled line per decade, faint lines at 2 to 9.
	for d := yMin; d <= yMax; d++ {
		y := py(math.Pow(10, d))
		f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#cccccc"/>`, padLeft, y, chartW-padRight, y)
		text(padLeft-8, y+4, "end", "", thousands(int64(math.Pow(10, d))))
		if d == yMax {
			break
		}
		for m := 2.0; m <= 9; m++ {
			y := py(m * math.Pow(10, d))
			f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eeeeee"/>`, padLeft, y, chartW-padRight, y)
		}
	}
	// x ticks every 50 processes.
	for n := 0.0; n <= xMax; n += 50 {
		x := px(n)
		f(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>`, x, chartH-padBot, x, chartH-padBot+5)
		text(x, chartH-padBot+20, "middle", "", strconv.Itoa(int(n)))
	}
	// Axes.
	f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`, padLeft, padTop, padLeft, chartH-padBot)
	f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`, padLeft, chartH-padBot, chartW-padRight, chartH-padBot)
	text(padLeft+plotW/2, chartH-16, "middle", "", "processes in the fleet (W writers + R readers)")
	f(`<text x="20" y="%.1f" text-anchor="middle" transform="rotate(-90 20 %.1f)">%s</text>`,
		padTop+plotH/2, padTop+plotH/2, escape("KMS requests (log scale)"))

	// One line per cipher, a marker and the count at each fleet size.
	for i, c := range fleetCiphers {
		series := fleetSeries(points, c.name)
		if len(series) == 0 {
			continue
		}
		color := chartColors[i%len(chartColors)]
		var pts []string
		for _, p := range series {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(p.processes())), py(float64(p.kms))))
		}
		f(`<polyline fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`, color, strings.Join(pts, " "))
		for _, p := range series {
			x, y := px(float64(p.processes())), py(float64(p.kms))
			f(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`, x, y, color)
			text(x, y-9, "middle", fmt.Sprintf(` font-size="11" fill="%s"`, color), thousands(p.kms))
		}
	}

	// Legend, top left, where both lines are low.
	lx, ly := float64(padLeft+16), float64(padTop+14)
	f(`<rect x="%.1f" y="%.1f" width="250" height="50" fill="#ffffff" stroke="#cccccc"/>`, lx-8, ly-12)
	for i, c := range fleetCiphers {
		color := chartColors[i%len(chartColors)]
		y := ly + float64(i)*22
		f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2.5"/>`, lx, y, lx+24, y, color)
		what := map[string]string{"kms-cipher": " (about W + W × R)", "keystore": " (W + R + 2)"}[c.name]
		text(lx+32, y+4, "start", "", c.label+what)
	}
	f(`</svg>`)
	return b.Bytes()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
