"""Auto-compaction's pure steps: the estimate, where the history is cut, the summary request, the splice."""

from __future__ import annotations

from typing import Any

import orjson

from mimo2codex.protocol.compaction import (
    BYTES_PER_TOKEN,
    IMAGE_TOKENS,
    SUMMARY_HEADER,
    estimate_tokens,
    plan_compaction,
    prefix_key,
    splice,
    summary_request,
    summary_text,
)

PNG = "data:image/png;base64," + "A" * 50_000


def turn(n: int, size: int = 600) -> list[dict[str, Any]]:
    """One user turn with a tool call and its output (``size`` characters of output)."""
    call = {"id": f"c{n}", "type": "function", "function": {"name": "exec", "arguments": '{"cmd":"ls"}'}}
    return [
        {"role": "user", "content": f"question {n}"},
        {"role": "assistant", "content": "", "tool_calls": [call], "reasoning_content": "think"},
        {"role": "tool", "tool_call_id": f"c{n}", "content": "x" * size},
        {"role": "assistant", "content": f"answer {n}"},
    ]


def session(turns: int, size: int = 600) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are Codex."}]
    for n in range(turns):
        messages += turn(n, size)
    return {"model": "m", "messages": messages}


def test_estimate_is_at_least_a_third_of_the_bytes_and_images_cost_a_fixed_amount() -> None:
    body = session(3)
    assert estimate_tokens(body) >= len(orjson.dumps(body["messages"])) / BYTES_PER_TOKEN
    with_image = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": PNG}}],
            }
        ]
    }
    # The data URL's 50 KB do not count; the image does, once.
    assert IMAGE_TOKENS <= estimate_tokens(with_image) < IMAGE_TOKENS + 100


def test_a_request_that_fits_is_left_alone() -> None:
    body = session(2)
    assert plan_compaction(body, 100_000, max_tokens_field="max_tokens") is None


def test_the_cut_is_on_a_user_turn_and_the_rest_fits() -> None:
    body = session(12)
    window = 2_000
    plan = plan_compaction(body, window, max_tokens_field="max_tokens")
    assert plan is not None
    assert plan.head == body["messages"][:1]
    assert plan.tail[0]["role"] == "user"
    assert plan.prefix[0]["role"] == "user"
    assert plan.head + plan.prefix + plan.tail == body["messages"]
    spliced = {"messages": splice(plan, "s" * (plan.summary_tokens * BYTES_PER_TOKEN - 200))}
    assert estimate_tokens(spliced) <= plan.budget
    # Room is left for the next turns: the kept part is well under the budget.
    assert estimate_tokens({"messages": plan.tail}) <= plan.budget * 0.6
    assert plan.key == prefix_key(plan.prefix)


def test_the_answer_reserve_is_the_requests_max_tokens() -> None:
    body = session(12)
    body["max_tokens"] = 1_500
    plan = plan_compaction(body, 4_000, max_tokens_field="max_tokens")
    assert plan is not None
    assert plan.budget == 2_500


def test_a_cached_cut_that_fits_is_preferred() -> None:
    body = session(12)
    fresh = plan_compaction(body, 2_000, max_tokens_field="max_tokens")
    assert fresh is not None
    # The next turn: the same history plus one more turn. The earlier cut still fits: reused.
    body["messages"] += turn(99)
    again = plan_compaction(body, 2_000, max_tokens_field="max_tokens", cached={fresh.key})
    assert again is not None
    assert again.key == fresh.key
    unaware = plan_compaction(body, 2_000, max_tokens_field="max_tokens")
    assert unaware is not None


def test_no_plan_when_the_last_turn_alone_is_too_big() -> None:
    body = session(3, size=30_000)
    assert plan_compaction(body, 2_000, max_tokens_field="max_tokens") is None


def test_summary_request_skips_images_and_fits_the_budget() -> None:
    body = session(40)
    body["messages"].insert(
        1,
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": PNG}}],
        },
    )
    plan = plan_compaction(body, 3_000, max_tokens_field="max_completion_tokens")
    assert plan is not None
    request = summary_request(plan, "m", max_tokens_field="max_completion_tokens")
    assert request["max_completion_tokens"] == plan.summary_tokens
    transcript = request["messages"][1]["content"]
    assert "[image]" in transcript
    assert "base64" not in transcript
    assert "[user]\nquestion 0" in transcript
    assert "[assistant called exec]" in transcript
    assert estimate_tokens(request) + plan.summary_tokens <= plan.budget


def test_splice_appends_the_summary_to_the_system_message() -> None:
    plan = plan_compaction(session(12), 2_000, max_tokens_field="max_tokens")
    assert plan is not None
    messages = splice(plan, "They listed files.")
    assert messages[0]["role"] == "system"
    assert messages[0]["content"].startswith("You are Codex.\n\n" + SUMMARY_HEADER)
    assert messages[0]["content"].endswith("They listed files.")
    assert messages[1:] == plan.tail
    assert plan.head[0]["content"] == "You are Codex."  # the plan itself is not changed


def test_summary_text_drops_think_blocks() -> None:
    completion = {"choices": [{"message": {"content": "<think>hmm</think>\nThe summary."}}]}
    assert summary_text(completion) == "The summary."
    assert summary_text({"choices": [{"message": {"content": "<think>only</think>"}}]}) is None
    assert summary_text({"error": {}}) is None


def test_a_later_compaction_extends_the_cached_summary() -> None:
    body = session(12)
    first = plan_compaction(body, 2_000, max_tokens_field="max_tokens")
    assert first is not None
    # Many turns later the old cut no longer fits: a later cut, built on the first summary.
    for n in range(12, 30):
        body["messages"] += turn(n)
    later = plan_compaction(body, 2_000, max_tokens_field="max_tokens", cached={first.key})
    assert later is not None
    assert later.key != first.key
    assert later.base_key == first.key
    assert later.prefix[: later.base_length] == first.prefix
    request = summary_request(later, "m", max_tokens_field="max_tokens", earlier="THE FIRST SUMMARY")
    transcript = request["messages"][1]["content"]
    assert transcript.startswith("[summary of the conversation before]\nTHE FIRST SUMMARY")
    assert "question 0" not in transcript  # covered by the earlier summary, not read again
    assert f"question {len(first.prefix) // 4}" in transcript
