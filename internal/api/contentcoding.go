package api

// Content codings: which one a request accepts (Accept-Encoding, RFC 9110 §12.5.3), and the
// compressors behind them. Kibana's Fleet client (node-fetch with its defaults) sends
// "Accept-Encoding: gzip,deflate"; browsers add br and zstd.

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// coding is a content coding we can send. The order is the preference among codings a client
// weighs equally: zstd is smaller and faster to decode than gzip.
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingZstd
	codings // number of codings
)

// name is the coding's token, for Content-Encoding and the ETag suffix.
func (c coding) name() string {
	switch c {
	case codingGzip:
		return "gzip"
	case codingZstd:
		return "zstd"
	}
	return "identity"
}

// minCompressBytes: bodies smaller than this are always sent as they are (a few hundred bytes
// gain nothing from a coding), so their responses do not vary with Accept-Encoding either.
const minCompressBytes = 512

// negotiateCoding picks the coding for a response from the Accept-Encoding field lines (nil:
// the client sent none, and gets the identity, as before codings were offered). Of the
// codings we have, the one with the highest q wins, a compressed one on a tie with identity.
// When the client refuses every coding we have, identity included (identity;q=0 with only
// unknown codings listed), identity is sent anyway: RFC 9110 §12.5.3 lets a server answer
// without a coding rather than 406, which is what a client of EPR (which never compresses)
// already copes with.
func negotiateCoding(lines []string) coding {
	if len(lines) == 0 {
		return codingIdentity
	}
	// q in thousandths; -1: not listed.
	q := [codings]int{-1, -1, -1}
	star := -1
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			w, ok := qValue(params)
			if !ok {
				continue // a malformed weight: ignore the item rather than guess
			}
			switch {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				q[codingGzip] = max(q[codingGzip], w)
			case strings.EqualFold(name, "zstd"):
				q[codingZstd] = max(q[codingZstd], w)
			case strings.EqualFold(name, "identity"):
				q[codingIdentity] = max(q[codingIdentity], w)
			case name == "*":
				star = max(star, w)
			}
		}
	}
	for c := range q {
		if q[c] < 0 {
			q[c] = star // "*" stands for every coding not listed
		}
	}
	if q[codingIdentity] < 0 {
		q[codingIdentity] = 1 // identity is acceptable unless refused (§12.5.3)
	}
	best := codingIdentity
	for _, c := range []coding{codingGzip, codingZstd} {
		if q[c] > 0 && q[c] >= q[best] {
			best = c
		}
	}
	return best
}

// qValue reads the weight of one Accept-Encoding item from its parameters (";q=0.5"), in
// thousandths; no weight is 1000. ok is false for a weight outside RFC 9110's grammar.
func qValue(params string) (int, bool) {
	w := 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		whole, frac, dot := strings.Cut(v, ".")
		if len(whole) != 1 || (dot && len(frac) > 3) {
			return 0, false
		}
		for len(frac) < 3 {
			frac += "0"
		}
		n, err := strconv.Atoi(frac)
		if err != nil || frac[0] == '+' || frac[0] == '-' {
			return 0, false
		}
		w = int(whole[0]-'0')*1000 + n
		if w > 1000 {
			return 0, false
		}
	}
	return w, true
}

// compressBody encodes body in coding c, in a slice of its own length: a compressed list body
// lives as long as its snapshot, and the buffer it was written to has room for a worse ratio
// (at 10,000 versions, 2 MB for the 0.4 MB gzip form of /search?all=true).
func compressBody(c coding, body []byte) []byte {
	out := encodeBody(c, body)
	if cap(out)-len(out) > len(out)/8 {
		return bytes.Clone(out)
	}
	return out
}

// encodeBody encodes body in coding c.
func encodeBody(c coding, body []byte) []byte {
	switch c {
	case codingGzip:
		var buf bytes.Buffer
		buf.Grow(len(body) / 6)
		slots := gzipWriters()
		zw := <-slots
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(nil, gzip.DefaultCompression)
		}
		zw.Reset(&buf)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		_ = zw.Close()
		slots <- zw
		return buf.Bytes()
	case codingZstd:
		return zstdEncoder().EncodeAll(body, make([]byte, 0, len(body)/8))
	}
	return body
}

// gzipWriters holds one writer (about 1 MB of state) per CPU, made on first use. Compressing
// is CPU work, so more at once would not finish sooner; a burst of requests for text files
// waits for a writer instead of allocating one each.
var gzipWriters = sync.OnceValue(func() chan *gzip.Writer {
	n := runtime.GOMAXPROCS(0)
	slots := make(chan *gzip.Writer, n)
	for range n {
		slots <- nil
	}
	return slots
})

// zstdEncoder is shared: EncodeAll is safe for concurrent use, and runs at most one encoder
// per CPU. RFC 9659 bounds the window of zstd as an HTTP coding to 8 MB; 1 MB keeps the
// encoders to about 2.5 MB together, at a small cost in ratio on the largest bodies (JSON
// repeats itself within a few KB).
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1<<20),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // only bad options fail, and these are constants
	}
	return enc
})

// compressibleType reports whether a Content-Type is text worth compressing: zips, images
// other than SVG and signatures are sent as they are.
func compressibleType(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	switch {
	case strings.HasPrefix(ct, "text/"):
		return true
	case ct == "application/json", ct == "application/yaml", ct == "image/svg+xml":
		return true
	}
	return false
}
