"""The kernel door's streaming display, on a fake clock: one output, created by the
first text and updated in place at most once per interval, never losing text."""

from __future__ import annotations

from jupyter_collab.kernel.display import StreamingDisplay


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _display(clock: FakeClock) -> tuple[StreamingDisplay, list[tuple[str, str, bool]]]:
    shown: list[tuple[str, str, bool]] = []

    def publish(data, metadata, display_id, update):
        shown.append((data.get("text/plain", ""), display_id, update))

    return StreamingDisplay(interval=0.05, publish=publish, clock=clock), shown


def test_first_text_creates_the_output_and_later_text_updates_it_in_place():
    clock = FakeClock()
    display, shown = _display(clock)
    for word in ("one ", "two ", "three "):
        display.add(word)
        clock.now += 0.06  # slower than the interval: every delta is shown
    assert [text for text, _, _ in shown] == ["one ", "one two ", "one two three "]
    assert [update for _, _, update in shown] == [False, True, True]
    assert {display_id for _, display_id, _ in shown} == {display.display_id}


def test_a_fast_stream_is_throttled_and_tick_shows_what_was_held_back():
    clock = FakeClock()
    display, shown = _display(clock)
    for word in ("a", "b", "c", "d"):
        display.add(word)
        clock.now += 0.01  # four deltas within one interval
    assert [text for text, _, _ in shown] == ["a"]
    display.tick()  # still within the interval
    assert len(shown) == 1
    clock.now += 0.05
    display.tick()
    assert [text for text, _, _ in shown] == ["a", "abcd"]
    display.tick()  # nothing new: no update
    assert len(shown) == 2


def test_finish_replaces_the_streamed_text_with_the_final_bundle():
    clock = FakeClock()
    display, shown = _display(clock)
    display.add("partial")
    display.finish({"text/plain": "final answer"}, {})
    assert shown[-1] == ("final answer", display.display_id, True)
    nothing_streamed, shown_now = _display(clock)
    nothing_streamed.finish({"text/plain": "only the final"}, {})
    assert shown_now == [("only the final", nothing_streamed.display_id, False)]
