// Package anthem is the Go binding of libanthem, a C library for product
// retrieval with hyperbolic hyperboloid embeddings (ANTHEM).
//
// The binding is thin: every function calls the public C API
// (<anthem/anthem.h>) and nothing else.  Handles (Model, Hyperboloid,
// Vectors, Catalog, Judgments, Index, Trainer) free their C object in
// Close; a finalizer is only a backstop, so call Close (or defer it).
// Methods of a closed handle return an error that matches ErrClosed.
//
// Errors are *Error values carrying the C status code, its name
// (anthem_strerror) and the calling thread's message (anthem_last_error).
// They match the sentinels with errors.Is:
//
//	if errors.Is(err, anthem.ErrNotFound) { ... }
//
// Read-only handles (a loaded Model, an Index, a Hyperboloid, Vectors,
// Catalog, Judgments) may be used from many goroutines at once, as the C
// library allows.
package anthem

/*
#cgo pkg-config: anthem
#include <stdint.h>
#include <stdlib.h>
#include <anthem/anthem.h>

#if !defined(ANTHEM_VERSION_NUMBER) || ANTHEM_VERSION_NUMBER < 100
#error "the Go binding needs libanthem headers 0.1.0 or newer"
#endif

// Defined in train.go (//export); the const of anthem_progress_fn's first
// parameter is added by the cast.
extern int goAnthemProgress(anthem_train_progress *p, void *user);

static inline void anthem_go_set_progress(anthem_train_options *o, uintptr_t h)
{
	o->progress = (anthem_progress_fn)goAnthemProgress;
	o->progress_user = (void *)h;
}

// Defined in search.go (//export): the graph build's progress.
extern void goAnthemAnnProgress(size_t done, size_t total, void *user);

static inline void anthem_go_set_ann_progress(anthem_index_options *o, uintptr_t h)
{
	o->ann_progress = goAnthemAnnProgress;
	o->ann_progress_user = (void *)h;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// HeaderVersion and HeaderVersionNumber are the version of the C headers
// this package was compiled against; Version and VersionNumber report the
// library actually loaded at run time.
const (
	HeaderVersion       = C.ANTHEM_VERSION_STRING
	HeaderVersionNumber = C.ANTHEM_VERSION_NUMBER
)

// Version returns the loaded library's version string (anthem_version_string).
func Version() string { return C.GoString(C.anthem_version_string()) }

// VersionNumber returns MAJOR*10000 + MINOR*100 + PATCH of the loaded
// library (anthem_version_number).
func VersionNumber() int { return int(C.anthem_version_number()) }

// MaxDim is the largest dimension any handle accepts (anthem_max_dim).
func MaxDim() int { return int(C.anthem_max_dim()) }

// Status codes of the C API (anthem_status).  The numbers are ABI: never
// renumbered, never reused.
const (
	CodeOK        = int(C.ANTHEM_OK)
	CodeInvalid   = int(C.ANTHEM_EINVAL)
	CodeNoMem     = int(C.ANTHEM_ENOMEM)
	CodeIO        = int(C.ANTHEM_EIO)
	CodeFormat    = int(C.ANTHEM_EFORMAT)
	CodeVersion   = int(C.ANTHEM_EVERSION)
	CodeChecksum  = int(C.ANTHEM_ECHECKSUM)
	CodeTruncated = int(C.ANTHEM_ETRUNCATED)
	CodeMismatch  = int(C.ANTHEM_EMISMATCH)
	CodeRange     = int(C.ANTHEM_ERANGE)
	CodeNotFound  = int(C.ANTHEM_ENOTFOUND)
	CodeCanceled  = int(C.ANTHEM_ECANCELED)
)

// Error is a failure reported by libanthem (or refused by this package
// before calling it, with the code the library would have used).
type Error struct {
	Code    int    // negative ANTHEM_E* status
	Name    string // anthem_strerror(Code)
	Message string // anthem_last_error() of the failing call: what and where
	cause   error  // a callback's error or panic, ErrClosed, ...
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("anthem: ")
	if e.Message != "" {
		b.WriteString(e.Message)
		b.WriteString(" (")
		b.WriteString(e.Name)
		b.WriteString(")")
	} else {
		b.WriteString(e.Name)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause: the error a progress callback
// returned, a *PanicError, or ErrClosed.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, anthem.ErrChecksum) matches any checksum failure.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// StatusName is anthem_strerror: a static description of a status code.
func StatusName(code int) string { return C.GoString(C.anthem_strerror(C.int(code))) }

func sentinel(code int) *Error { return &Error{Code: code, Name: StatusName(code)} }

// Sentinels for errors.Is, one per status code.
var (
	ErrInvalid   = sentinel(CodeInvalid)
	ErrNoMem     = sentinel(CodeNoMem)
	ErrIO        = sentinel(CodeIO)
	ErrFormat    = sentinel(CodeFormat)
	ErrVersion   = sentinel(CodeVersion)
	ErrChecksum  = sentinel(CodeChecksum)
	ErrTruncated = sentinel(CodeTruncated)
	ErrMismatch  = sentinel(CodeMismatch)
	ErrRange     = sentinel(CodeRange)
	ErrNotFound  = sentinel(CodeNotFound)
	ErrCanceled  = sentinel(CodeCanceled)
)

// ErrClosed is the cause of the error a method of a closed handle returns
// (the error's Code is CodeInvalid).
var ErrClosed = errors.New("handle is closed")

// goError builds an *Error for an argument refused on the Go side, before
// any C call.
func goError(code int, format string, args ...any) error {
	return &Error{Code: code, Name: StatusName(code), Message: fmt.Sprintf(format, args...)}
}

// call runs one C call and, if it fails, reads the failure's message.  The
// message lives in the C library's thread-local storage, so the goroutine
// is wired to its OS thread from the call to the read: between two cgo
// calls it could otherwise move to another thread and read that thread's
// message.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc == C.ANTHEM_OK {
		return nil
	}
	return &Error{Code: int(rc), Name: StatusName(int(rc)), Message: C.GoString(C.anthem_last_error())}
}

// cstring is C.CString refusing strings that C would silently cut at a NUL
// byte.  Free the result with C.free.
func cstring(what, s string) (*C.char, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, goError(CodeInvalid, "%s holds a NUL byte at offset %d", what, i)
	}
	return C.CString(s), nil
}

// cstrings copies strings into one C block: the array of pointers (for a
// `const char *const *` parameter) followed by the NUL-terminated texts.
// Free the block (the returned pointer) with C.free.
func cstrings(what string, ss []string) (**C.char, error) {
	total := uintptr(len(ss)) * unsafe.Sizeof((*C.char)(nil))
	for i, s := range ss {
		if j := strings.IndexByte(s, 0); j >= 0 {
			return nil, goError(CodeInvalid, "%s[%d] holds a NUL byte at offset %d", what, i, j)
		}
		total += uintptr(len(s)) + 1
	}
	if total == 0 {
		total = 1
	}
	block := C.malloc(C.size_t(total))
	if block == nil {
		return nil, goError(CodeNoMem, "out of memory for %d strings", len(ss))
	}
	ptrs := unsafe.Slice((**C.char)(block), len(ss))
	text := unsafe.Slice((*byte)(block), total)
	off := uintptr(len(ss)) * unsafe.Sizeof((*C.char)(nil))
	for i, s := range ss {
		copy(text[off:], s)
		text[off+uintptr(len(s))] = 0
		ptrs[i] = (*C.char)(unsafe.Pointer(&text[off]))
		off += uintptr(len(s)) + 1
	}
	return (**C.char)(block), nil
}

// size converts a non-negative int to size_t, refusing negative values
// that would wrap to huge sizes in C.
func size(what string, n int) (C.size_t, error) {
	if n < 0 {
		return 0, goError(CodeRange, "%s is %d, must be >= 0", what, n)
	}
	return C.size_t(n), nil
}

// floatPtr is the address of a slice's first element (nil for an empty
// slice).  C reads or writes it during the call only: it never keeps it.
func floatPtr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// object is the life of one C handle.  Every use holds a reference, so a
// Close (or the finalizer) racing with a call in another goroutine frees
// the handle only when the call is over; dependents (a trainer of its
// catalogue, a borrowed view of its owner) hold one too.
type object struct {
	mu     sync.Mutex
	kind   string
	p      unsafe.Pointer
	refs   int
	closed bool
	free   func(unsafe.Pointer) // nil for a borrowed handle
	deps   []*object            // released when this one is freed
	done   chan struct{}        // closed once freed
}

// newObject wraps a C pointer.  deps must already be acquired: the new
// object releases them when it is freed.
func newObject(kind string, p unsafe.Pointer, free func(unsafe.Pointer), deps ...*object) *object {
	return &object{kind: kind, p: p, free: free, deps: deps, done: make(chan struct{})}
}

func (o *object) closedError() error {
	return &Error{Code: CodeInvalid, Name: StatusName(CodeInvalid),
		Message: "the " + o.kind + " is closed", cause: ErrClosed}
}

// acquire returns the C pointer and holds a reference; pair with release.
func (o *object) acquire() (unsafe.Pointer, error) {
	if o == nil {
		return nil, goError(CodeInvalid, "nil handle")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, o.closedError()
	}
	o.refs++
	return o.p, nil
}

func (o *object) release() {
	o.mu.Lock()
	o.refs--
	last := o.closed && o.refs == 0
	o.mu.Unlock()
	if last {
		o.destroy()
	}
}

// close marks the handle closed and frees it now, or when its last user
// releases it.  Idempotent.
func (o *object) close() {
	if o == nil {
		return
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	last := o.refs == 0
	o.mu.Unlock()
	if last {
		o.destroy()
	}
}

func (o *object) destroy() {
	o.mu.Lock()
	p, free, deps := o.p, o.free, o.deps
	o.p, o.deps = nil, nil
	o.mu.Unlock()
	if p != nil && free != nil {
		free(p)
	}
	for _, d := range deps {
		d.release()
	}
	close(o.done)
}

// closeAndWait closes the handle and waits until calls in flight are over.
func (o *object) closeAndWait() {
	o.close()
	<-o.done
}

// setProgress points a C options struct at the exported trampoline, with
// the handle as its user pointer (the C helper lives here because a file
// with //export may only declare C, not define it).
func setProgress(o *C.anthem_train_options, h cgo.Handle) {
	C.anthem_go_set_progress(o, C.uintptr_t(h))
}

// setAnnProgress points the index options' ann_progress at
// goAnthemAnnProgress (search.go), likewise.
func setAnnProgress(o *C.anthem_index_options, h cgo.Handle) {
	C.anthem_go_set_ann_progress(o, C.uintptr_t(h))
}
