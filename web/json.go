package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// maxBody bounds every request body the edge reads.
const maxBody = 64 << 10

// decodeJSON reads r's body into dst strictly: the content type must be JSON,
// the body at most 64 KiB of valid UTF-8 holding exactly one JSON object
// whose fields all exist in dst. Anything else is a 4xx *gatehouse.Error.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return &gatehouse.Error{Code: gatehouse.CodeUnsupportedMediaType, Message: "Send the request body as JSON with Content-Type: application/json."}
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		// null, arrays and scalars decode into a struct without an error;
		// the contract is one object.
		return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The request body must hold a single JSON object."}
	}
	if jsonDepth(body) > maxJSONDepth {
		return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The request body is nested too deeply."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The request body must hold a single JSON object."}
	}
	return nil
}

// maxJSONDepth bounds nesting: no request of ours needs more than 2 levels,
// and a deeply nested body costs the decoder work before it is refused.
const maxJSONDepth = 16

// jsonDepth returns the deepest nesting of arrays and objects in b,
// ignoring brackets inside strings. It does not validate b.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// readBody reads a body of at most maxBody bytes of valid UTF-8.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &gatehouse.Error{Code: gatehouse.CodeBodyTooLarge, Message: "The request body is too large (at most 64 KiB)."}
		}
		return nil, &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The request body could not be read.", Err: err}
	}
	if !utf8.Valid(body) {
		return nil, &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Message: "The request body must be valid UTF-8."}
	}
	return body, nil
}

func jsonError(err error) error {
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		inv  *json.InvalidUnmarshalError
		msg  = "The request body is not valid JSON."
		fld  string
		code = gatehouse.CodeInvalidRequest
	)
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
	case errors.As(err, &typ):
		fld = typ.Field
		msg = "A field has the wrong type."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fld = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg = "A field is not accepted here."
	case errors.As(err, &inv):
		return err
	}
	// A field name is echoed only when it is short and printable: it is the
	// client's own text.
	if !utf8.ValidString(fld) || len(fld) > 64 || strings.ContainsFunc(fld, unicode.IsControl) {
		fld = ""
	}
	if fld != "" {
		if typ != nil {
			msg = "The field " + fld + " has the wrong type."
		} else {
			msg = "The field " + fld + " is not accepted here."
		}
	}
	return &gatehouse.Error{Code: code, Message: msg, Field: fld}
}

// writeJSON writes v with status st. Responses carrying user or session data
// are never cached.
func writeJSON(w http.ResponseWriter, st int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledJSON {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	// Encode writes what Marshal would, newline added.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		st = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal_error","message":"Something went wrong on our side. Please try again."}}` + "\n")
	}
	hd := w.Header()
	hd["Content-Type"], hd["Cache-Control"] = jsonContentType, noStore
	w.WriteHeader(st)
	w.Write(buf.Bytes())
}

// jsonBuffers recycles writeJSON's buffers; one bigger than maxPooledJSON
// (a long list) is left to the garbage collector.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledJSON = 64 << 10
