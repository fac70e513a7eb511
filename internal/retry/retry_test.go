package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDelay: every wait lies in its window, which doubles up to Max.
func TestDelay(t *testing.T) {
	b := Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}
	for attempt := 1; attempt < 40; attempt++ {
		window := min(time.Millisecond<<min(attempt, 16), 10*time.Millisecond)
		for range 50 {
			if d := b.Delay(attempt); d < 0 || d >= window {
				t.Fatalf("Delay(%d) = %v, want in [0, %v)", attempt, d, window)
			}
		}
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep with a cancelled context: %v", err)
	}
}
