package custom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// jsonStream reads a page as encoding/json's Decoder does with UseNumber
// (Token, More, Decode, the same values: map[string]any, []any,
// json.Number, string, bool, nil), in one pass over the bytes. The
// Decoder scans each value twice (to find its end, then to build it) and
// unquotes every string through its general path: for pages of 1 KiB
// items it cost twice the time. Input it rejects, this rejects; a string
// with escapes or invalid UTF-8 is unquoted by encoding/json itself.
type jsonStream struct {
	r   io.Reader
	buf []byte
	pos int
	// off is the stream offset of buf[0], for errors.
	off int64
	// rerr is the reader's error once it returned one (io.EOF at the end).
	rerr error

	// The token state machine, as encoding/json's.
	state int
	stack []int

	scratch []byte
}

const (
	tokTopValue = iota
	tokArrayStart
	tokArrayValue
	tokArrayComma
	tokObjectStart
	tokObjectKey
	tokObjectColon
	tokObjectValue
	tokObjectComma
)

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = 10000

func newJSONStream(r io.Reader) *jsonStream {
	return &jsonStream{r: r, buf: make([]byte, 0, 32<<10)}
}

// fill reads more input into buf, dropping what was consumed. It reports
// false at the end of the input or on a read error (in rerr).
func (d *jsonStream) fill() bool {
	if d.rerr != nil {
		return false
	}
	if d.pos > 0 {
		n := copy(d.buf, d.buf[d.pos:])
		d.off += int64(d.pos)
		d.buf, d.pos = d.buf[:n], 0
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, 0)[:len(d.buf)] // never a zero-length read
	}
	for {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// eofErr is the error for input that ends inside a value.
func (d *jsonStream) eofErr() error {
	if d.rerr != nil && d.rerr != io.EOF {
		return d.rerr
	}
	return io.ErrUnexpectedEOF
}

// peek skips white space and returns the next byte without consuming it;
// at the end of the input the error is io.EOF (or the read error).
func (d *jsonStream) peek() (byte, error) {
	for {
		for d.pos < len(d.buf) {
			switch c := d.buf[d.pos]; c {
			case ' ', '\t', '\n', '\r':
				d.pos++
			default:
				return c, nil
			}
		}
		if !d.fill() {
			return 0, d.rerr
		}
	}
}

func (d *jsonStream) syntax(c byte, context string) error {
	return fmt.Errorf("%w: invalid character %q %s at offset %d", errNotJSON, c, context, d.off+int64(d.pos))
}

func (d *jsonStream) valueAllowed() bool {
	switch d.state {
	case tokTopValue, tokArrayStart, tokArrayValue, tokObjectValue:
		return true
	}
	return false
}

func (d *jsonStream) valueEnd() {
	switch d.state {
	case tokArrayStart, tokArrayValue:
		d.state = tokArrayComma
	case tokObjectValue:
		d.state = tokObjectComma
	}
}

func (d *jsonStream) pop() {
	d.state = d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
}

// Token returns the next token as json.Decoder.Token does.
func (d *jsonStream) Token() (json.Token, error) {
	for {
		c, err := d.peek()
		if err != nil {
			return nil, err // io.EOF inside a value too, as json.Decoder's
		}
		switch c {
		case '[', '{':
			if !d.valueAllowed() {
				return nil, d.syntax(c, "where a value cannot start")
			}
			if len(d.stack) >= maxJSONDepth {
				return nil, fmt.Errorf("%w: nested too deeply", errNotJSON)
			}
			d.pos++
			d.stack = append(d.stack, d.state)
			if c == '[' {
				d.state = tokArrayStart
			} else {
				d.state = tokObjectStart
			}
			return json.Delim(c), nil
		case ']':
			if d.state != tokArrayStart && d.state != tokArrayComma {
				return nil, d.syntax(c, "outside an array")
			}
			d.pos++
			d.pop()
			d.valueEnd()
			return json.Delim(c), nil
		case '}':
			if d.state != tokObjectStart && d.state != tokObjectComma {
				return nil, d.syntax(c, "outside an object")
			}
			d.pos++
			d.pop()
			d.valueEnd()
			return json.Delim(c), nil
		case ':':
			if d.state != tokObjectColon {
				return nil, d.syntax(c, "after no object key")
			}
			d.pos++
			d.state = tokObjectValue
			continue
		case ',':
			switch d.state {
			case tokArrayComma:
				d.pos++
				d.state = tokArrayValue
				continue
			case tokObjectComma:
				d.pos++
				d.state = tokObjectKey
				continue
			}
			return nil, d.syntax(c, "where no comma may be")
		case '"':
			if d.state == tokObjectStart || d.state == tokObjectKey {
				d.pos++
				s, err := d.str()
				if err != nil {
					return nil, err
				}
				d.state = tokObjectColon
				return s, nil
			}
		}
		if !d.valueAllowed() {
			return nil, d.syntax(c, "where a value cannot start")
		}
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// More reports whether the current array or object has another element.
func (d *jsonStream) More() bool {
	c, err := d.peek()
	return err == nil && c != ']' && c != '}'
}

// Decode reads the next value into *v.
func (d *jsonStream) Decode(v *any) error {
	c, err := d.peek()
	if err != nil {
		if err == io.EOF && d.state != tokTopValue {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	switch d.state {
	case tokArrayComma:
		if c != ',' {
			return d.syntax(c, "after an array element")
		}
		d.pos++
		d.state = tokArrayValue
	case tokObjectColon:
		if c != ':' {
			return d.syntax(c, "after an object key")
		}
		d.pos++
		d.state = tokObjectValue
	}
	if !d.valueAllowed() {
		return d.syntax(c, "where a value cannot start")
	}
	x, err := d.value(len(d.stack))
	if err != nil {
		return err
	}
	*v = x
	d.valueEnd()
	return nil
}

// value parses one value at depth.
func (d *jsonStream) value(depth int) (any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, d.eofErr()
	}
	switch {
	case c == '{':
		if depth >= maxJSONDepth {
			return nil, fmt.Errorf("%w: nested too deeply", errNotJSON)
		}
		d.pos++
		m := map[string]any{}
		c, err := d.peek()
		if err != nil {
			return nil, d.eofErr()
		}
		if c == '}' {
			d.pos++
			return m, nil
		}
		for {
			if c != '"' {
				return nil, d.syntax(c, "looking for the beginning of an object key")
			}
			d.pos++
			key, err := d.str()
			if err != nil {
				return nil, err
			}
			if c, err = d.peek(); err != nil {
				return nil, d.eofErr()
			}
			if c != ':' {
				return nil, d.syntax(c, "after an object key")
			}
			d.pos++
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[key] = v
			if c, err = d.peek(); err != nil {
				return nil, d.eofErr()
			}
			d.pos++
			switch c {
			case ',':
			case '}':
				return m, nil
			default:
				d.pos--
				return nil, d.syntax(c, "after an object value")
			}
			if c, err = d.peek(); err != nil {
				return nil, d.eofErr()
			}
		}
	case c == '[':
		if depth >= maxJSONDepth {
			return nil, fmt.Errorf("%w: nested too deeply", errNotJSON)
		}
		d.pos++
		l := []any{}
		c, err := d.peek()
		if err != nil {
			return nil, d.eofErr()
		}
		if c == ']' {
			d.pos++
			return l, nil
		}
		for {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if c, err = d.peek(); err != nil {
				return nil, d.eofErr()
			}
			d.pos++
			switch c {
			case ',':
			case ']':
				return l, nil
			default:
				d.pos--
				return nil, d.syntax(c, "after an array element")
			}
		}
	case c == '"':
		d.pos++
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, d.syntax(c, "looking for the beginning of a value")
}

func (d *jsonStream) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.buf) && !d.fill() {
			return d.eofErr()
		}
		if c := d.buf[d.pos]; c != lit[i] {
			return d.syntax(c, "in literal "+lit)
		}
		d.pos++
	}
	return nil
}

// str reads a string literal whose opening quote was consumed. Plain
// strings (no escape, valid UTF-8) are taken from the buffer as they are;
// the others are unquoted by encoding/json.
func (d *jsonStream) str() (string, error) {
	// Most strings are printable ASCII without escapes and end in the
	// buffer: find the quote and check the bytes before it in bulk.
	if i := bytes.IndexByte(d.buf[d.pos:], '"'); i >= 0 {
		lit := d.buf[d.pos : d.pos+i]
		if bytes.IndexByte(lit, '\\') < 0 && printableASCII(lit) {
			d.pos += i + 1
			return string(lit), nil
		}
	}
	start := d.pos
	d.scratch = d.scratch[:0]
	spanning := false
	escaped, ascii := false, true
	for {
		for d.pos < len(d.buf) {
			c := d.buf[d.pos]
			switch {
			case c == '"':
				lit := d.buf[start:d.pos]
				d.pos++
				if spanning {
					d.scratch = append(d.scratch, lit...)
					lit = d.scratch
				}
				if !escaped && (ascii || utf8.Valid(lit)) {
					return string(lit), nil
				}
				return unquote(lit)
			case c == '\\':
				escaped = true
				d.pos++
				if d.pos >= len(d.buf) {
					// The escaped byte is in the next read: keep the
					// backslash with the literal so far.
					continue
				}
				if err := d.checkEscape(); err != nil {
					return "", err
				}
			case c < 0x20:
				return "", d.syntax(c, "in a string literal")
			case c >= utf8.RuneSelf:
				ascii = false
				d.pos++
			default:
				d.pos++
			}
		}
		d.scratch = append(d.scratch, d.buf[start:d.pos]...)
		spanning = true
		if !d.fill() {
			return "", d.eofErr()
		}
		start = d.pos
		if len(d.scratch) > 0 && d.scratch[len(d.scratch)-1] == '\\' && endsInEscape(d.scratch) {
			if err := d.checkEscape(); err != nil {
				return "", err
			}
		}
	}
}

// printableASCII says b has no control byte and no byte of a multi-byte
// UTF-8 sequence: each byte is in [0x20, 0x80).
func printableASCII(b []byte) bool {
	for _, c := range b {
		if c-0x20 >= 0x60 {
			return false
		}
	}
	return true
}

// endsInEscape says lit ends with a backslash that escapes the next byte
// (an odd run of backslashes).
func endsInEscape(lit []byte) bool {
	n := 0
	for i := len(lit) - 1; i >= 0 && lit[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// checkEscape checks the byte after a backslash (at pos) and consumes it;
// the 4 hex digits of \u are checked as ordinary string bytes by
// encoding/json's unquote, which rejects bad ones.
func (d *jsonStream) checkEscape() error {
	switch c := d.buf[d.pos]; c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
		d.pos++
		return nil
	default:
		return d.syntax(c, "in string escape code")
	}
}

// unquote decodes the string literal body lit with encoding/json, for its
// exact handling of escapes, surrogates and invalid UTF-8.
func unquote(lit []byte) (string, error) {
	b := make([]byte, 0, len(lit)+2)
	b = append(b, '"')
	b = append(b, lit...)
	b = append(b, '"')
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return s, nil
}

// number reads a number as json.Number by JSON's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, stopping where it ends
// (in a stream, "01" is two numbers, as json.Decoder reads it).
func (d *jsonStream) number() (any, error) {
	d.scratch = d.scratch[:0]
	if d.numberByte(isMinus) {
		d.take()
	}
	switch {
	case d.numberByte(isZero):
		d.take()
	case d.numberByte(isDigit):
		d.digits()
	default:
		return nil, d.badNumber()
	}
	if d.numberByte(isDot) {
		d.take()
		if d.digits() == 0 {
			return nil, d.badNumber()
		}
	}
	if d.numberByte(isExp) {
		d.take()
		if d.numberByte(isSign) {
			d.take()
		}
		if d.digits() == 0 {
			return nil, d.badNumber()
		}
	}
	if d.rerr != nil && d.rerr != io.EOF && d.pos >= len(d.buf) {
		return nil, d.rerr
	}
	return json.Number(d.scratch), nil
}

// numberByte says the next byte (white space not skipped) is one of is.
func (d *jsonStream) numberByte(is func(byte) bool) bool {
	if d.pos >= len(d.buf) && !d.fill() {
		return false
	}
	return is(d.buf[d.pos])
}

func (d *jsonStream) take() {
	d.scratch = append(d.scratch, d.buf[d.pos])
	d.pos++
}

func (d *jsonStream) digits() int {
	n := 0
	for d.numberByte(isDigit) {
		d.take()
		n++
	}
	return n
}

func (d *jsonStream) badNumber() error {
	if d.rerr != nil && d.rerr != io.EOF && d.pos >= len(d.buf) {
		return d.rerr
	}
	return fmt.Errorf("%w: invalid number %q at offset %d", errNotJSON, d.scratch, d.off+int64(d.pos))
}

func isMinus(c byte) bool { return c == '-' }
func isZero(c byte) bool  { return c == '0' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isDot(c byte) bool   { return c == '.' }
func isExp(c byte) bool   { return c == 'e' || c == 'E' }
func isSign(c byte) bool  { return c == '+' || c == '-' }
