package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

func TestReserveConcurrentNeverOversells(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 1})

		const shoppers = 100
		results := make([]flashsale.ReserveResult, shoppers)
		errs := make([]error, shoppers)
		var wg sync.WaitGroup
		for i := range shoppers {
			wg.Go(func() {
				in := reserveInput(ref, fmt.Sprintf("u%d", i), 1)
				out, err := s.Reserve(t.Context(), in)
				results[i], errs[i] = out.Result, err
			})
		}
		wg.Wait()

		count := map[flashsale.ReserveResult]int{}
		for i, err := range errs {
			if err != nil {
				t.Errorf("reserve u%d: %v", i, err)
			}
			count[results[i]]++
		}
		want := map[flashsale.ReserveResult]int{flashsale.Reserved: 10, flashsale.SoldOut: 90}
		if fmt.Sprint(count) != fmt.Sprint(want) {
			t.Errorf("results: got %v, want %v", count, want)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 0, Held: 10})
	})
}

func TestReserveInsufficientTakesNothing(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 3})

		mustReserve(t, s, reserveInput(ref, "u1", 3), flashsale.Reserved)
		out := mustReserve(t, s, reserveInput(ref, "u2", 3), flashsale.Insufficient)
		if out.Remaining != 2 || out.Limit != 3 {
			t.Errorf("remaining, limit: got %d, %d, want 2, 3", out.Remaining, out.Limit)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 2, Held: 3})
	})
}

func TestReserveOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		spec       saleSpec
		qty        int
		want       flashsale.ReserveResult
		remaining  int
		reason     string // of the rejected event; empty when none
		wantLimit  int
		wantAmount int64
	}{
		{"missing stock key", saleSpec{stock: 5, limit: 2, noStock: true}, 1,
			flashsale.StockMissing, 0, "", 2, 0},
		{"missing meta", saleSpec{stock: 5, limit: 2, noMeta: true}, 1,
			flashsale.StockMissing, 5, "", 0, 0},
		{"stock zero", saleSpec{stock: 0, limit: 2}, 1,
			flashsale.SoldOut, 0, "sold_out", 2, 0},
		{"stock one, qty two", saleSpec{stock: 1, limit: 2}, 2,
			flashsale.Insufficient, 1, "insufficient_stock", 2, 0},
		{"normal", saleSpec{stock: 5, limit: 2, price: 999}, 2,
			flashsale.Reserved, 3, "", 2, 1998},
		{"qty above limit", saleSpec{stock: 5, limit: 2}, 3,
			flashsale.QtyAboveLimit, 5, "qty_above_limit", 2, 0},
		{"paused", saleSpec{stock: 5, limit: 2, state: "paused"}, 1,
			flashsale.Paused, 5, "paused", 2, 0},
		{"ended by admin", saleSpec{stock: 5, limit: 2, state: "ended"}, 1,
			flashsale.Ended, 5, "ended", 2, 0},
		{"window over", saleSpec{stock: 5, limit: 2, start: -2 * time.Hour, end: -time.Minute}, 1,
			flashsale.Ended, 5, "ended", 2, 0},
		{"not started", saleSpec{stock: 5, limit: 2, start: time.Hour, end: 2 * time.Hour}, 1,
			flashsale.NotStarted, 5, "not_started", 2, 0},
	}
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ref := loadSale(t, tg.c, tc.spec)
				in := reserveInput(ref, "u1", tc.qty)

				out := mustReserve(t, s, in, tc.want)
				if out.Remaining != tc.remaining || out.Limit != tc.wantLimit {
					t.Errorf("remaining, limit: got %d, %d, want %d, %d",
						out.Remaining, out.Limit, tc.remaining, tc.wantLimit)
				}
				if out.Hold.AmountMinor != tc.wantAmount {
					t.Errorf("amount: got %d, want %d", out.Hold.AmountMinor, tc.wantAmount)
				}
				checkRejectedEvent(t, tg.c, in.HoldRef, tc.reason)
			})
		}
	})
}

func checkRejectedEvent(
	t *testing.T,
	c redis.UniversalClient,
	ref flashsale.HoldRef,
	reason string,
) {
	t.Helper()
	got := eventsOf(t, c, ref)
	if reason == "" {
		if len(got) > 0 && got[0] != "reserved/" {
			t.Errorf("events: got %v, want none or reserved", got)
		}
		return
	}
	if want := []string{"rejected/" + reason}; !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
}

func TestReserveRecordsHold(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2, price: 1250})
		in := reserveInput(ref, "u1", 2)
		in.TTL = 90 * time.Second

		before := time.Now()
		out := mustReserve(t, s, in, flashsale.Reserved)
		want := flashsale.Hold{HoldRef: in.HoldRef, UserID: "u1", Qty: 2, AmountMinor: 2500,
			Currency: "EUR", State: flashsale.HoldHeld, Deadline: out.Hold.Deadline}
		if out.Hold != want {
			t.Errorf("hold: got %+v, want %+v", out.Hold, want)
		}
		// The deadline comes from the Redis clock, the same machine's here.
		if d := out.Hold.Deadline.Sub(before); d < 89*time.Second || d > 91*time.Second {
			t.Errorf("deadline: got now+%v, want now+90s", d)
		}
		if got := mustHold(t, s, in.HoldRef); got != out.Hold {
			t.Errorf("read back: got %+v, want %+v", got, out.Hold)
		}
		if got := eventsOf(t, tg.c, in.HoldRef); !slices.Equal(got, []string{"reserved/"}) {
			t.Errorf("events: got %v, want [reserved/]", got)
		}
	})
}

func TestReserveUserLimit(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 2})
		ctx := t.Context()

		mustReserve(t, s, reserveInput(ref, "u1", 3), flashsale.QtyAboveLimit)
		first := mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved)
		mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.LimitReached)
		mustReserve(t, s, reserveInput(ref, "u2", 2), flashsale.Reserved)

		// Released units free the limit again.
		if _, _, err := s.Release(ctx, first.Hold.HoldRef); err != nil {
			t.Fatalf("release: %v", err)
		}
		bought := mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.Reserved)

		// Bought units keep counting toward the limit.
		confirm(t, s, bought.Hold.HoldRef)
		mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.LimitReached)
		mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.Reserved)
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 6, Held: 3, Sold: 1})
	})
}

// confirm runs BeginConfirm and FinishConfirm on a HELD hold.
func confirm(t *testing.T, s *HoldStore, ref flashsale.HoldRef) {
	t.Helper()
	res, _, err := s.BeginConfirm(t.Context(), ref, "pay-test", time.Minute)
	if err != nil || res != flashsale.Begun {
		t.Fatalf("begin confirm: got %v, %v, want Begun", res, err)
	}
	if err := s.FinishConfirm(t.Context(), ref); err != nil {
		t.Fatalf("finish confirm: %v", err)
	}
}

func TestReserveIdempotent(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 2})

		const retries = 5
		outs := make([]flashsale.ReserveOutcome, retries)
		errs := make([]error, retries)
		var wg sync.WaitGroup
		for i := range retries {
			wg.Go(func() {
				in := reserveInput(ref, "u1", 2)
				in.IdempotencyKey = "key-1"
				outs[i], errs[i] = s.Reserve(t.Context(), in)
			})
		}
		wg.Wait()

		count := map[flashsale.ReserveResult]int{}
		ids := map[string]bool{}
		for i, out := range outs {
			if errs[i] != nil {
				t.Fatalf("reserve %d: %v", i, errs[i])
			}
			count[out.Result]++
			ids[out.Hold.HoldID] = true
		}
		if count[flashsale.Reserved] != 1 || count[flashsale.Replayed] != retries-1 {
			t.Errorf("results: got %v, want 1 Reserved and %d Replayed", count, retries-1)
		}
		if len(ids) != 1 {
			t.Errorf("hold ids: got %v, want one", ids)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 8, Held: 2})
	})
}

// TestReserveSameHoldIDTwice is what the driver does when a reply times out:
// it sends the same script again. The second run must not take units twice.
func TestReserveSameHoldIDTwice(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		in := reserveInput(ref, "u1", 2)

		first := mustReserve(t, s, in, flashsale.Reserved)
		again := mustReserve(t, s, in, flashsale.Replayed)
		if again.Hold != first.Hold {
			t.Errorf("replay: got %+v, want %+v", again.Hold, first.Hold)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 3, Held: 2})

		thief := in
		thief.UserID = "u2"
		if _, err := s.Reserve(t.Context(), thief); err == nil {
			t.Errorf("reserve of u1's hold id by u2: got no error, want one")
		}
	})
}

func TestReserveReplayAfterRelease(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 2})
		in := reserveInput(ref, "u1", 1)
		in.IdempotencyKey = "k"

		first := mustReserve(t, s, in, flashsale.Reserved)
		if _, _, err := s.Release(t.Context(), first.Hold.HoldRef); err != nil {
			t.Fatalf("release: %v", err)
		}
		mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.Reserved)
		retry := in
		retry.HoldRef = newHold(ref)
		out := mustReserve(t, s, retry, flashsale.Replayed)
		if out.Hold.HoldID != first.Hold.HoldID || out.Hold.State != flashsale.HoldReleased {
			t.Errorf("replay: got %s %s, want %s RELEASED",
				out.Hold.HoldID, out.Hold.State, first.Hold.HoldID)
		}

		// The key belongs to its user: another user's same key is a new hold.
		other := in
		other.HoldRef, other.UserID = newHold(ref), "u2"
		mustReserve(t, s, other, flashsale.Reserved)
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 8, Held: 2})
	})
}

func TestReleaseReturnsUnitsOnce(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		ctx := t.Context()
		h := mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved).Hold

		for i, want := range []flashsale.HoldState{flashsale.HoldHeld, flashsale.HoldReleased} {
			was, got, err := s.Release(ctx, h.HoldRef)
			if err != nil {
				t.Fatalf("release %d: %v", i+1, err)
			}
			if was != want || got.State != flashsale.HoldReleased || got.UserID != "u1" {
				t.Errorf("release %d: got was %s, hold %s of %s, want was %s, hold RELEASED of u1",
					i+1, was, got.State, got.UserID, want)
			}
			checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 5})
		}
		want := []string{"reserved/", "released/"}
		if got := eventsOf(t, tg.c, h.HoldRef); !slices.Equal(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}
	})
}

func TestReleaseLeavesConfirmedAlone(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		ctx := t.Context()
		h := mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved).Hold

		if _, _, err := s.BeginConfirm(ctx, h.HoldRef, "pay-test", time.Minute); err != nil {
			t.Fatalf("begin confirm: %v", err)
		}
		was, _, err := s.Release(ctx, h.HoldRef)
		if err != nil || was != flashsale.HoldConfirming {
			t.Errorf("release confirming: got %s, %v, want CONFIRMING", was, err)
		}
		if err := s.FinishConfirm(ctx, h.HoldRef); err != nil {
			t.Fatalf("finish confirm: %v", err)
		}
		was, got, err := s.Release(ctx, h.HoldRef)
		if err != nil || was != flashsale.HoldConfirmed || got.State != flashsale.HoldConfirmed {
			t.Errorf("release confirmed: got %s, %s, %v, want CONFIRMED twice",
				was, got.State, err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 3, Sold: 2})
	})
}

func TestReleaseAfterDeadlineBeforeReclaim(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		in := reserveInput(ref, "u1", 2)
		in.TTL = 100 * time.Millisecond
		h := mustReserve(t, s, in, flashsale.Reserved).Hold
		time.Sleep(200 * time.Millisecond)

		was, got, err := s.Release(t.Context(), h.HoldRef)
		if err != nil || was != flashsale.HoldHeld || got.State != flashsale.HoldReleased {
			t.Errorf("release: got %s, %s, %v, want HELD, RELEASED", was, got.State, err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 5})
		want := []string{"reserved/", "released/"}
		if got := eventsOf(t, tg.c, h.HoldRef); !slices.Equal(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}
	})
}

func TestExpiryReclaimedByReserve(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		in := reserveInput(ref, "u1", 2)
		in.TTL = 300 * time.Millisecond
		h := mustReserve(t, s, in, flashsale.Reserved).Hold
		time.Sleep(400 * time.Millisecond)

		// Nothing reclaims by itself: the next script does.
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 3, Held: 2})
		out := mustReserve(t, s, reserveInput(ref, "u2", 1), flashsale.Reserved)
		if out.Remaining != 4 {
			t.Errorf("remaining: got %d, want 4", out.Remaining)
		}
		if got := mustHold(t, s, h.HoldRef).State; got != flashsale.HoldExpired {
			t.Errorf("state: got %s, want EXPIRED", got)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 4, Held: 1})
		want := []string{"reserved/", "expired/deadline"}
		if got := eventsOf(t, tg.c, h.HoldRef); !slices.Equal(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}
		// The user's limit is free again.
		mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved)
	})
}

func TestSweep(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 2})
		ctx := t.Context()
		short := func(user string) flashsale.Hold {
			in := reserveInput(ref, user, 2)
			// Long enough for the calls below on a busy machine.
			in.TTL = time.Second
			return mustReserve(t, s, in, flashsale.Reserved).Hold
		}
		expiring, crashed := short("u1"), short("u2")
		mustReserve(t, s, reserveInput(ref, "u3", 1), flashsale.Reserved)
		if _, _, err := s.BeginConfirm(ctx, crashed.HoldRef, "pay-test", 100*time.Millisecond); err != nil {
			t.Fatalf("begin confirm: %v", err)
		}
		time.Sleep(1200 * time.Millisecond)

		res, err := sweepOne(ctx, s, ref)
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
		if res.Expired != 1 || len(res.Stuck) != 1 || res.Stuck[0].HoldID != crashed.HoldID ||
			res.Stuck[0].State != flashsale.HoldConfirming || res.Stuck[0].Currency != "EUR" {
			t.Errorf("sweep: got %+v, want 1 expired and %s stuck CONFIRMING", res, crashed.HoldID)
		}
		if got := mustHold(t, s, expiring.HoldRef).State; got != flashsale.HoldExpired {
			t.Errorf("state: got %s, want EXPIRED", got)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 7, Held: 3})

		// The sweeper found no order: it aborts, and the next sweep is empty.
		if err := s.AbortConfirm(ctx, crashed.HoldRef, true); err != nil {
			t.Fatalf("abort confirm: %v", err)
		}
		res, err = sweepOne(ctx, s, ref)
		if err != nil || res.Expired != 0 || len(res.Stuck) != 0 {
			t.Errorf("second sweep: got %+v, %v, want nothing", res, err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 10, Available: 9, Held: 1})
	})
}

func TestSweepManyProductsInOneCall(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ctx := t.Context()
		// Products of different sales, so a cluster spreads them over nodes.
		var refs []flashsale.HoldRef
		for range 30 {
			ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
			in := reserveInput(ref, "u1", 1)
			in.TTL = 100 * time.Millisecond
			mustReserve(t, s, in, flashsale.Reserved)
			refs = append(refs, ref)
		}
		time.Sleep(300 * time.Millisecond)
		results, err := s.Sweep(ctx, refs, 10)
		if err != nil || len(results) != len(refs) {
			t.Fatalf("sweep: got %d results, %v; want %d", len(results), err, len(refs))
		}
		for i, ref := range refs {
			if results[i].Expired != 1 {
				t.Errorf("product %d: expired %d, want 1", i, results[i].Expired)
			}
			checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 5})
		}
	})
}

// One payment at a time confirms a hold; a confirm refused because its
// payment serves another hold undoes its move to CONFIRMING, and no other
// payment can undo it.
func TestUndoConfirm(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		ctx := t.Context()
		h := mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.Reserved).Hold
		state := func() flashsale.HoldState { return mustHold(t, s, h.HoldRef).State }

		if res, _, err := s.BeginConfirm(ctx, h.HoldRef, "pay-a", time.Minute); err != nil ||
			res != flashsale.Begun {
			t.Fatalf("begin: got %v, %v; want begun", res, err)
		}
		if res, _, err := s.BeginConfirm(ctx, h.HoldRef, "pay-b", time.Minute); err != nil ||
			res != flashsale.ConfirmBusy {
			t.Fatalf("begin with another payment: got %v, %v; want busy", res, err)
		}
		if res, _, err := s.BeginConfirm(ctx, h.HoldRef, "pay-a", time.Minute); err != nil ||
			res != flashsale.Begun {
			t.Fatalf("begin again with the same payment: got %v, %v; want begun", res, err)
		}
		if err := s.UndoConfirm(ctx, h.HoldRef, "pay-b"); err != nil || state() != flashsale.HoldConfirming {
			t.Fatalf("undo by another payment: got %s, %v; want CONFIRMING kept", state(), err)
		}
		if err := s.UndoConfirm(ctx, h.HoldRef, "pay-a"); err != nil || state() != flashsale.HoldHeld {
			t.Fatalf("undo by the confirming payment: got %s, %v; want HELD", state(), err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 4, Held: 1})
		// The other payment's order committed meanwhile: finishing wins.
		if err := s.FinishConfirm(ctx, h.HoldRef); err != nil || state() != flashsale.HoldConfirmed {
			t.Fatalf("finish after undo: got %s, %v; want CONFIRMED", state(), err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 4, Sold: 1})

		// Undone past its deadline, a hold expires and its units come back.
		in := reserveInput(ref, "u2", 1)
		in.TTL = time.Second // room for the begin below on a busy machine
		late := mustReserve(t, s, in, flashsale.Reserved).Hold
		if res, _, err := s.BeginConfirm(ctx, late.HoldRef, "pay-c", time.Minute); err != nil ||
			res != flashsale.Begun {
			t.Fatalf("begin: got %v, %v; want begun", res, err)
		}
		time.Sleep(1200 * time.Millisecond)
		if err := s.UndoConfirm(ctx, late.HoldRef, "pay-c"); err != nil {
			t.Fatal(err)
		}
		if got := mustHold(t, s, late.HoldRef).State; got != flashsale.HoldExpired {
			t.Fatalf("undo past the deadline: got %s, want EXPIRED", got)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 4, Sold: 1})
	})
}

func TestConfirmTransitions(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 10, limit: 5})
		ctx := t.Context()
		hold := func(user string, qty int) flashsale.HoldRef {
			return mustReserve(t, s, reserveInput(ref, user, qty), flashsale.Reserved).Hold.HoldRef
		}
		paid, unpaid, refused, held := hold("u1", 2), hold("u2", 3), hold("u3", 1), hold("u4", 1)
		begin := func(
			ref flashsale.HoldRef,
			want flashsale.BeginResult,
			state flashsale.HoldState,
		) {
			t.Helper()
			res, h, err := s.BeginConfirm(ctx, ref, "pay-test", time.Minute)
			if err != nil || res != want || h.State != state {
				t.Errorf("begin confirm: got %v, %s, %v, want %v, %s",
					res, h.State, err, want, state)
			}
		}
		counters := func(avail, held, sold, discarded int) {
			t.Helper()
			checkCounters(t, s, ref, flashsale.Counters{
				Total: 10, Available: avail, Held: held, Sold: sold, Discarded: discarded,
			})
		}
		counters(3, 7, 0, 0)

		begin(paid, flashsale.Begun, flashsale.HoldConfirming)
		begin(paid, flashsale.Begun, flashsale.HoldConfirming)
		counters(3, 7, 0, 0)
		for range 2 {
			if err := s.FinishConfirm(ctx, paid); err != nil {
				t.Errorf("finish confirm: %v", err)
			}
			counters(3, 5, 2, 0)
		}
		begin(paid, flashsale.AlreadyConfirmed, flashsale.HoldConfirmed)
		if err := s.AbortConfirm(ctx, paid, true); err != nil {
			t.Errorf("abort confirmed: %v", err)
		}
		counters(3, 5, 2, 0)

		begin(unpaid, flashsale.Begun, flashsale.HoldConfirming)
		if err := s.AbortConfirm(ctx, unpaid, true); err != nil {
			t.Errorf("abort returning units: %v", err)
		}
		counters(6, 2, 2, 0)
		if got := mustHold(t, s, unpaid).State; got != flashsale.HoldExpired {
			t.Errorf("aborted state: got %s, want EXPIRED", got)
		}

		begin(refused, flashsale.Begun, flashsale.HoldConfirming)
		if err := s.AbortConfirm(ctx, refused, false); err != nil {
			t.Errorf("abort discarding units: %v", err)
		}
		counters(6, 1, 2, 1)
		if got := mustHold(t, s, refused).State; got != flashsale.HoldDiscarded {
			t.Errorf("discarded state: got %s, want DISCARDED", got)
		}
		err := s.FinishConfirm(ctx, refused)
		wantKind(t, "finish discarded", err, flashsale.KindPrecondition, "")
		begin(refused, flashsale.WasExpired, flashsale.HoldDiscarded)
		want := []string{"reserved/", "rejected/oversell_guard"}
		if got := eventsOf(t, tg.c, refused); !slices.Equal(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}

		// Abort of a HELD hold changes nothing.
		if err := s.AbortConfirm(ctx, held, false); err != nil {
			t.Errorf("abort held: %v", err)
		}
		counters(6, 1, 2, 1)
		if _, _, err := s.Release(ctx, held); err != nil {
			t.Fatalf("release: %v", err)
		}
		begin(held, flashsale.WasReleased, flashsale.HoldReleased)
		counters(7, 0, 2, 1)
	})
}

func TestLatePayment(t *testing.T) {
	cases := []struct {
		name  string
		stock int
		// after runs once the hold has expired, before the late payment.
		after     func(t *testing.T, s *HoldStore, ref flashsale.HoldRef)
		want      flashsale.BeginResult
		wantState flashsale.HoldState
		want2     flashsale.Counters // counters after the payment
	}{
		{
			name: "units free: retaken", stock: 5,
			after:     func(*testing.T, *HoldStore, flashsale.HoldRef) {},
			want:      flashsale.Retaken,
			wantState: flashsale.HoldConfirming,
			want2:     flashsale.Counters{Total: 5, Available: 3, Held: 2},
		},
		{
			name: "sold out meanwhile: expired", stock: 2,
			after: func(t *testing.T, s *HoldStore, ref flashsale.HoldRef) {
				mustReserve(t, s, reserveInput(ref, "u2", 2), flashsale.Reserved)
			},
			want:      flashsale.WasExpired,
			wantState: flashsale.HoldExpired,
			want2:     flashsale.Counters{Total: 2, Available: 0, Held: 2},
		},
		{
			name: "limit used meanwhile: expired", stock: 5,
			after: func(t *testing.T, s *HoldStore, ref flashsale.HoldRef) {
				mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved)
			},
			want:      flashsale.WasExpired,
			wantState: flashsale.HoldExpired,
			want2:     flashsale.Counters{Total: 5, Available: 3, Held: 2},
		},
	}
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ref := loadSale(t, tg.c, saleSpec{stock: tc.stock, limit: 2})
				in := reserveInput(ref, "u1", 2)
				in.TTL = 200 * time.Millisecond
				mustReserve(t, s, in, flashsale.Reserved)
				time.Sleep(300 * time.Millisecond)
				tc.after(t, s, ref)

				res, h, err := s.BeginConfirm(t.Context(), in.HoldRef, "pay-test", time.Minute)
				if err != nil || res != tc.want || h.State != tc.wantState {
					t.Errorf("begin confirm: got %v, %s, %v, want %v, %s",
						res, h.State, err, tc.want, tc.wantState)
				}
				checkCounters(t, s, ref, tc.want2)
				want := []string{"reserved/", "expired/deadline"}
				if tc.want == flashsale.Retaken {
					want = append(want, "reserved/late_payment")
				}
				if got := eventsOf(t, tg.c, in.HoldRef); !slices.Equal(got, want) {
					t.Errorf("events: got %v, want %v", got, want)
				}
			})
		}
	})
}

func TestRetakenHoldConfirms(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2})
		in := reserveInput(ref, "u1", 2)
		in.TTL = 100 * time.Millisecond
		mustReserve(t, s, in, flashsale.Reserved)
		time.Sleep(200 * time.Millisecond)

		res, _, err := s.BeginConfirm(t.Context(), in.HoldRef, "pay-test", time.Minute)
		if err != nil || res != flashsale.Retaken {
			t.Fatalf("begin confirm: got %v, %v, want Retaken", res, err)
		}
		if err := s.FinishConfirm(t.Context(), in.HoldRef); err != nil {
			t.Fatalf("finish confirm: %v", err)
		}
		checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 3, Sold: 2})
		mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.LimitReached)
	})
}

func TestNotFound(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ctx := t.Context()
		ref := newHold(loadSale(t, tg.c, saleSpec{stock: 5, limit: 2}))
		notFound := flashsale.ReasonReservationNotFound

		_, err := s.Hold(ctx, ref)
		wantKind(t, "hold", err, flashsale.KindNotFound, notFound)
		_, _, err = s.BeginConfirm(ctx, ref, "pay-test", time.Minute)
		wantKind(t, "begin confirm", err, flashsale.KindNotFound, notFound)
		wantKind(t, "finish confirm", s.FinishConfirm(ctx, ref), flashsale.KindNotFound, notFound)
		err = s.AbortConfirm(ctx, ref, true)
		wantKind(t, "abort confirm", err, flashsale.KindNotFound, notFound)
		_, _, err = s.Release(ctx, ref)
		wantKind(t, "release", err, flashsale.KindNotFound, notFound)

		_, err = s.Counters(ctx, "nosuchsale"+randomHex(4), "p1")
		wantKind(t, "counters", err, flashsale.KindNotFound, flashsale.ReasonStockNotLoaded)
	})
}

func TestReserveRejectsBadInput(t *testing.T) {
	cases := []struct {
		name, user string
		qty        int
		field      string
	}{
		{"qty zero", "u1", 0, "quantity"},
		{"qty negative", "u1", -1, "quantity"},
		{"no user", "", 1, "userId"},
		{"user with bar", "a|b", 1, "userId"},
		{"user with colon", "a:b", 1, "userId"},
	}
	s := NewHoldStore(nil) // refused before any call to Redis
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := reserveInput(flashsale.HoldRef{SaleID: "s", ProductID: "p"}, tc.user, tc.qty)
			_, err := s.Reserve(t.Context(), in)
			wantKind(t, "reserve", err, flashsale.KindInvalid, flashsale.ReasonInvalidArgument)
			var fe *flashsale.Error
			if errors.As(err, &fe) && fe.Field != tc.field {
				t.Errorf("field: got %q, want %q", fe.Field, tc.field)
			}
		})
	}
}

func TestCorruptRecordIsABugNotUnavailable(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ref := newHold(loadSale(t, tg.c, saleSpec{stock: 5, limit: 2}))
		k := keysFor(ref.SaleID, ref.ProductID)
		if err := tg.c.HSet(t.Context(), k.res, ref.HoldID, "garbage").Err(); err != nil {
			t.Fatalf("write record: %v", err)
		}
		_, _, err := s.Release(t.Context(), ref)
		if err == nil || flashsale.ErrorKind(err) != flashsale.KindInternal {
			t.Errorf("release corrupt: got %v (kind %d), want a plain error",
				err, flashsale.ErrorKind(err))
		}
	})
}

func TestScriptsSurviveScriptFlush(t *testing.T) {
	// SCRIPT FLUSH only drops cached scripts, so it is safe on a shared
	// server; it is done on the standalone one only, by the lead's rule.
	c := targets(t)[0].c
	s := NewHoldStore(c)
	ref := loadSale(t, c, saleSpec{stock: 5, limit: 2})
	ctx := t.Context()
	h := mustReserve(t, s, reserveInput(ref, "u1", 1), flashsale.Reserved).Hold

	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("script flush: %v", err)
	}
	// The sweep pipelines EVALSHA, so it resends the script itself.
	if _, err := sweepOne(ctx, s, ref); err != nil {
		t.Fatalf("sweep after flush: %v", err)
	}
	if _, _, err := s.Release(ctx, h.HoldRef); err != nil {
		t.Fatalf("release after flush: %v", err)
	}
	mustReserve(t, s, reserveInput(ref, "u1", 2), flashsale.Reserved)
	checkCounters(t, s, ref, flashsale.Counters{Total: 5, Available: 3, Held: 2})
}

func TestKeysShareOneClusterSlot(t *testing.T) {
	for _, tg := range targets(t) {
		if !tg.cluster {
			continue
		}
		slots := map[int64]bool{}
		for _, k := range keysFor("S-1", "P_1").all() {
			slot, err := tg.c.ClusterKeySlot(t.Context(), k).Result()
			if err != nil {
				t.Fatalf("keyslot %s: %v", k, err)
			}
			slots[slot] = true
		}
		if len(slots) != 1 {
			t.Errorf("slots: got %v, want one", slots)
		}
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	// A loopback port nobody listens on: taken, then closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c, err := NewClient(Options{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer c.Close()
	s := NewHoldStore(c)
	ref := flashsale.HoldRef{SaleID: "s", ProductID: "p"}

	// The issue asks for `unavailable` within a second of each call.
	start := time.Now()
	_, err = s.Reserve(t.Context(), reserveInput(ref, "u1", 1))
	wantKind(t, "reserve", err, flashsale.KindUnavailable, flashsale.ReasonUnavailable)
	if d := time.Since(start); d > time.Second {
		t.Errorf("reserve: failed after %v, want within 1s", d)
	}
	start = time.Now()
	_, err = s.Counters(t.Context(), "s", "p")
	wantKind(t, "counters", err, flashsale.KindUnavailable, flashsale.ReasonUnavailable)
	if d := time.Since(start); d > time.Second {
		t.Errorf("counters: failed after %v, want within 1s", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = NewHoldStore(targets(t)[0].c).Hold(ctx, newHold(ref))
	wantKind(t, "cancelled context", err, flashsale.KindUnavailable, flashsale.ReasonUnavailable)
}

// TestRandomOperationsKeepInvariants runs a mix of every operation from many
// goroutines while a checker reads the counters: the sum must hold at every
// snapshot and no user may ever hold or buy more than the limit.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		const total, limit, workers, ops = 40, 3, 16, 150
		s := NewHoldStore(tg.c)
		ref := loadSale(t, tg.c, saleSpec{stock: total, limit: limit})

		var stop atomic.Bool
		var bad atomic.Value
		checker := make(chan struct{})
		go func() {
			defer close(checker)
			for !stop.Load() {
				if msg := invariantViolation(t.Context(), s, tg.c, ref, limit); msg != "" {
					bad.Store(msg)
					return
				}
			}
		}()

		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { errs <- randomWork(t.Context(), s, ref, w, ops) })
		}
		wg.Wait()
		stop.Store(true)
		<-checker
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if msg, _ := bad.Load().(string); msg != "" {
			t.Error(msg)
		}
		if msg := invariantViolation(t.Context(), s, tg.c, ref, limit); msg != "" {
			t.Error(msg)
		}
	})
}

// randomWork does ops random steps as a few users; it returns the first
// unexpected error instead of failing the test from its goroutine.
func randomWork(ctx context.Context, s *HoldStore, ref flashsale.HoldRef, w, ops int) error {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	var mine []flashsale.HoldRef
	for range ops {
		in := reserveInput(ref, fmt.Sprintf("u%d", rng.IntN(6)), 1+rng.IntN(2))
		in.TTL = time.Duration(20+rng.IntN(80)) * time.Millisecond
		var err error
		switch n := len(mine); {
		case n == 0 || rng.IntN(3) == 0:
			var out flashsale.ReserveOutcome
			out, err = s.Reserve(ctx, in)
			if out.Result == flashsale.Reserved {
				mine = append(mine, out.Hold.HoldRef)
			}
		default:
			err = randomStep(ctx, s, mine[rng.IntN(n)], rng.IntN(5))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func randomStep(ctx context.Context, s *HoldStore, h flashsale.HoldRef, step int) error {
	var err error
	switch step {
	case 0:
		_, _, err = s.Release(ctx, h)
	case 1:
		var res flashsale.BeginResult
		res, _, err = s.BeginConfirm(ctx, h, "pay-test", 50*time.Millisecond)
		if err == nil && (res == flashsale.Begun || res == flashsale.Retaken) {
			err = s.FinishConfirm(ctx, h)
		}
	case 2, 3:
		_, _, err = s.BeginConfirm(ctx, h, "pay-test", 10*time.Millisecond)
		if err == nil {
			err = s.AbortConfirm(ctx, h, step == 2)
		}
	default:
		_, err = sweepOne(ctx, s, h)
	}
	return err
}

// invariantViolation reads the counters and the users hash and describes the
// first broken invariant, or returns "".
func invariantViolation(
	ctx context.Context,
	s *HoldStore,
	c redis.UniversalClient,
	ref flashsale.HoldRef,
	limit int,
) string {
	got, err := s.Counters(ctx, ref.SaleID, ref.ProductID)
	if err != nil {
		return fmt.Sprintf("counters: %v", err)
	}
	if got.Available+got.Held+got.Sold+got.Discarded != got.Total || got.Available < 0 {
		return fmt.Sprintf("counters: got %+v, want available+held+sold+discarded == total", got)
	}
	users, err := c.HGetAll(ctx, keysFor(ref.SaleID, ref.ProductID).users).Result()
	if err != nil {
		return fmt.Sprintf("users: %v", err)
	}
	for u, v := range users {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > limit {
			return fmt.Sprintf("user %s: got %s units, want 1 to %d", u, v, limit)
		}
	}
	return ""
}

// BenchmarkReserve measures the reserve script on the standalone Redis with
// plenty of stock and a new user per call, so every call takes units.
func BenchmarkReserve(b *testing.B) {
	c := targets(b)[0].c
	s := NewHoldStore(c)
	ref := benchSale(b, c)
	var user atomic.Int64

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			in := reserveInput(ref, fmt.Sprintf("u%d", user.Add(1)), 1)
			out, err := s.Reserve(context.Background(), in)
			if err != nil || out.Result != flashsale.Reserved {
				b.Errorf("reserve: got %v, %v, want Reserved", out.Result, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// rawDecrement is the smallest useful script: check and decrement one key.
var rawDecrement = redis.NewScript(`local n = tonumber(redis.call('GET', KEYS[1]))
if n and n > 0 then return redis.call('DECR', KEYS[1]) end return -1`)

// BenchmarkRawEvalsha is the floor that BenchmarkReserve compares with: one
// EVALSHA round trip of a two-line script on one key.
func BenchmarkRawEvalsha(b *testing.B) {
	c := targets(b)[0].c
	ref := benchSale(b, c)
	key := keysFor(ref.SaleID, ref.ProductID).stock

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rawDecrement.Run(context.Background(), c, []string{key}).Err(); err != nil {
				b.Errorf("evalsha: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchSale(b *testing.B, c redis.UniversalClient) flashsale.HoldRef {
	b.Helper()
	ref := flashsale.HoldRef{SaleID: "b" + randomHex(8), ProductID: "p1"}
	k := keysFor(ref.SaleID, ref.ProductID)
	b.Cleanup(func() { _ = c.Del(context.Background(), k.all()...).Err() })
	now := time.Now()
	ctx := context.Background()
	err := c.HSet(ctx, k.meta, "start_ms", now.Add(-time.Hour).UnixMilli(),
		"end_ms", now.Add(time.Hour).UnixMilli(), "state", "scheduled", "limit", 1_000_000,
		"price", 100, "currency", "EUR", "total", 1_000_000_000, "held", 0, "sold", 0,
		"discarded", 0).Err()
	if err == nil {
		err = c.Set(ctx, k.stock, 1_000_000_000, 0).Err()
	}
	if err != nil {
		b.Fatalf("load bench sale: %v", err)
	}
	return ref
}

// sweepOne sweeps one product, up to ten holds.
func sweepOne(ctx context.Context, s *HoldStore, ref flashsale.HoldRef) (flashsale.SweepResult, error) {
	res, err := s.Sweep(ctx, []flashsale.HoldRef{{SaleID: ref.SaleID, ProductID: ref.ProductID}}, 10)
	if err != nil {
		return flashsale.SweepResult{}, err
	}
	return res[0], nil
}

// BenchmarkSweep measures one sweep over 1,000 live products with nothing to
// reclaim, the sweeper's usual tick: one pipeline, against one script call
// per product as the sweeper did before.
func BenchmarkSweep(b *testing.B) {
	c := targets(b)[0].c
	s := NewHoldStore(c)
	refs := make([]flashsale.HoldRef, 1000)
	for i := range refs {
		refs[i] = benchSale(b, c)
	}
	ctx := context.Background()
	b.Run("pipelined", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sweep(ctx, refs, 500); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(refs))/b.Elapsed().Seconds(), "products/s")
	})
	b.Run("one-by-one", func(b *testing.B) {
		for b.Loop() {
			for _, ref := range refs {
				if _, err := s.Sweep(ctx, []flashsale.HoldRef{ref}, 500); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(refs))/b.Elapsed().Seconds(), "products/s")
	})
}

// A reserve refused by the rate limiter becomes one rejected event per
// shopper, product and window, with the amount it would have cost, and
// nothing at all for a product that is not loaded.
func TestRateLimitedIsOneEventPerWindow(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := NewHoldStore(tg.c)
		ctx := t.Context()
		ref := loadSale(t, tg.c, saleSpec{stock: 5, limit: 2, price: 1250})
		record := func(user string, window time.Duration) bool {
			t.Helper()
			ok, err := s.RateLimited(ctx, ref, user, 2, window)
			if err != nil {
				t.Fatalf("rate limited: %v", err)
			}
			return ok
		}
		if !record("u1", time.Minute) || record("u1", time.Minute) || !record("u2", time.Minute) {
			t.Fatal("want one event per shopper within the window")
		}
		time.Sleep(5 * time.Millisecond)
		if !record("u1", time.Millisecond) {
			t.Fatal("want another event once the window has passed")
		}
		var got []string
		for _, e := range readEvents(t, tg.c, ref) {
			got = append(got, e["type"]+"/"+e["reason"]+"/"+e["user"]+"/"+e["amount"])
		}
		want := []string{"rejected/rate_limited/u1/2500", "rejected/rate_limited/u2/2500",
			"rejected/rate_limited/u1/2500"}
		if !slices.Equal(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}

		missing := flashsale.HoldRef{SaleID: ref.SaleID, ProductID: "nosuch"}
		if ok, err := s.RateLimited(ctx, missing, "u1", 1, time.Minute); ok || err != nil {
			t.Errorf("missing product: got %v, %v; want no event", ok, err)
		}
		if n := tg.c.Exists(ctx, keysFor(missing.SaleID, missing.ProductID).events).Val(); n != 0 {
			t.Errorf("missing product: its stream exists")
		}
	})
}
