package pgerror

//go:generate go run ./gen

import (
	"context"
	"errors"
	"fmt"
)

// Code is a five-character SQLSTATE.
type Code string

// Error is an error with a SQLSTATE.
type Error struct {
	Code     Code
	Message  string
	Detail   string
	Hint     string
	Position int // 1-based character offset into the query text, 0 if none
	Severity string
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given code and formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithPosition returns err with its position set, if it is an *Error
// without one; other errors are wrapped as-is.
func WithPosition(err error, pos int) error {
	var e *Error
	if errors.As(err, &e) && e.Position == 0 && pos > 0 {
		c := *e
		c.Position = pos
		return &c
	}
	return err
}

// CodeOf returns the SQLSTATE of err: its Code if it is (or wraps) an *Error,
// QueryCanceled for context cancellation, InternalError otherwise.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return QueryCanceled
	}
	var c interface{ SQLState() string }
	if errors.As(err, &c) {
		return Code(c.SQLState())
	}
	return InternalError
}

// Convert returns err as an *Error, wrapping errors without a code as
// internal errors.
func Convert(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeOf(err), Message: err.Error()}
}
