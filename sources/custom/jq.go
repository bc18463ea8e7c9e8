package custom

import (
	"context"
	"errors"

	"github.com/itchyny/gojq"
)

// first is the first output of code on v; no output is null.
func first(ctx context.Context, code *gojq.Code, v any) (any, error) {
	iter := code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := out.(error); isErr {
		var halt *gojq.HaltError
		if errors.As(err, &halt) && halt.Value() == nil {
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}
