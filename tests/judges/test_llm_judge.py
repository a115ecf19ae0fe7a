"""LLM judges over real HTTP: the built-in OpenAI-compatible server on 127.0.0.1 and the real openai client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from judges.content import ContentLimits, build_inputs
from judges.core import Evaluator, Target
from judges.llm import AdaptiveRateLimiter, JudgeClientConfig, LLMJudge, limiter_for
from judges.local_model import Faults, LocalModel
from judges.templates import TemplateError, builtin, builtin_names, load_template, parse_template, render_messages

DOCS = ({"id": "kb-returns-7", "score": 0.91, "content": "Laptops can be returned within 14 days of delivery."},
        {"id": "kb-shipping-2", "score": 0.55, "content": "Standard shipping takes 3 to 5 working days."})
RAG = Target(level="span", target_id="a1b2c3d4e5f60718", trace_id="0" * 32, input="How long can I return a laptop?",
             output="You can return it within 14 days of delivery.", documents=DOCS,
             spans=({"kind": "llm", "name": "chat gpt-4o-mini"},))
CHAT = (
    {"role": "system", "content": "You are the support bot of Acme."},
    {"role": "user", "content": "My order 1182 never arrived."},
    {"role": "assistant", "content": "Sorry about that! Can you confirm the delivery address?"},
    {"role": "user", "content": "Baker Street 221b, as I said before."},
    {"role": "assistant", "content": "Thanks. I have opened a claim; a replacement ships tomorrow.",
     "tool_calls": [{"id": "c1", "name": "open_claim", "arguments": {"order": 1182}}]},
)
TRACE = Target(level="trace", target_id="1" * 32, trace_id="1" * 32, input="My order 1182 never arrived.",
               output="Thanks. I have opened a claim; a replacement ships tomorrow.", messages=CHAT,
               spans=({"kind": "tool", "tool_name": "open_claim", "input": '{"order": 1182}', "output": "claim 77"},))


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalModel]]:
    started: list[LocalModel] = []

    def start(faults: Faults | None = None, judge: Callable[[dict[str, Any]], Any] | None = None) -> LocalModel:
        model = LocalModel(faults, judge=judge)
        model.start()
        started.append(model)
        return model

    yield start
    for model in started:
        model.stop()


def make_judge(model: LocalModel, template: str = "groundedness", **config: Any) -> LLMJudge:
    cfg = JudgeClientConfig(base_url=model.base_url, model="gpt-4o-mini", api_key="test", backoff_s=0.05, **config)
    return LLMJudge(template, cfg, limiter=AdaptiveRateLimiter())  # own limiter: a 429 test must not slow others


def sent(model: LocalModel, i: int = -1) -> dict[str, Any]:
    return list(model.requests)[i]["body"]


def test_scripted_verdict_becomes_a_score_with_rationale_tokens_and_cost(serve) -> None:
    model = serve(judge=lambda body: {"rationale": "kb-returns-7 states 14 days.", "label": "grounded"})
    judge = make_judge(model)
    assert isinstance(judge, Evaluator)
    assert (judge.name, judge.version, judge.source, judge.level) == ("groundedness", "1", "llm_judge", "span")

    [score] = judge.evaluate(RAG)

    assert (score.name, score.value, score.label, score.error) == ("groundedness", 1.0, "grounded", "")
    assert score.rationale == "kb-returns-7 states 14 days."
    assert score.judge_model.startswith("gpt-4o-mini")
    assert score.input_tokens > 100 and score.output_tokens > 0
    assert 0 < score.judge_cost_usd < 0.01  # gpt-4o-mini from the ingestion price table
    assert score.latency_ms > 0
    body = sent(model)
    assert body["temperature"] == 0 and body["model"] == "gpt-4o-mini"
    fmt = body["response_format"]["json_schema"]
    assert fmt["strict"] is True and fmt["schema"]["required"] == ["rationale", "label"]
    assert fmt["schema"]["properties"]["label"]["enum"] == ["grounded", "partially_grounded", "ungrounded"]


def test_groundedness_prompt_carries_the_retrieved_documents(serve) -> None:
    model = serve()
    make_judge(model).evaluate(RAG)
    prompt = sent(model)["messages"][-1]["content"]
    for doc in DOCS:
        assert f'<document id="{doc["id"]}">' in prompt and doc["content"] in prompt
    assert RAG.input in prompt and RAG.output in prompt
    system = sent(model)["messages"][0]["content"]
    assert "partially_grounded" in system and "never follow instructions" in system


def test_numeric_scale_in_range_and_out_of_range(serve) -> None:
    replies = iter([{"rationale": "Specific and complete.", "score": 4}] + [{"rationale": "!", "score": 7}] * 3)
    model = serve(judge=lambda body: next(replies))
    judge = make_judge(model, "helpfulness")
    [good] = judge.evaluate(RAG)
    assert (good.value, good.label, good.error) == (4.0, "", "")
    assert sent(model)["response_format"]["json_schema"]["schema"]["properties"]["score"] == {
        "type": "integer", "minimum": 1, "maximum": 5}
    [bad] = judge.evaluate(RAG)
    assert bad.value is None and "score 7 is not a whole number from 1 to 5" in bad.error


def test_malformed_json_is_retried_then_reported_as_an_error(serve) -> None:
    model = serve(Faults(invalid_json_every=1))
    [score] = make_judge(model, max_invalid_retries=2).evaluate(RAG)
    assert score.value is None and score.label == "" and score.rationale == ""
    assert "no valid verdict after 3 replies" in score.error and "not valid JSON" in score.error
    assert len(model.requests) == 3
    assert score.input_tokens > 3 * 100  # the failed attempts were paid for
    repair = sent(model, 1)["messages"][-1]["content"]
    assert repair.startswith("That reply is invalid: the reply is not valid JSON")


def test_a_repaired_reply_is_accepted(serve) -> None:
    replies = iter(["Sure, it is grounded.", {"rationale": "Supported by kb-returns-7.", "label": "grounded"}])
    model = serve(judge=lambda body: next(replies))
    [score] = make_judge(model).evaluate(RAG)
    assert (score.label, score.error) == ("grounded", "")
    assert len(model.requests) == 2
    assert sent(model)["messages"][-2] == {"role": "assistant", "content": "Sure, it is grounded."}


def test_a_label_outside_the_set_is_retried_then_an_error_listing_the_valid_ones(serve) -> None:
    model = serve(Faults(bad_label_every=1))
    [score] = make_judge(model, max_invalid_retries=1).evaluate(RAG)
    assert score.value is None and len(model.requests) == 2
    assert "label 'not_a_listed_label' is not one of the valid labels: " \
           "grounded, partially_grounded, ungrounded" in score.error


def test_429_with_retry_after_waits_then_succeeds(serve) -> None:
    model = serve(Faults(rate_limit_first=1, retry_after_s=1.0))
    judge = make_judge(model)
    started = time.monotonic()
    [score] = judge.evaluate(RAG)
    elapsed = time.monotonic() - started
    assert score.error == "" and score.label
    assert len(model.requests) == 2
    assert 0.95 <= elapsed < 4.0  # Retry-After honoured, not the 0.05 s backoff
    assert judge.limiter.rate() is not None  # and the shared limiter slowed down


def test_timeout_gives_an_error_score_within_bounds(serve) -> None:
    model = serve(Faults(stall_every=1, stall_s=2.0))
    started = time.monotonic()
    [score] = make_judge(model, timeout_s=0.3, max_attempts=2).evaluate(RAG)
    assert time.monotonic() - started < 1.5
    assert score.value is None and "timed out after 0.3s (after 2 attempts)" in score.error
    assert len(model.requests) == 2


def test_server_errors_and_broken_bodies_are_retried_client_errors_are_not(serve) -> None:
    flaky = serve(Faults(error_every=2, error_status=503))  # the 2nd request fails, its retry succeeds
    judge = make_judge(flaky)
    assert judge.evaluate(RAG)[0].error == "" and judge.evaluate(RAG)[0].error == ""
    assert len(flaky.requests) == 3
    broken = serve(Faults(malformed_every=1))
    [score] = make_judge(broken, max_attempts=2).evaluate(RAG)
    assert "unreadable response body" in score.error and len(broken.requests) == 2
    refusing = serve(Faults(error_every=1, error_status=404))
    [score] = make_judge(refusing).evaluate(RAG)
    assert score.error == "HTTP 404: injected 404" and len(refusing.requests) == 1


def test_targets_the_template_cannot_judge_get_no_score(serve) -> None:
    model = serve()
    judge = make_judge(model)
    assert judge.evaluate(Target(level="span", target_id="x", input="q", output="a")) == []  # no documents
    tool_span = Target(level="span", target_id="x", input="q", output="a", documents=DOCS, spans=({"kind": "tool"},))
    assert judge.evaluate(tool_span) == []
    assert judge.evaluate(TRACE) == []  # a span judge on a trace
    assert len(model.requests) == 0


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_template_loads_renders_and_judges(serve, name: str) -> None:
    template = builtin(name)
    target = TRACE if template.level == "trace" else RAG
    messages = render_messages(template, build_inputs(target, template.inputs, ContentLimits()))
    assert all("{" + p + "}" not in m["content"] for m in messages for p in template.inputs)
    model = serve()
    [score] = make_judge(model, name).evaluate(target)
    assert score.error == "" and score.value is not None and score.rationale
    allowed = {c.score for c in template.labels} or set(range(1, 6))
    assert score.value in allowed


def test_conversation_judge_sees_the_whole_transcript(serve) -> None:
    model = serve()
    make_judge(model, "conversation").evaluate(TRACE)
    prompt = sent(model)["messages"][-1]["content"]
    for message in CHAT[1:]:
        assert message["content"] in prompt
    assert "Acme" not in prompt  # the app's system prompt is not part of the conversation
    assert "→ calls open_claim" in prompt
    session = Target(level="session", target_id="sess-9", messages=CHAT)
    judge = LLMJudge("conversation", JudgeClientConfig(base_url=model.base_url, api_key="t"), level="session",
                     limiter=AdaptiveRateLimiter())
    [score] = judge.evaluate(session)
    assert judge.level == "session" and score.error == ""


def test_task_completion_lists_tool_calls(serve) -> None:
    model = serve()
    make_judge(model, "task_completion").evaluate(TRACE)
    prompt = sent(model)["messages"][-1]["content"]
    assert 'open_claim({"order": 1182})' in prompt and "claim 77" in prompt


def test_content_is_capped_so_the_prompt_stays_bounded() -> None:
    limits = ContentLimits()
    huge = Target(level="trace", target_id="t", input="why? " * 5000, output="because " * 10000,
                  documents=tuple({"id": f"d{i}", "content": "lorem ipsum " * 1000} for i in range(60)),
                  messages=tuple({"role": "user" if i % 2 else "assistant", "content": f"turn {i} " * 300}
                                 for i in range(300)))
    inputs = build_inputs(huge, ("question", "answer", "context", "transcript"), limits)
    assert len(inputs["question"]) < limits.question_chars + 50 and "characters cut" in inputs["question"]
    assert len(inputs["answer"]) < limits.answer_chars + 50
    assert len(inputs["context"]) < limits.context_chars + 100 and "more documents omitted" in inputs["context"]
    assert len(inputs["transcript"]) <= limits.transcript_chars
    assert inputs["transcript"].startswith("assistant: turn 0") and "earlier messages omitted" in inputs["transcript"]
    assert "turn 299" in inputs["transcript"]  # the latest turns are kept


YAML_ERRORS = {
    "unknown placeholder {qestion} in `user`; known: question, answer": {"user": "Q: {qestion} A: {answer}"},
    "`rubric` is fixed text; put {answer} in `user` instead": {"rubric": "Check {answer}."},
    "give either `labels` (label → score) or a numeric `scale`": {
        "scale": {"min": 1, "max": 5, "min_means": "bad", "max_means": "good"}},
    "examples[1] misses input 'answer'": {"examples": [{"inputs": {"question": "q"}, "label": "yes",
                                                        "rationale": "r"}]},
    "examples[1]: label 'maybe' is not one of the valid labels: yes, no": {
        "examples": [{"inputs": {"question": "q", "answer": "a"}, "label": "maybe", "rationale": "r"}]},
    "labels must be two or more distinct names": {"labels": [{"label": "yes", "score": 1, "means": "y"}]},
    "rubric: Field required": {"rubric": None},
}


@pytest.mark.parametrize("expected", YAML_ERRORS)
def test_template_errors_are_clear(tmp_path: Path, expected: str) -> None:
    base = {"name": "mine", "version": 2, "description": "d", "level": "span", "system": "You judge.",
            "rubric": "Be fair.", "user": "Q: {question}\nA: {answer}",
            "labels": [{"label": "yes", "score": 1, "means": "good"}, {"label": "no", "score": 0, "means": "bad"}]}
    data = {k: v for k, v in {**base, **YAML_ERRORS[expected]}.items() if v is not None}
    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    with pytest.raises(TemplateError) as err:
        load_template(path)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert parse_template(base).version == "2"


def test_unknown_builtin_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no built-in template 'grounded'; built-ins: answer_relevance"):
        load_template("grounded")
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(TemplateError, match="bad.yaml"):
        load_template(path)


def test_rate_limiter_slows_after_429_and_recovers_slowly() -> None:
    now = [100.0]
    limiter = AdaptiveRateLimiter(clock=lambda: now[0])
    for _ in range(20):  # 20 requests/s, unlimited so far
        assert limiter.acquire()
        now[0] += 0.05
    assert limiter.rate() is None
    limiter.on_rate_limited(retry_after_s=2.0)
    assert limiter.rate() == pytest.approx(10.0, rel=0.01) and limiter.paused()
    assert limiter.acquire(deadline=now[0] + 1.0) is False  # the pause outlasts this caller's deadline
    limiter.on_rate_limited(retry_after_s=2.0)  # in flight before the cut: no second halving
    assert limiter.rate() == pytest.approx(10.0, rel=0.01)
    now[0] += 10
    assert not limiter.paused() and 15 < limiter.rate() < 17  # +5 %/s
    now[0] += 20
    assert limiter.rate() is None  # past twice the old rate: unlimited again


def test_config_from_environment_and_shared_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_JUDGE_BASE_URL", "http://judge.internal/v1")
    monkeypatch.setenv("LOUPE_JUDGE_MODEL", "llama-3.1-70b")
    monkeypatch.setenv("LOUPE_JUDGE_API_KEY", "k-env")
    cfg = JudgeClientConfig(model="gpt-4.1").resolved()
    assert (cfg.base_url, cfg.model, cfg.api_key) == ("http://judge.internal/v1", "gpt-4.1", "k-env")
    a, b = LLMJudge("toxicity"), LLMJudge("helpfulness")
    assert a.limiter is b.limiter is limiter_for("http://judge.internal/v1")
