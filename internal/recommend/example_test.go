package recommend_test

import (
	"fmt"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/recommend"
)

// Two shoppers co-visit items; a third who views "a" is recommended "b",
// and a click on it becomes a feedback event for the log.
func Example() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, _ := recommend.New(recommend.Config{Epsilon: -1, FreshQuota: -1, Now: func() time.Time { return now }}, nil)
	view := func(user, item string) {
		s.Observe(&event.Event{ID: user + item, Type: event.TypeView, Timestamp: now.Add(-time.Minute), UserID: user, ItemID: item})
	}
	view("ann", "a")
	view("ann", "b")
	view("bob", "a")
	view("bob", "b")
	view("cat", "a")
	resp, _ := s.Recommend(&recommend.Request{UserID: "cat", Slots: 1})
	fmt.Println(resp.Items, resp.Positions, resp.Propensities)
	fb, _ := s.Feedback(&recommend.Feedback{RequestID: resp.RequestID, ItemID: "b", Reward: 1})
	fmt.Println(fb.Type, fb.ItemID, fb.Position, fb.Reward)
	// Output:
	// [b] [1] [1]
	// feedback b 1 1
}
